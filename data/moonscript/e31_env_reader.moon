-- Typed environment variables with defaults, plus a .env file parser.
-- Problems are collected rather than raised, so a service can report
-- every misconfiguration at startup.
import insert, concat from table

parse_dotenv = (text) ->
  vars = {}
  for line in text\gmatch "[^\r\n]+"
    line = line\match("^%s*(.-)%s*$")\gsub "^export%s+", ""
    continue if line == "" or line\sub(1, 1) == "#"
    key, value = line\match "^([%w_]+)%s*=%s*(.*)$"
    continue unless key
    quote = value\sub 1, 1
    if (quote == '"' or quote == "'") and #value > 1 and value\sub(-1) == quote
      value = value\sub 2, -2
      value = value\gsub("\\n", "\n") if quote == '"'
    else
      -- unquoted values may carry a trailing comment
      value = value\gsub "%s+#.*$", ""
    vars[key] = value
  vars

class Env
  new: (opts = {}) =>
    @prefix = opts.prefix or ""
    @getenv = opts.getenv or os.getenv
    @overlay = opts.overlay or {}
    @problems = {}

  raw: (name) =>
    full = @prefix .. name
    value = @overlay[full]
    value = @getenv full if value == nil
    value, full

  problem: (msg) =>
    insert @problems, msg
    nil

  string: (name, default) =>
    value, full = @raw name
    return value if value != nil and value != ""
    return default if default != nil
    @problem "#{full} is required"

  number: (name, default) =>
    value, full = @raw name
    return default if value == nil
    tonumber(value) or @problem "#{full} must be a number, got '#{value}'"

  boolean: (name, default = false) =>
    value, full = @raw name
    return default if value == nil
    switch value\lower!
      when "1", "true", "yes", "on" then true
      when "0", "false", "no", "off" then false
      else @problem "#{full} must be a boolean, got '#{value}'"

  list: (name, default = {}) =>
    value = @raw name
    return default if value == nil
    [item\match "^%s*(.-)%s*$" for item in value\gmatch "[^,]+"]

  one_of: (name, choices, default) =>
    value = @string name, default
    for c in *choices
      return value if c == value
    @problem "#{@prefix}#{name} must be one of #{concat choices, '/'}"

  check: =>
    return true if #@problems == 0
    false, concat(@problems, "\n")

-- demo
dotenv = parse_dotenv [[
# service settings
APP_PORT=8080
APP_HOST = "0.0.0.0"
export APP_DEBUG=yes
APP_WORKERS=four   # oops
APP_ORIGINS=https://a.example, https://b.example
APP_GREETING="hello\nworld"
]]

env = Env prefix: "APP_", overlay: dotenv, getenv: -> nil
config = {
  port: env\number "PORT", 3000
  host: env\string "HOST"
  debug: env\boolean "DEBUG"
  workers: env\number "WORKERS", 2
  origins: env\list "ORIGINS"
  mode: env\one_of "MODE", { "dev", "prod" }, "dev"
  secret: env\string "SECRET"
}

print "port=#{config.port} host=#{config.host} debug=#{config.debug}"
print "origins: #{concat config.origins, ' | '}"
print "greeting: #{dotenv.APP_GREETING}"
ok, report = env\check!
print ok and "environment ok" or "problems:\n#{report}"

{ :Env, :parse_dotenv }
