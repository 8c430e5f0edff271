-- Dense matrices with the usual operators and a determinant
import abs, floor from math
import concat from table
import format from string

class Matrix
  new: (@rows, @cols, fill = 0) =>
    for i = 1, @rows
      self[i] = [fill for _ = 1, @cols]

  @identity: (n) =>
    m = Matrix n, n
    for i = 1, n
      m[i][i] = 1
    m

  @from_rows: (t) =>
    m = Matrix #t, #t[1]
    for i, row in ipairs t
      for j, v in ipairs row
        m[i][j] = v
    m

  map: (fn) =>
    out = Matrix @rows, @cols
    for i = 1, @rows
      for j = 1, @cols
        out[i][j] = fn self[i][j], i, j
    out

  transpose: =>
    out = Matrix @cols, @rows
    for i = 1, @rows
      for j = 1, @cols
        out[j][i] = self[i][j]
    out

  __add: (other) =>
    assert @rows == other.rows and @cols == other.cols, "shape mismatch"
    @map (v, i, j) -> v + other[i][j]

  __sub: (other) => self + other * -1

  __mul: (other) =>
    if type(other) == "number"
      return @map (v) -> v * other
    assert @cols == other.rows, "cannot multiply #{@rows}x#{@cols} by #{other.rows}x#{other.cols}"
    out = Matrix @rows, other.cols
    for i = 1, @rows
      for j = 1, other.cols
        sum = 0
        for k = 1, @cols
          sum += self[i][k] * other[k][j]
        out[i][j] = sum
    out

  determinant: =>
    assert @rows == @cols, "square matrix required"
    n = @rows
    a = [ [self[i][j] for j = 1, n] for i = 1, n]
    det = 1
    for col = 1, n
      pivot = col
      for r = col + 1, n
        pivot = r if abs(a[r][col]) > abs(a[pivot][col])
      return 0 if a[pivot][col] == 0
      if pivot != col
        a[pivot], a[col] = a[col], a[pivot]
        det = -det
      det *= a[col][col]
      for r = col + 1, n
        f = a[r][col] / a[col][col]
        for c = col, n
          a[r][c] -= f * a[col][c]
    det

  __tostring: =>
    lines = for i = 1, @rows
      cells = [format("%7.2f", v) for v in *self[i]]
      concat cells, " "
    concat lines, "\n"

-- 2D rotation helper for the sprite demos
Matrix.rotation = (theta) ->
  c, s = math.cos(theta), math.sin(theta)
  Matrix\from_rows {
    {c, -s}
    {s, c}
  }

return Matrix
