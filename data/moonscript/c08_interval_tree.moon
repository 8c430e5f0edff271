-- Augmented binary search tree of intervals: each node remembers the largest
-- end point in its subtree so overlap queries can skip whole branches.
import insert, concat from table
import max from math

class Interval
	new: (lo, hi, label) =>
		assert lo <= hi, "interval start must not exceed its end"
		@lo, @hi, @label = lo, hi, label

	overlaps: (lo, hi) => @lo <= hi and lo <= @hi

	__tostring: => "#{@label or '?'}[#{@lo}, #{@hi}]"

class Node
	new: (interval) =>
		@interval = interval
		@max_hi = interval.hi
		@left = nil
		@right = nil

class IntervalTree
	new: =>
		@root = nil
		@size = 0

	insert: (lo, hi, label) =>
		interval = Interval lo, hi, label
		@size += 1
		unless @root
			@root = Node interval
			return interval
		node = @root
		while true
			node.max_hi = max node.max_hi, hi
			side = if lo < node.interval.lo then "left" else "right"
			if node[side]
				node = node[side]
			else
				node[side] = Node interval
				return interval

	-- every interval overlapping [lo, hi]; a point query passes only lo
	query: (lo, hi = lo) =>
		found = {}
		visit = (node) ->
			return unless node and node.max_hi >= lo
			visit node.left
			insert found, node.interval if node.interval\overlaps(lo, hi)
			-- the right subtree starts at or after this node, skip if past the query
			visit node.right if node.interval.lo <= hi
		visit @root
		found

	each: (fn) =>
		walk = (node) ->
			return unless node
			walk node.left
			fn node.interval
			walk node.right
		walk @root

	depth: =>
		measure = (node) ->
			return 0 unless node
			1 + max measure(node.left), measure(node.right)
		measure @root


calendar = IntervalTree!
with calendar
	\insert 9, 10, "standup"
	\insert 13, 15, "design review"
	\insert 11, 12.5, "lunch"
	\insert 14, 16, "interview"
	\insert 8, 17, "office hours"

show = (list) -> if #list == 0 then "(none)" else concat [tostring i for i in *list], ", "
print "at 14.5 -> " .. show(calendar\query 14.5)
print "10..13 -> " .. show(calendar\query 10, 13)
print "after 18 -> " .. show(calendar\query 18)

calendar\each (iv) -> io.write tostring(iv), "  "
print!
print "tree depth: #{calendar\depth!}, size: #{calendar.size}"

{ :IntervalTree, :Interval }
