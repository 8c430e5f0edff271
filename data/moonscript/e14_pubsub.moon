-- Publish/subscribe bus with dotted topics and MQTT-like wildcards:
--   "*" matches exactly one segment, "#" matches all remaining segments.
-- Messages published with `retain` are replayed to late subscribers.
import insert, remove, concat from table

split = (topic) -> [seg for seg in topic\gmatch "[^%.]+"]

topic_matches = (pattern, topic) ->
	p, t = split(pattern), split(topic)
	for i, seg in ipairs p
		return true if seg == "#"
		return false if t[i] == nil
		return false unless seg == "*" or seg == t[i]
	#p == #t

class Bus
	new: =>
		@subs = {}
		@retained = {}
		@next_id = 0

	subscribe: (pattern, handler, opts = {}) =>
		@next_id += 1
		sub = { id: @next_id, :pattern, :handler, once: opts.once }
		insert @subs, sub
		for topic, payload in pairs @retained
			@deliver sub, topic, payload if topic_matches pattern, topic
		sub.id

	once: (pattern, handler) => @subscribe pattern, handler, once: true

	unsubscribe: (id) =>
		for i, sub in ipairs @subs
			if sub.id == id
				remove @subs, i
				return true
		false

	deliver: (sub, topic, payload) =>
		return false if sub.dead
		sub.dead = true if sub.once
		ok, err = pcall sub.handler, payload, topic
		io.stderr\write "subscriber #{sub.id} failed: #{err}\n" unless ok
		true

	publish: (topic, payload, opts = {}) =>
		@retained[topic] = payload if opts.retain
		count = 0
		-- iterate over a snapshot: handlers may subscribe or unsubscribe
		snapshot = [s for s in *@subs]
		for sub in *snapshot
			if topic_matches sub.pattern, topic
				count += 1 if @deliver sub, topic, payload
		@subs = [s for s in *@subs when not s.dead]
		count

-- demo
bus = Bus!
audit = {}
bus\subscribe "orders.#", (p, topic) -> insert audit, topic
bus\subscribe "orders.*.paid", (p) -> print "paid order #{p.id} for #{p.total}"
bus\once "system.ready", -> print "system is ready (printed only once)"

bus\publish "system.ready"
bus\publish "system.ready"
bus\publish "orders.eu.paid", id: 17, total: 42.5
bus\publish "orders.us.shipped", id: 9
bus\publish "config.theme", "dark", retain: true

late = bus\subscribe "config.*", (value, topic) -> print "late subscriber sees #{topic} = #{value}"
bus\unsubscribe late
bus\publish "config.theme", "light"

print "audit: #{concat audit, ', '}"
print "delivered to", bus\publish "orders.eu.paid", id: 18, total: 3
print "matches:", topic_matches("a.*.c", "a.b.c"), topic_matches("a.#", "a"), topic_matches("a.*", "a.b.c")

{ :Bus, :topic_matches }
