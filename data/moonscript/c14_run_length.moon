-- Run-length encoding for strings ("aaab" -> "3ab") and for plain lists
import insert, concat from table

-- compact mode leaves out the count for runs of length one
encode = (s, compact = false) ->
  assert not s\find("%d"), "digits cannot be run-length encoded here"
  return "" if s == ""
  out = {}
  flush = (ch, run) ->
    if compact and run == 1
      insert out, ch
    else
      insert out, run .. ch
  current, run = s\sub(1, 1), 1
  for i = 2, #s
    ch = s\sub i, i
    if ch == current
      run += 1
    else
      flush current, run
      current, run = ch, 1
  flush current, run
  concat out

decode = (s) ->
  parts = {}
  for count, ch in s\gmatch "(%d*)(%D)"
    n = if count == "" then 1 else tonumber count
    insert parts, ch\rep n
  concat parts

-- run-length list: stores {value, count} pairs but behaves like an array
class Runs
  new: (list = {}) =>
    @runs = {}
    @push v for v in *list

  push: (value, n = 1) =>
    last = @runs[#@runs]
    if last and last.value == value
      last.count += n
    else
      insert @runs, {:value, count: n}
    @

  length: =>
    total = 0
    total += r.count for r in *@runs
    total

  -- random access walks the runs instead of expanding them
  at: (i) =>
    for r in *@runs
      return r.value if i <= r.count
      i -= r.count
    nil

  expand: =>
    out = {}
    for r in *@runs
      insert out, r.value for _ = 1, r.count
    out

  ratio: => #@runs / math.max(1, @length!)


for sample in *{"WWWWWWWWWWWWBWWWWWWWWWWWWBBBWWWW", "abc", "zzzzzz"}
  packed = encode sample, true
  assert decode(packed) == sample, "round trip failed"
  print "#{sample} -> #{packed} (#{#packed}/#{#sample})"

print "verbose: #{encode 'aabccc'}"

row = Runs {0, 0, 0, 1, 1, 0, 0, 0, 0, 2}
print "runs: #{#row.runs}, length: #{row\length!}, item 5: #{row\at 5}"
print "expanded: " .. concat(row\expand!, ",")
print string.format "compression ratio %.2f", row\ratio!

{ :encode, :decode, :Runs }
