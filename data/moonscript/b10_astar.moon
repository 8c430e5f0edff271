-- A* path finding over a 2D grid (0 = floor, 1 = wall)
import insert, remove from table
import abs, floor from math

class Heap
  new: (cmp) =>
    @cmp = cmp or (a, b) -> a < b
    @items = {}

  empty: => #@items == 0

  push: (v) =>
    items, cmp = @items, @cmp
    insert items, v
    i = #items
    while i > 1
      parent = floor i / 2
      break unless cmp items[i], items[parent]
      items[i], items[parent] = items[parent], items[i]
      i = parent

  pop: =>
    items, cmp = @items, @cmp
    top = items[1]
    last = remove items
    n = #items
    if n > 0
      items[1] = last
      i = 1
      while true
        l, r = i * 2, i * 2 + 1
        best = i
        best = l if l <= n and cmp items[l], items[best]
        best = r if r <= n and cmp items[r], items[best]
        break if best == i
        items[i], items[best] = items[best], items[i]
        i = best
    top

key = (x, y) -> "#{x},#{y}"

manhattan = (ax, ay, bx, by) -> abs(ax - bx) + abs(ay - by)

NEIGHBORS = {
  {1, 0}, {-1, 0}
  {0, 1}, {0, -1}
}

find_path = (grid, sx, sy, gx, gy, heuristic = manhattan) ->
  walkable = (x, y) -> grid[y] and grid[y][x] == 0
  open = Heap (a, b) -> a.f < b.f
  open\push {x: sx, y: sy, g: 0, f: heuristic(sx, sy, gx, gy)}
  cost = {[key(sx, sy)]: 0}

  while not open\empty!
    current = open\pop!
    {:x, :y, :g} = current
    if x == gx and y == gy
      path = {}
      node = current
      while node
        insert path, 1, {node.x, node.y}
        node = node.parent
      return path
    continue if g > cost[key(x, y)]
    for {dx, dy} in *NEIGHBORS
      nx, ny = x + dx, y + dy
      continue unless walkable nx, ny
      k = key nx, ny
      ng = g + 1
      if cost[k] == nil or ng < cost[k]
        cost[k] = ng
        open\push {x: nx, y: ny, g: ng, f: ng + heuristic(nx, ny, gx, gy), parent: current}
  nil

GRID = {
  {0, 0, 0, 0, 0}
  {1, 1, 0, 1, 0}
  {0, 0, 0, 1, 0}
  {0, 1, 1, 1, 0}
  {0, 0, 0, 0, 0}
}

if path = find_path GRID, 1, 1, 1, 5
  steps = ["(#{p[1]},#{p[2]})" for p in *path]
  print table.concat steps, " -> "

return { :Heap, :find_path, :manhattan }
