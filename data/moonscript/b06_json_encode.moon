-- Minimal JSON encoder with optional pretty printing
import concat, sort from table
import format from string

ESCAPES = {
  '"': '\\"'
  "\\": "\\\\"
  "\n": "\\n"
  "\r": "\\r"
  "\t": "\\t"
}

encode_string = (s) ->
  out = s\gsub '[%c"\\]', (c) -> ESCAPES[c] or format "\\u%04x", c\byte!
  '"' .. out .. '"'

is_array = (t) ->
  n = 0
  for k in pairs t
    return false unless type(k) == "number"
    n += 1
  n == #t

local encode

encode_table = (t, indent, depth, seen) ->
  error "cycle detected while encoding" if seen[t]
  seen[t] = true
  pad = indent and "\n" .. indent\rep(depth + 1) or ""
  close = indent and "\n" .. indent\rep(depth) or ""
  sep = indent and ": " or ":"
  arr = is_array t
  parts = if arr
    [encode(v, indent, depth + 1, seen) for v in *t]
  else
    keys = [k for k in pairs t]
    sort keys, (a, b) -> tostring(a) < tostring(b)
    [encode_string(tostring k) .. sep .. encode(t[k], indent, depth + 1, seen) for k in *keys]
  seen[t] = nil
  return (arr and "[]" or "{}") if #parts == 0
  body = concat parts, "," .. pad
  if arr
    "[#{pad}#{body}#{close}]"
  else
    "{#{pad}#{body}#{close}}"

encode = (value, indent, depth = 0, seen = {}) ->
  switch type(value)
    when "nil" then "null"
    when "boolean" then tostring value
    when "number"
      if value != value or value == math.huge or value == -math.huge
        "null"
      elseif value % 1 == 0
        format "%d", value
      else
        format "%.14g", value
    when "string" then encode_string value
    when "table" then encode_table value, indent, depth, seen
    else
      error "cannot encode a #{type value}"

pretty = (value, indent = "  ") -> encode value, indent

-- quick self check, prints the same document twice
if ... == nil
  doc =
    name: "moon"
    tags: {"lua", "lang"}
    meta: { stars: 3200, ratio: 0.75, ok: true }
  print encode doc
  print pretty doc

return { :encode, :pretty, :is_array, :encode_string }
