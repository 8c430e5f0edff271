-- Everyday string helpers: split, trim, pad, wrap and friends
import insert, concat from table

escape_pattern = (s) -> (s\gsub "[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")

split = (s, sep = ",", plain = true) ->
  assert #sep > 0, "separator must not be empty"
  parts = {}
  pattern = if plain then escape_pattern(sep) else sep
  start = 1
  while true
    i, j = s\find pattern, start
    unless i
      insert parts, s\sub(start)
      break
    insert parts, s\sub(start, i - 1)
    start = j + 1
  parts

trim = (s) -> s\match "^%s*(.-)%s*$"

pad_left = (s, width, ch = " ") -> ch\rep(width - #s) .. s

pad_right = (s, width, ch = " ") -> s .. ch\rep(width - #s)

center = (s, width, ch = " ") ->
  total = width - #s
  return s if total <= 0
  left = math.floor total / 2
  ch\rep(left) .. s .. ch\rep(total - left)

starts_with = (s, prefix) -> s\sub(1, #prefix) == prefix

ends_with = (s, suffix) -> suffix == "" or s\sub(-#suffix) == suffix

-- greedy word wrap; a word longer than the width gets a line of its own
wrap = (text, width = 40) ->
  lines, current = {}, ""
  for word in text\gmatch "%S+"
    if current == ""
      current = word
    elseif #current + 1 + #word <= width
      current ..= " " .. word
    else
      insert lines, current
      current = word
  insert lines, current if current != ""
  lines

title_case = (s) ->
  (s\gsub "(%a)([%w']*)", (first, rest) -> first\upper! .. rest\lower!)

slugify = (s) ->
  slug = s\lower!\gsub("[^%w%s%-]", "")\gsub("[%s%-]+", "-")
  slug = slug\gsub("^%-", "")\gsub("%-$", "")
  slug

truncate = (s, n, ellipsis = "...") ->
  return s if #s <= n
  s\sub(1, n - #ellipsis) .. ellipsis


fields = split "name, age ,, city", ","
print concat(["[#{trim f}]" for f in *fields], " ")
print "path parts: " .. concat(split("usr/local/lib", "/"), " | ")
print "#{pad_left '42', 6, '0'} #{pad_right 'id', 6, '.'}| #{center 'menu', 12, '*'}"
print title_case "the QUICK brown fox's tale"
print slugify "  Hello, World -- MoonScript Tips!  "
print truncate "A very long headline about string helpers", 24
print "starts: #{starts_with 'moonscript', 'moon'}, ends: #{ends_with 'moonscript', 'lua'}"

blurb = "MoonScript compiles to Lua and keeps the syntax light, with classes, comprehensions and implicit returns everywhere."
for line in *wrap(blurb, 32)
  print "| " .. pad_right(line, 32) .. " |"

{ :split, :trim, :pad_left, :pad_right, :center, :wrap, :title_case, :slugify, :truncate }
