-- Finite state machine, demonstrated with a door controller

class StateMachine
	new: (opts = {}) =>
		@current = opts.initial or "none"
		@transitions = {}
		@callbacks = opts.callbacks or {}
		for ev in *(opts.events or {})
			@add_transition ev.name, ev.src, ev.dst

	add_transition: (name, sources, target) =>
		@transitions[name] or= {}
		sources = { sources } unless type(sources) == "table"
		@transitions[name][state] = target for state in *sources
		@[name] = (...) => @fire name, ...

	can: (name) =>
		map = @transitions[name]
		map != nil and (map[@current] != nil or map["*"] != nil)

	fire: (name, ...) =>
		unless @can name
			return false, "cannot #{name} while #{@current}"
		map = @transitions[name]
		target = map[@current] or map["*"]
		previous = @current
		if cb = @callbacks["leave_#{previous}"]
			return false, "cancelled" if cb(@, name, ...) == false
		@current = target
		if cb = @callbacks["enter_#{target}"]
			cb @, name, previous, ...
		true

	is: (state) => @current == state

	available: =>
		[name for name in pairs @transitions when @can name]


door = StateMachine {
	initial: "closed"
	events: {
		{ name: "open", src: "closed", dst: "opened" }
		{ name: "close", src: "opened", dst: "closed" }
		{ name: "lock", src: "closed", dst: "locked" }
		{ name: "unlock", src: "locked", dst: "closed" }
		{ name: "smash", src: "*", dst: "broken" }
	}
	callbacks: {
		enter_opened: (fsm) -> print "the door creaks open"
		leave_locked: (fsm, event, key) ->
			if key != "brass"
				print "wrong key: #{key}"
				return false
		enter_broken: (fsm, event, prev) -> print "door was #{prev}, now it is broken"
	}
}

door\lock!
ok, err = door\unlock "iron"
print err unless ok
door\unlock "brass"
door\open!
print "state: #{door.current}, can close? #{door\can 'close'}"
door\smash!
print "is broken: #{door\is 'broken'}"

{ :StateMachine }
