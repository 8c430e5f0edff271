-- Leveled logger with pluggable sinks and child loggers

LEVELS = { "trace", "debug", "info", "warn", "error", "fatal" }
LEVEL_INDEX = {name, i for i, name in ipairs LEVELS}

COLORS = {
  trace: "\27[90m"
  debug: "\27[36m"
  info: "\27[32m"
  warn: "\27[33m"
  error: "\27[31m"
  fatal: "\27[35m"
}


class Sink
  write: (record, line) => error "#{@@__name} must implement write"


class ConsoleSink extends Sink
  new: (@color = true) =>

  write: (record, line) =>
    if @color
      io.stderr\write COLORS[record.level], line, "\27[0m\n"
    else
      io.stderr\write line, "\n"


class MemorySink extends Sink
  new: (@max = 200) =>
    @lines = {}

  write: (record, line) =>
    table.insert @lines, line
    table.remove @lines, 1 if #@lines > @max


class Logger
  @default_format: (record) ->
    stamp = os.date "%H:%M:%S", record.time
    "#{stamp} [#{record.level\upper!}] #{record.name} → #{record.message}"

  new: (@name = "app", opts = {}) =>
    @level = opts.level or "info"
    @sinks = opts.sinks or { ConsoleSink! }
    @formatter = opts.format or @@default_format
    @context = {}

  child: (name, fields = {}) =>
    log = Logger "#{@name}.#{name}", level: @level, sinks: @sinks, format: @formatter
    log.context = {k, v for k, v in pairs @context}
    log.context[k] = v for k, v in pairs fields
    log

  enabled: (level) => LEVEL_INDEX[level] >= LEVEL_INDEX[@level]

  log: (level, fmt, ...) =>
    return false unless @enabled level
    message = if select("#", ...) > 0 then string.format(fmt, ...) else tostring fmt
    if next @context
      extras = ["#{k}=#{v}" for k, v in pairs @context]
      table.sort extras
      message ..= " {" .. table.concat(extras, " ") .. "}"
    record = { :level, :message, name: @name, time: os.time! }
    format = @formatter
    line = format record
    sink\write record, line for sink in *@sinks
    true


-- generate logger\info, logger\warn, ... methods
for level in *LEVELS
  Logger.__base[level] = (...) => @log level, ...


memory = MemorySink 50
log = Logger "server", level: "debug", sinks: { ConsoleSink(false), memory }
log\info "listening on port %d", 8080
db_log = log\child "db", pool: 4
db_log\debug "connected to %s", "postgres"
db_log\trace "this message is filtered out"
log\warn "disk usage at %d%%", 91
print "captured #{#memory.lines} lines"

{ :Logger, :Sink, :ConsoleSink, :MemorySink, :LEVELS }
