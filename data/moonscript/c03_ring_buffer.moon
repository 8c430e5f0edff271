-- Fixed-capacity ring buffer that overwrites the oldest entry when full.
-- Handy for "last N log lines" or rolling sensor averages.

class RingBuffer
	new: (capacity) =>
		assert capacity and capacity > 0, "capacity must be positive"
		@capacity = capacity
		@data = {}
		@head = 1   -- slot holding the oldest element
		@count = 0

	is_full: => @count == @capacity

	is_empty: => @count == 0

	-- returns the value that was overwritten, if any
	push: (value) =>
		tail = (@head + @count - 1) % @capacity + 1
		dropped = nil
		if @is_full!
			dropped = @data[tail]
			@head = @head % @capacity + 1
		else
			@count += 1
		@data[tail] = value
		dropped

	shift: =>
		return nil if @is_empty!
		value = @data[@head]
		@data[@head] = nil
		@head = @head % @capacity + 1
		@count -= 1
		value

	-- i = 1 is the oldest element, i = -1 the newest
	get: (i) =>
		i = @count + i + 1 if i < 0
		return nil if i < 1 or i > @count
		@data[(@head + i - 2) % @capacity + 1]

	each: =>
		i = 0
		->
			i += 1
			return nil if i > @count
			@get i

	to_list: => [@get i for i = 1, @count]

	average: =>
		return 0 if @is_empty!
		total = 0
		total += v for v in @each!
		total / @count

	clear: =>
		@data = {}
		@head, @count = 1, 0


readings = RingBuffer 4
for t in *{21.5, 22.0, 22.4, 23.1, 23.8, 24.0}
	if old = readings\push t
		print "dropped #{old}"

print "window: " .. table.concat(readings\to_list!, ", ")
print "newest: #{readings\get -1}, oldest: #{readings\get 1}"
print string.format "rolling average: %.2f", readings\average!

readings\shift!
print "after shift: #{readings.count} items, full? #{readings\is_full!}"
readings\push 25.5
print "window: " .. table.concat(readings\to_list!, ", ")

{ :RingBuffer }
