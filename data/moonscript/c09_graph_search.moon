-- Adjacency-list graph with breadth-first and depth-first traversals,
-- shortest hop paths, connected components and cycle detection
import insert, concat, sort from table

class Graph
  new: (directed = false) =>
    @directed = directed
    @adj = {}

  add_vertex: (v) =>
    @adj[v] or= {}
    @

  add_edge: (a, b) =>
    @add_vertex a
    @add_vertex b
    insert @adj[a], b
    insert @adj[b], a unless @directed
    @

  vertices: =>
    list = [v for v in pairs @adj]
    sort list, (a, b) -> tostring(a) < tostring(b)
    list

  -- visit order plus hop distance and parent pointers from start
  bfs: (start) =>
    order, dist, parent = {}, {[start]: 0}, {}
    queue, head = {start}, 1
    while head <= #queue
      v = queue[head]
      head += 1
      insert order, v
      for w in *@adj[v]
        if dist[w] == nil
          dist[w] = dist[v] + 1
          parent[w] = v
          insert queue, w
    order, dist, parent

  shortest_path: (src, dst) =>
    _, dist, parent = @bfs src
    return nil unless dist[dst]
    path = {dst}
    while path[1] != src
      insert path, 1, parent[path[1]]
    path

  dfs: (start, visit, seen = {}) =>
    seen[start] = true
    visit start
    for w in *@adj[start]
      @dfs w, visit, seen unless seen[w]
    seen

  components: =>
    seen, groups = {}, {}
    for v in *@vertices!
      unless seen[v]
        group = {}
        @dfs v, ((x) -> insert group, x), seen
        insert groups, group
    groups

  -- three-colour DFS; only meaningful for directed graphs
  has_cycle: =>
    assert @directed, "cycle check expects a directed graph"
    WHITE, GRAY, BLACK = 0, 1, 2
    color = {v, WHITE for v in pairs @adj}
    visit = (v) ->
      color[v] = GRAY
      for w in *@adj[v]
        return true if color[w] == GRAY
        return true if color[w] == WHITE and visit w
      color[v] = BLACK
      false
    for v in *@vertices!
      return true if color[v] == WHITE and visit v
    false


friends = Graph!
for {a, b} in *{{"ann", "bob"}, {"bob", "cat"}, {"cat", "dan"}, {"ann", "eve"}, {"fay", "gus"}}
  friends\add_edge a, b

order = friends\bfs "ann"
print "bfs from ann: #{concat order, ' '}"
print "ann -> dan: #{concat friends\shortest_path('ann', 'dan'), ' -> '}"
for i, group in ipairs friends\components!
  print "component #{i}: #{concat group, ', '}"

deps = Graph true
deps\add_edge("parse", "lex")\add_edge("check", "parse")\add_edge "emit", "check"
print "cycle? #{deps\has_cycle!}"
deps\add_edge "lex", "emit"
print "cycle after lex -> emit? #{deps\has_cycle!}"

{ :Graph }
