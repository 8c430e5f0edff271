-- Structural diff and patch for nested tables. A diff is a list of
-- operations on key paths: it can be printed, inverted and applied.
import insert, concat, sort from table

sorted_keys = (a, b) ->
  seen, keys = {}, {}
  for t in *{ a, b }
    for k in pairs t
      unless seen[k]
        seen[k] = true
        insert keys, k
  -- stable order, even for mixed key types
  sort keys, (x, y) -> tostring(x) < tostring(y)
  keys

deep_copy = (v) ->
  return v unless type(v) == "table"
  {k, deep_copy(x) for k, x in pairs v}

diff = (a, b, path = {}, ops = {}) ->
  for key in *sorted_keys(a, b)
    before, after = a[key], b[key]
    p = [k for k in *path]
    insert p, key
    if before == nil
      insert ops, { op: "add", path: p, value: after }
    elseif after == nil
      insert ops, { op: "remove", path: p, value: before }
    elseif type(before) == "table" and type(after) == "table"
      diff before, after, p, ops
    elseif before != after
      insert ops, { op: "change", path: p, :before, :after }
  ops

walk_to = (root, path) ->
  node = root
  for i = 1, #path - 1
    node[path[i]] = {} unless type(node[path[i]]) == "table"
    node = node[path[i]]
  node, path[#path]

path_string = (path) -> concat [tostring k for k in *path], "."

patch = (target, ops, opts = {}) ->
  result = deep_copy target
  for op in *ops
    parent, key = walk_to result, op.path
    switch op.op
      when "add" then parent[key] = deep_copy op.value
      when "remove" then parent[key] = nil
      when "change"
        -- strict: never overwrite a changed value
        if opts.strict and parent[key] != op.before
          error "conflict at #{path_string op.path}", 0
        parent[key] = deep_copy op.after
  result

FLIP = { add: "remove", remove: "add", change: "change" }

-- undo a diff: flip each operation, in reverse order
invert = (ops) ->
  return for i = #ops, 1, -1
    op = ops[i]
    { op: FLIP[op.op], path: op.path, value: op.value, before: op.after, after: op.before }

show = (v) -> type(v) == "table" and "{...}" or string.format("%q", v)

format_ops = (ops) ->
  lines = for op in *ops
    where = path_string op.path
    switch op.op
      when "add" then "+ #{where} = #{show op.value}"
      when "remove" then "- #{where} (was #{show op.value})"
      else "~ #{where}: #{show op.before} -> #{show op.after}"
  concat lines, "\n"

-- demo
v1 = {
  name: "moon-app", version: "1.0.0"
  deps: { lpeg: "1.0", lfs: "1.8" }
  scripts: { build: "moonc src", test: "busted" }
}
v2 = {
  name: "moon-app", version: "1.1.0", license: "MIT"
  deps: { lpeg: "1.1", lua_cjson: "2.1" }
  scripts: { build: "moonc -t build src", test: "busted" }
}

changes = diff v1, v2
print format_ops changes
restored = patch patch(v1, changes), invert(changes)
print "round trip:", #diff(restored, v1) == 0
conflict = { { op: "change", path: { "version" }, before: "0.9", after: "2.0" } }
print "strict:", pcall patch, v1, conflict, strict: true

{ :diff, :patch, :invert, :format_ops }
