-- Sparse matrix in dictionary-of-rows form: rows[i][j] = value, zeros absent
import insert, concat from table

class SparseMatrix
  new: (rows, cols) =>
    @n_rows, @n_cols = rows, cols
    @rows = {}
    @nnz = 0   -- number of stored non-zero entries

  @identity: (n) =>
    m = SparseMatrix n, n
    m\set i, i, 1 for i = 1, n
    m

  get: (i, j) =>
    row = @rows[i]
    row and row[j] or 0

  set: (i, j, v) =>
    assert i >= 1 and i <= @n_rows and j >= 1 and j <= @n_cols, "index out of range"
    row = @rows[i]
    if v == 0
      if row and row[j] != nil
        row[j] = nil
        @nnz -= 1
        @rows[i] = nil unless next row
      return @
    unless row
      row = {}
      @rows[i] = row
    @nnz += 1 if row[j] == nil
    row[j] = v
    @

  -- iterate over stored entries only, in no particular order
  entries: =>
    coroutine.wrap ->
      for i, row in pairs @rows
        for j, v in pairs row
          coroutine.yield i, j, v

  mul_vector: (x) =>
    y = [0 for _ = 1, @n_rows]
    for i, j, v in @entries!
      y[i] += v * x[j]
    y

  transpose: =>
    t = SparseMatrix @n_cols, @n_rows
    t\set j, i, v for i, j, v in @entries!
    t

  __mul: (a, b) ->
    assert a.n_cols == b.n_rows, "dimension mismatch"
    out = SparseMatrix a.n_rows, b.n_cols
    for i, row in pairs a.rows
      for k, av in pairs row
        if brow = b.rows[k]
          for j, bv in pairs brow
            out\set i, j, out\get(i, j) + av * bv
    out

  density: => @nnz / (@n_rows * @n_cols)

  __tostring: =>
    lines = {}
    for i = 1, @n_rows
      insert lines, concat([string.format("%3s", @get(i, j)) for j = 1, @n_cols], " ")
    concat lines, "\n"


-- adjacency matrix of a small directed link graph
links = {{1, 2}, {1, 3}, {2, 3}, {3, 1}, {3, 4}, {4, 5}, {5, 3}}
A = SparseMatrix 5, 5
for {a, b} in *links
  A\set a, b, 1

print "adjacency (#{A.nnz} links, density #{string.format '%.2f', A\density!}):"
print A
two_step = A * A
print "two-step paths:"
print two_step
print "paths 1 -> 4 in two hops: #{two_step\get 1, 4}"

ones = {1, 1, 1, 1, 1}
print "out-degree: " .. concat(A\mul_vector(ones), " ")
print "in-degree:  " .. concat(A\transpose!\mul_vector(ones), " ")
print "A * I == A? #{tostring(A * SparseMatrix\identity(5)) == tostring(A)}"

{ :SparseMatrix }
