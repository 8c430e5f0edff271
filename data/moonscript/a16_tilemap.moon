-- Tile map grid with neighbors, flood fill and ASCII rendering

DIRECTIONS = {
  { 0, -1 }
  { 1, 0 }
  { 0, 1 }
  { -1, 0 }
}

TILE_CHARS = { wall: "#", floor: ".", water: "~", door: "+" }


class Grid
  new: (@width, @height, fill = "floor") =>
    @cells = [ [fill for _ = 1, @width] for _ = 1, @height ]

  @from_string: (str) =>
    lookup = {char, name for name, char in pairs TILE_CHARS}
    rows = [line for line in str\gmatch "[^\n]+"]
    grid = Grid #rows[1], #rows
    for y, line in ipairs rows
      for x = 1, #line
        grid\set x, y, lookup[line\sub(x, x)] or "floor"
    grid

  in_bounds: (x, y) =>
    x >= 1 and y >= 1 and x <= @width and y <= @height

  get: (x, y) =>
    @cells[y][x] if @in_bounds x, y

  set: (x, y, tile) =>
    @cells[y][x] = tile if @in_bounds x, y

  neighbors: (x, y) =>
    result = {}
    for {dx, dy} in *DIRECTIONS
      nx, ny = x + dx, y + dy
      table.insert result, { nx, ny } if @in_bounds nx, ny
    result

  flood_fill: (x, y, replacement) =>
    target = @get x, y
    return 0 if target == nil or target == replacement
    stack = { { x, y } }
    filled = 0
    while #stack > 0
      {cx, cy} = table.remove stack
      continue unless @get(cx, cy) == target
      @set cx, cy, replacement
      filled += 1
      table.insert stack, n for n in *@neighbors(cx, cy)
    filled

  count: (tile) =>
    total = 0
    for row in *@cells
      total += 1 for t in *row when t == tile
    total

  __tostring: =>
    lines = for row in *@cells
      table.concat [TILE_CHARS[t] or "?" for t in *row]
    table.concat lines, "\n"


room = Grid\from_string [[
##########
#....#...#
#....+...#
#....#...#
##########
]]

flooded = room\flood_fill 2, 2, "water"
print room
print "flooded #{flooded} tiles, #{room\count 'floor'} floor tiles remain"

Grid
