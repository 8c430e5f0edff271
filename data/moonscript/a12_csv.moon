-- CSV reader and writer that handles quoted fields

import insert, concat from table


parse_line = (line, sep = ",") ->
  fields = {}
  pos = 1
  while true
    if line\sub(pos, pos) == '"'
      -- quoted field: doubled quotes are escapes
      buf = {}
      i = pos + 1
      while true
        c = line\sub i, i
        if c == ""
          error "unterminated quote in: #{line}"
        elseif c == '"'
          if line\sub(i + 1, i + 1) == '"'
            insert buf, '"'
            i += 2
          else
            i += 1
            break
        else
          insert buf, c
          i += 1
      insert fields, concat buf
      pos = i + 1
    else
      stop = line\find sep, pos, true
      insert fields, line\sub pos, (stop or 0) - 1
      pos = stop and stop + 1 or nil
    break unless pos and pos <= #line + 1
  fields


escape_field = (value, sep = ",") ->
  s = tostring value == nil and "" or value
  if s\find('[\n"]') or s\find(sep, 1, true)
    "\"" .. s\gsub('"', '""') .. "\""
  else
    s


read = (text, opts = {}) ->
  sep = opts.sep or ","
  rows = [parse_line(l, sep) for l in text\gmatch "[^\r\n]+"]
  return rows unless opts.header
  header = table.remove rows, 1
  [{name, row[i] for i, name in ipairs header} for row in *rows]


write = (rows, columns, sep = ",") ->
  header = concat [escape_field(c, sep) for c in *columns], sep
  out = { header }
  for row in *rows
    insert out, concat [escape_field(row[c], sep) for c in *columns], sep
  concat(out, "\n") .. "\n"


data = [[
name,city,score
"Smith, Jane",Lisbon,91
Bob,"São Paulo",78
"Ann ""Nan"" Lee",Oslo,85
]]

people = read data, header: true
for p in *people
  print "#{p.name} from #{p.city} scored #{p.score}"

high = [p for p in *people when tonumber(p.score) > 80]
io.write write high, { "name", "score" }

{ :parse_line, :escape_field, :read, :write }
