-- Line-based diff built on a longest-common-subsequence table, printed in
-- a compact unified style with a few lines of context around each change
import insert, concat from table
import max from math

split_lines = (text) ->
  lines = {}
  for line in (text .. "\n")\gmatch "(.-)\n"
    insert lines, line
  lines[#lines] = nil if lines[#lines] == "" and text\sub(-1) == "\n"
  lines

-- lcs[i][j] = length of the LCS of a[i..] and b[j..]
lcs_table = (a, b) ->
  t = {}
  for i = #a + 1, 1, -1
    t[i] = {}
    for j = #b + 1, 1, -1
      t[i][j] = if i > #a or j > #b
        0
      elseif a[i] == b[j]
        t[i + 1][j + 1] + 1
      else
        max t[i + 1][j], t[i][j + 1]
  t

diff = (a, b) ->
  t = lcs_table a, b
  ops = {}
  i, j = 1, 1
  while i <= #a or j <= #b
    if i <= #a and j <= #b and a[i] == b[j]
      insert ops, {kind: " ", text: a[i]}
      i, j = i + 1, j + 1
    elseif i <= #a and (j > #b or t[i + 1][j] >= t[i][j + 1])
      insert ops, {kind: "-", text: a[i]}
      i += 1
    else
      insert ops, {kind: "+", text: b[j]}
      j += 1
  ops

render = (ops, context = 1) ->
  -- mark every op that sits within `context` lines of a change
  show = {}
  for idx, op in ipairs ops
    if op.kind != " "
      for k = max(1, idx - context), math.min(#ops, idx + context)
        show[k] = true
  out = {}
  skipping = false
  for idx, op in ipairs ops
    if show[idx]
      insert out, "#{op.kind} #{op.text}"
      skipping = false
    elseif not skipping
      insert out, "  ..."
      skipping = true
  concat out, "\n"

stats = (ops) ->
  counts = {["+"]: 0, ["-"]: 0, [" "]: 0}
  counts[op.kind] += 1 for op in *ops
  counts["+"], counts["-"], counts[" "]


before_text = [[
local function greet(name)
  print("hello " .. name)
end

greet("world")
greet("moon")
return greet
]]

after_text = [[
local function greet(name, punct)
  punct = punct or "!"
  print("hello " .. name .. punct)
end

greet("world")
greet("moon")
greet("lua", "?")
return greet
]]

ops = diff split_lines(before_text), split_lines(after_text)
print render ops, 1
added, removed, same = stats ops
print "+#{added} -#{removed} (#{same} unchanged)"

{ :diff, :render, :split_lines }
