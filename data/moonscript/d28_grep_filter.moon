-- mgrep: a small grep with -i, -v, -n, -c, -F, -C N and coloured matches

RED, RESET = "\27[1;31m", "\27[0m"

parse_args = (argv) ->
  opts = {context: 0, files: {}}
  i = 1
  while i <= #argv
    a = argv[i]
    if a == "-C"
      i += 1
      opts.context = tonumber(argv[i]) or 0
    elseif a\match "^%-%a+$"
      for flag in a\sub(2)\gmatch "."
        switch flag
          when "i" then opts.ignore_case = true
          when "v" then opts.invert = true
          when "n" then opts.numbers = true
          when "c" then opts.count = true
          when "F" then opts.fixed = true
          else error "unknown flag -#{flag}", 0
    elseif not opts.pattern
      opts.pattern = a
    else
      table.insert opts.files, a
    i += 1
  error "usage: mgrep [-ivncF] [-C N] PATTERN [FILE...]", 0 unless opts.pattern
  opts

-- escape magic characters so -F searches for the literal text
literal = (s) -> (s\gsub "[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")

make_matcher = (opts) ->
  pattern = if opts.fixed then literal(opts.pattern) else opts.pattern
  pattern = pattern\lower! if opts.ignore_case
  (line) ->
    subject = if opts.ignore_case then line\lower! else line
    subject\find(pattern) != nil

highlight = (line, opts) ->
  return line if opts.invert or opts.ignore_case or os.getenv "NO_COLOR"
  pattern = if opts.fixed then literal(opts.pattern) else opts.pattern
  (line\gsub pattern, (m) -> RED .. m .. RESET)

search = (handle, name, opts, matches) ->
  lines = [l for l in handle\lines!]
  shown, hits = {}, 0
  for n, line in ipairs lines
    ok = matches line
    ok = not ok if opts.invert
    continue unless ok
    hits += 1
    continue if opts.count
    -- print the surrounding context, but each line only once
    for j = math.max(1, n - opts.context), math.min(#lines, n + opts.context)
      continue if shown[j]
      shown[j] = true
      parts = {}
      table.insert parts, name .. ":" if #opts.files > 1
      table.insert parts, j .. ":" if opts.numbers
      text = if j == n then highlight(lines[j], opts) else lines[j]
      print table.concat(parts) .. text
  print "#{name}: #{hits}" if opts.count
  hits

main = ->
  opts = parse_args arg
  matches = make_matcher opts
  total = 0
  if #opts.files == 0
    total += search io.stdin, "(stdin)", opts, matches
  for path in *opts.files
    f, err = io.open path, "r"
    if f
      total += search f, path, opts, matches
      f\close!
    else
      io.stderr\write "mgrep: #{err}\n"
  if total > 0 then 0 else 1

ok, code = pcall main
unless ok
  io.stderr\write "mgrep: #{code}\n"
  code = 2
os.exit code
