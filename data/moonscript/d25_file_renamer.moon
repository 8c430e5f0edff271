-- Batch file renamer: Lua patterns, sequence numbers and a dry run by default

lfs = require "lfs"

usage = ->
  print "usage: rename [--apply] [--dir DIR] [--start N] PATTERN REPLACEMENT"
  print "  REPLACEMENT may use %1..%9 captures and {n} for a running counter"
  os.exit 2

parse_args = (argv) ->
  opts = {dir: ".", apply: false, start: 1, width: 3}
  positional = {}
  i = 1
  while i <= #argv
    a = argv[i]
    switch a
      when "--apply"
        opts.apply = true
      when "--dir"
        i += 1
        opts.dir = argv[i]
      when "--start"
        i += 1
        opts.start = tonumber(argv[i]) or usage!
      else
        table.insert positional, a
    i += 1
  usage! if #positional != 2
  opts.pattern, opts.replacement = positional[1], positional[2]
  opts

list_files = (dir) ->
  files = {}
  for name in lfs.dir dir
    if lfs.attributes("#{dir}/#{name}", "mode") == "file"
      table.insert files, name
  table.sort files
  files

plan = (opts) ->
  counter = opts.start
  moves, targets, sources = {}, {}, {}
  names = list_files opts.dir
  for name in *names
    continue unless name\match opts.pattern
    num = string.format "%0#{opts.width}d", counter
    replacement = opts.replacement\gsub "{n}", num
    new_name = name\gsub opts.pattern, replacement, 1
    counter += 1
    continue if new_name == name
    if targets[new_name]
      return nil, "both #{targets[new_name]} and #{name} would become #{new_name}"
    targets[new_name] = name
    sources[name] = true
    table.insert moves, {src: name, dst: new_name}
  -- refuse to overwrite a file that is not itself being moved away
  for m in *moves
    exists = lfs.attributes "#{opts.dir}/#{m.dst}"
    if exists and not sources[m.dst]
      return nil, "#{m.dst} already exists"
  moves

apply = (opts, moves) ->
  -- two phases, so chains like a -> b and b -> c never clobber each other
  for i, m in ipairs moves
    m.tmp = "#{opts.dir}/.rename-tmp-#{i}"
    assert os.rename("#{opts.dir}/#{m.src}", m.tmp)
  for m in *moves
    assert os.rename(m.tmp, "#{opts.dir}/#{m.dst}")

opts = parse_args arg
moves, err = plan opts
unless moves
  io.stderr\write "error: #{err}\n"
  os.exit 1

width = 0
width = math.max width, #m.src for m in *moves
for m in *moves
  print string.format("%-#{width}s  ->  %s", m.src, m.dst)

if #moves == 0
  print "nothing matches #{opts.pattern}"
elseif opts.apply
  apply opts, moves
  print "renamed #{#moves} files"
else
  print "(dry run: pass --apply to rename #{#moves} files)"
