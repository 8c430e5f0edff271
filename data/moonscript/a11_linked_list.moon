-- Doubly linked list with iterator helpers

unpack = table.unpack or unpack


class Node
	new: (@value) =>
		@prev = nil
		@next = nil


class LinkedList
	new: (...) =>
		@head = nil
		@tail = nil
		@length = 0
		@push v for v in *{...}

	push: (value) =>
		node = Node value
		if @tail
			@tail.next = node
			node.prev = @tail
			@tail = node
		else
			@head = node
			@tail = node
		@length += 1
		@

	unshift: (value) =>
		node = Node value
		node.next = @head
		@head.prev = node if @head
		@head = node
		@tail = node unless @tail
		@length += 1
		@

	remove_node: (node) =>
		if node.prev
			node.prev.next = node.next
		else
			@head = node.next
		if node.next
			node.next.prev = node.prev
		else
			@tail = node.prev
		@length -= 1
		node.value

	pop: =>
		return nil unless @tail
		@remove_node @tail

	shift: =>
		return nil unless @head
		@remove_node @head

	each: =>
		node = @head
		->
			return nil unless node
			value = node.value
			node = node.next
			value

	find: (predicate) =>
		for value in @each!
			return value if predicate value
		nil

	map: (fn) => @@ unpack [fn(v) for v in @each!]

	filter: (fn) => @@ unpack [v for v in @each! when fn v]

	to_table: => [v for v in @each!]

	reverse: =>
		node = @head
		while node
			node.next, node.prev = node.prev, node.next
			node = node.prev
		@head, @tail = @tail, @head
		@

	__tostring: =>
		"List(" .. table.concat([tostring v for v in @each!], ", ") .. ")"


list = LinkedList 3, 1, 4, 1, 5
list\unshift 9
print list\map((x) -> x * 10)\reverse!
even = list\find (x) -> x % 2 == 0
print "first even: #{even}, length: #{list.length}"

{ :LinkedList, :Node }
