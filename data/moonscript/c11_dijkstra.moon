-- Dijkstra's shortest paths on a weighted road map, with route reconstruction
import insert, remove, concat, sort from table
import floor, huge from math

-- minimal array heap of {dist, node} pairs, kept as plain functions
heap_push = (h, item) ->
  insert h, item
  i = #h
  while i > 1
    p = floor i / 2
    break if h[p][1] <= h[i][1]
    h[p], h[i] = h[i], h[p]
    i = p

heap_pop = (h) ->
  top = h[1]
  last = remove h
  if #h > 0
    h[1] = last
    i, n = 1, #h
    while true
      s = i
      for c in *{2 * i, 2 * i + 1}
        s = c if c <= n and h[c][1] < h[s][1]
      break if s == i
      h[s], h[i] = h[i], h[s]
      i = s
  top

class RoadMap
  new: =>
    @roads = {}

  connect: (a, b, km, one_way = false) =>
    @roads[a] or= {}
    @roads[b] or= {}
    @roads[a][b] = km
    @roads[b][a] = km unless one_way
    @

  shortest: (source) =>
    dist, prev = {[source]: 0}, {}
    frontier = {}
    heap_push frontier, {0, source}
    while #frontier > 0
      {d, town} = heap_pop frontier
      -- stale entry: a shorter distance was already found
      continue if d > (dist[town] or huge)
      for next_town, km in pairs @roads[town]
        alt = d + km
        if alt < (dist[next_town] or huge)
          dist[next_town] = alt
          prev[next_town] = town
          heap_push frontier, {alt, next_town}
    dist, prev

  route: (a, b) =>
    dist, prev = @shortest a
    return nil, "no route from #{a} to #{b}" unless dist[b]
    path = {b}
    while path[1] != a
      insert path, 1, prev[path[1]]
    path, dist[b]


map = with RoadMap!
  \connect "Ashford", "Bexley", 7
  \connect "Ashford", "Carlow", 9
  \connect "Ashford", "Fenwick", 14
  \connect "Bexley", "Carlow", 10
  \connect "Bexley", "Dunmore", 15
  \connect "Carlow", "Dunmore", 11
  \connect "Carlow", "Fenwick", 2
  \connect "Dunmore", "Eastbay", 6
  \connect "Fenwick", "Eastbay", 9
  \connect "Glen", "Ashford", 3, true

path, km = map\route "Ashford", "Eastbay"
print "#{concat path, ' -> '} (#{km} km)"

dist = map\shortest "Bexley"
towns = [t for t in pairs dist]
sort towns, (a, b) -> dist[a] < dist[b]
print "  #{t}: #{dist[t]}" for t in *towns

_, err = map\route "Ashford", "Glen"
print err

{ :RoadMap }
