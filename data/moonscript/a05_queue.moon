-- Double-ended queue and a binary-heap priority queue

class Deque
	new: =>
		@first = 0
		@last = -1
		@items = {}

	push_back: (value) =>
		@last += 1
		@items[@last] = value

	push_front: (value) =>
		@first -= 1
		@items[@first] = value

	pop_front: =>
		return nil if @is_empty!
		value = @items[@first]
		@items[@first] = nil
		@first += 1
		value

	pop_back: =>
		return nil if @is_empty!
		value = @items[@last]
		@items[@last] = nil
		@last -= 1
		value

	peek: => @items[@first]
	size: => @last - @first + 1
	is_empty: => @first > @last

	each: =>
		i = @first - 1
		->
			i += 1
			@items[i] if i <= @last


class PriorityQueue
	new: (compare) =>
		@compare = compare or (a, b) -> a < b
		@heap = {}

	push: (value) =>
		heap, cmp = @heap, @compare
		table.insert heap, value
		i = #heap
		while i > 1
			parent = math.floor i / 2
			break unless cmp(heap[i], heap[parent])
			heap[i], heap[parent] = heap[parent], heap[i]
			i = parent
		@

	pop: =>
		heap, cmp = @heap, @compare
		return nil if #heap == 0
		top = heap[1]
		heap[1] = heap[#heap]
		heap[#heap] = nil
		i, n = 1, #heap
		while true
			best = i
			l, r = 2 * i, 2 * i + 1
			best = l if l <= n and cmp(heap[l], heap[best])
			best = r if r <= n and cmp(heap[r], heap[best])
			break if best == i
			heap[i], heap[best] = heap[best], heap[i]
			i = best
		top

	size: => #@heap


return { :Deque, :PriorityQueue }
