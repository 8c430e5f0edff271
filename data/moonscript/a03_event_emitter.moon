-- Minimal event emitter with once-handlers and wildcard listeners

unpack = table.unpack or unpack


class EventEmitter
	new: =>
		@handlers = {}
		@wildcards = {}

	on: (name, fn) =>
		if name == "*"
			table.insert @wildcards, fn
		else
			@handlers[name] or= {}
			table.insert @handlers[name], fn
		fn

	once: (name, fn) =>
		local wrapper
		wrapper = (...) ->
			@off name, wrapper
			fn ...
		@on name, wrapper

	off: (name, fn) =>
		list = @handlers[name]
		return unless list
		if fn == nil
			@handlers[name] = nil
			return
		@handlers[name] = [h for h in *list when h != fn]

	emit: (name, ...) =>
		count = 0
		if list = @handlers[name]
			-- copy first so handlers may unsubscribe while we iterate
			snapshot = [h for h in *list]
			for h in *snapshot
				h ...
				count += 1
		w name, ... for w in *@wildcards
		count

	listener_count: (name) =>
		list = @handlers[name]
		list and #list or 0

	event_names: =>
		[name for name, list in pairs @handlers when #list > 0]


class Channel extends EventEmitter
	new: (@topic) =>
		super!
		@history = {}

	emit: (name, ...) =>
		table.insert @history, { :name, args: {...} }
		super name, ...

	replay: (fn) =>
		fn entry.name, unpack entry.args for entry in *@history


chat = Channel "general"
chat\on "message", (user, text) -> print "#{user}: #{text}"
chat\once "join", (user) -> print "welcome #{user}!"
chat\on "*", (event) -> print "[#{chat.topic}] event: #{event}"

chat\emit "join", "ana"
chat\emit "join", "bo"
chat\emit "message", "ana", "hello there"
print "join listeners left: #{chat\listener_count 'join'}"

{ :EventEmitter, :Channel }
