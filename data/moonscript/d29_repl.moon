-- A small Lua REPL: multi-line input, :commands, history and pretty results

unpack = unpack or table.unpack
loader = loadstring or load

pretty = (value, depth = 0, seen = {}) ->
  switch type value
    when "string"
      string.format "%q", value
    when "table"
      return "<cycle>" if seen[value]
      return "{...}" if depth > 2
      seen[value] = true
      parts = {}
      for i, v in ipairs value
        table.insert parts, pretty v, depth + 1, seen
      for k, v in pairs value
        continue if type(k) == "number" and k >= 1 and k <= #value
        table.insert parts, "#{tostring k} = #{pretty v, depth + 1, seen}"
      "{" .. table.concat(parts, ", ") .. "}"
    else
      tostring value

class Repl
  new: (@prompt = "> ", @more = ">> ") =>
    @history = {}
    @buffer = {}
    @env = setmetatable {}, __index: _G
    @env._ = nil
    @commands = {
      help: -> print "commands: :help :history :clear :env :quit"
      history: -> print "#{i}  #{line}" for i, line in ipairs @history
      clear: -> @history = {}
      env: -> print k for k in pairs @env
      quit: -> @running = false
    }

  -- "return expr" first, so bare expressions print their value
  compile: (src) =>
    fn, err = loader "return " .. src, "=repl"
    fn, err = loader src, "=repl" unless fn
    if fn and setfenv
      setfenv fn, @env
    fn, err

  incomplete: (err) => err and err\match("<eof>") != nil

  eval: (line) =>
    table.insert @buffer, line
    src = table.concat @buffer, "\n"
    fn, err = @compile src
    return if not fn and @incomplete err
    @buffer = {}
    table.insert @history, src
    unless fn
      print "syntax error: #{err}"
      return
    results = {pcall fn}
    ok = table.remove results, 1
    unless ok
      print "error: #{results[1]}"
      return
    if #results > 0
      @env._ = results[1]
      print table.concat([pretty r for r in *results], "\t")

  run: (input = io.stdin) =>
    @running = true
    while @running
      io.write if #@buffer > 0 then @more else @prompt
      io.flush!
      line = input\read "*l"
      break unless line
      if cmd = line\match "^:(%a+)%s*$"
        handler = @commands[cmd]
        if handler then handler! else print "unknown command :#{cmd}"
      elseif line\match("^%s*$") and #@buffer == 0
        continue
      else
        @eval line
    print "bye"

Repl!\run!
