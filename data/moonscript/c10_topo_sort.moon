-- Topological ordering of build targets using Kahn's algorithm.
-- Targets in the same "wave" do not depend on each other and could
-- be built in parallel.
import insert, sort, concat from table

class DependencyGraph
  new: =>
    @deps = {}         -- target -> list of prerequisites
    @dependents = {}   -- prerequisite -> targets waiting on it

  target: (name, prerequisites = {}) =>
    @deps[name] or= {}
    @dependents[name] or= {}
    for p in *prerequisites
      @target p
      insert @deps[name], p
      insert @dependents[p], name
    @

  count: =>
    n = 0
    n += 1 for _ in pairs @deps
    n

  -- returns a list of waves, or nil plus the targets stuck in a cycle
  waves: =>
    indegree = {name, #list for name, list in pairs @deps}
    ready = [name for name, n in pairs indegree when n == 0]
    result, placed = {}, 0
    while #ready > 0
      sort ready
      insert result, ready
      placed += #ready
      nxt = {}
      for name in *ready
        for d in *@dependents[name]
          indegree[d] -= 1
          insert nxt, d if indegree[d] == 0
      ready = nxt
    if placed < @count!
      stuck = [name for name, n in pairs indegree when n > 0]
      sort stuck
      return nil, stuck
    result

  order: =>
    waves, stuck = @waves!
    return nil, stuck unless waves
    flat = {}
    for wave in *waves
      insert flat, name for name in *wave
    flat

  -- everything that must be rebuilt when `name` changes
  affected_by: (name, out = {}) =>
    for d in *(@dependents[name] or {})
      unless out[d]
        out[d] = true
        @affected_by d, out
    out


build = with DependencyGraph!
  \target "app", {"libui", "libnet", "config"}
  \target "libui", {"libcore"}
  \target "libnet", {"libcore", "ssl"}
  \target "tests", {"app"}
  \target "docs"

for i, wave in ipairs build\waves!
  print "wave #{i}: #{concat wave, ', '}"
print "serial order: " .. concat(build\order!, " -> ")

touched = [k for k in pairs build\affected_by "libcore"]
sort touched
print "changing libcore rebuilds: #{concat touched, ', '}"

build\target "libcore", {"tests"}   -- introduce a cycle on purpose
ok, stuck = build\order!
print "cycle among: #{concat stuck, ', '}" unless ok

{ :DependencyGraph }
