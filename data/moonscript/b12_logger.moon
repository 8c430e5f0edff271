-- Leveled logger with pluggable sinks
import format from string
import insert, remove from table

LEVELS = {"debug", "info", "warn", "error"}
RANK = {name, i for i, name in ipairs LEVELS}

class Sink
	write: (record) => error "#{@@__name} must implement write"

class ConsoleSink extends Sink
	colors: {
		debug: "\27[90m"
		info: "\27[36m"
		warn: "\27[33m"
		error: "\27[31m"
	}

	new: (@use_color = true, @stream = io.stderr) =>

	write: (record) =>
		line = "#{record.time} #{record.level\upper!} [#{record.name}] #{record.message}"
		if @use_color
			line = @colors[record.level] .. line .. "\27[0m"
		@stream\write line, "\n"

class MemorySink extends Sink
	new: (@limit = 100) =>
		@records = {}

	write: (record) =>
		insert @records, record
		while #@records > @limit
			remove @records, 1

	messages: => [r.message for r in *@records]

class Logger
	@root = nil

	new: (@name = "app", @level = "info", @sinks = {}) =>

	add_sink: (sink) =>
		insert @sinks, sink
		@

	enabled: (level) => RANK[level] >= RANK[@level]

	log: (level, fmt, ...) =>
		return unless @enabled level
		message = if select("#", ...) > 0
			format fmt, ...
		else
			tostring fmt
		record = {
			time: os.date "%H:%M:%S"
			name: @name
			:level
			:message
		}
		sink\write record for sink in *@sinks
		record

	child: (suffix) =>
		Logger "#{@name}.#{suffix}", @level, @sinks

	@get: (name) =>
		@root = @root or Logger "root", "debug", {ConsoleSink!}
		if name then @root\child name else @root

-- generate logger\debug, logger\info, ... from the level list
for name in *LEVELS
	Logger.__base[name] = (fmt, ...) => @log name, fmt, ...

return { :Logger, :Sink, :ConsoleSink, :MemorySink, :LEVELS }
