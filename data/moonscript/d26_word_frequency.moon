-- Word frequency report: top words and word pairs across files, minus stop words

import insert, sort, concat from table

stop_list = [[
  a an and are as at be but by for from has he in is it its of on or
  that the this to was were will with i you we they not have had his her
]]
STOP_WORDS = {w, true for w in stop_list\gmatch "%a+"}

class Report
  new: (@min_length = 3) =>
    @words = {}
    @pairs = {}
    @total = 0
    @files = 0

  add_text: (text) =>
    previous = nil
    for raw in text\gmatch "[%a']+"
      word = raw\lower!\gsub("^'+", "")\gsub("'+$", "")
      if #word < @min_length or STOP_WORDS[word]
        previous = nil
        continue
      @total += 1
      @words[word] = (@words[word] or 0) + 1
      if previous
        pair = "#{previous} #{word}"
        @pairs[pair] = (@pairs[pair] or 0) + 1
      previous = word

  add_file: (path) =>
    f, err = io.open path, "r"
    return nil, err unless f
    @add_text f\read "*a"
    f\close!
    @files += 1
    true

  top: (counts, n = 10) =>
    list = [{:key, :count} for key, count in pairs counts]
    sort list, (a, b) ->
      if a.count == b.count then a.key < b.key else a.count > b.count
    [list[i] for i = 1, math.min(n, #list)]

  print_table: (title, rows) =>
    print title
    return print "  (nothing)" if #rows == 0
    widest = rows[1].count
    for row in *rows
      pct = 100 * row.count / @total
      bar = string.rep "=", math.ceil(row.count / widest * 30)
      print string.format("  %-24s %6d %5.1f%% %s", row.key, row.count, pct, bar)


report = Report tonumber(os.getenv "MIN_LENGTH") or 3
paths = [a for a in *arg when a\sub(1, 1) != "-"]
if #paths == 0
  report\add_text io.read "*a"
else
  for path in *paths
    ok, err = report\add_file path
    io.stderr\write "skipping #{path}: #{err}\n" unless ok

unique = 0
unique += 1 for _ in pairs report.words
print "#{report.total} words, #{unique} distinct, from #{report.files} file(s)\n"
report\print_table "Top words", report\top(report.words, 15)
print!
report\print_table "Top pairs", report\top(report.pairs, 10)
