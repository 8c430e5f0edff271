-- Query-string encoding and decoding with repeated keys and bracket nesting,
-- e.g. "tag=a&tag=b&user[name]=Ann" -> {tag: {"a", "b"}, user: {name: "Ann"}}
import insert, concat, sort from table

encode_component = (s) ->
  s = tostring s
  (s\gsub "[^%w%-_%.~]", (c) -> string.format "%%%02X", c\byte!)

decode_component = (s) ->
  s = s\gsub "%+", " "
  (s\gsub "%%(%x%x)", (hex) -> string.char tonumber(hex, 16))

-- store value at a key path such as {"user", "roles", ""} ("" means append)
assign = (target, path, value) ->
  for i = 1, #path - 1
    key = path[i]
    if key == ""
      child = {}
      insert target, child
      target = child
    else
      target[key] = {} unless type(target[key]) == "table"
      target = target[key]
  last = path[#path]
  if last == ""
    insert target, value
  elseif target[last] == nil
    target[last] = value
  elseif type(target[last]) == "table"
    insert target[last], value
  else
    target[last] = {target[last], value}   -- a repeated key becomes a list

parse = (qs) ->
  result = {}
  qs = qs\gsub "^%?", ""
  for pair in qs\gmatch "[^&;]+"
    raw_key, raw_value = pair\match "^([^=]*)=?(.*)$"
    key = decode_component raw_key
    path = {key\match("^[^%[]+") or key}
    insert path, sub for sub in key\gmatch "%[([^%]]*)%]"
    assign result, path, decode_component raw_value
  result

-- keys are sorted so the output is stable and easy to compare in tests
build = (params, prefix) ->
  keys = [k for k in pairs params]
  sort keys, (a, b) -> tostring(a) < tostring(b)
  parts = {}
  for k in *keys
    v = params[k]
    name = tostring k
    if prefix
      name = if type(k) == "number" then "#{prefix}[]" else "#{prefix}[#{k}]"
    if type(v) == "table"
      nested = build v, name
      insert parts, nested if nested != ""
    else
      insert parts, "#{encode_component name}=#{encode_component v}"
  concat parts, "&"


params = parse "?q=moon+script&page=2&tag=lua&tag=dsl&user[name]=Ann%20Lee&user[roles][]=admin&user[roles][]=dev&empty="
print "q: #{params.q}, page: #{params.page}"
print "tags: #{concat params.tag, ', '}"
print "user: #{params.user.name}, roles: #{concat params.user.roles, '/'}"
print "empty is '#{params.empty}'"

query = build {
  search: "fish & chips"
  sort: "price"
  filters: {max: 20, veg: "yes"}
  ids: {3, 5}
}
print query
again = parse query
print "round trip: #{again.search} / ids #{concat again.ids, ','} / max #{again.filters.max}"
print encode_component "50% off: yes/no?"

{ :parse, :build, :encode_component, :decode_component }
