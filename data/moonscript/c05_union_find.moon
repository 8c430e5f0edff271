-- Disjoint-set forest with path compression and union by rank.
-- Used below to build a minimum spanning tree with Kruskal's algorithm.
import insert, sort from table

class UnionFind
  new: =>
    @parent = {}
    @rank = {}
    @sets = 0

  add: (x) =>
    unless @parent[x]
      @parent[x] = x
      @rank[x] = 0
      @sets += 1
    x

  find: (x) =>
    @add x
    root = x
    while @parent[root] != root
      root = @parent[root]
    -- second pass: point every node on the path straight at the root
    while @parent[x] != root
      nxt = @parent[x]
      @parent[x] = root
      x = nxt
    root

  union: (a, b) =>
    ra, rb = @find(a), @find(b)
    return false if ra == rb
    if @rank[ra] < @rank[rb]
      ra, rb = rb, ra
    @parent[rb] = ra
    @rank[ra] += 1 if @rank[ra] == @rank[rb]
    @sets -= 1
    true

  connected: (a, b) => @find(a) == @find(b)

  groups: =>
    out = {}
    for x in pairs @parent
      root = @find x
      out[root] or= {}
      insert out[root], x
    out

kruskal = (edges) ->
  sorted = [e for e in *edges]
  sort sorted, (a, b) -> a[3] < b[3]
  uf = UnionFind!
  tree, total = {}, 0
  for {u, v, w} in *sorted
    if uf\union u, v
      insert tree, {u, v, w}
      total += w
  tree, total


edges = {
  {"a", "b", 4}, {"a", "c", 1}, {"b", "c", 2}
  {"b", "d", 5}, {"c", "d", 8}, {"d", "e", 3}
}

tree, cost = kruskal edges
for {u, v, w} in *tree
  print "#{u} - #{v} (#{w})"
print "total weight: #{cost}"

uf = UnionFind!
uf\union "x", "y"
uf\union "y", "z"
uf\add "w"
print "x~z: #{uf\connected 'x', 'z'}, x~w: #{uf\connected 'x', 'w'}, sets: #{uf.sets}"
for root, members in pairs uf\groups!
  sort members
  print "group #{root}: #{table.concat members, ' '}"

{ :UnionFind, :kruskal }
