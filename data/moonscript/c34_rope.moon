-- Ropes: immutable trees of string pieces with cheap concatenation and
-- splitting; edits return new ropes and share untouched pieces
import insert, concat from table

local join   -- defined once both node classes exist

class RopeNode
	new: (length) =>
		@length = length

	to_string: =>
		parts = {}
		@collect parts
		concat parts

	__tostring: => @to_string!

class Leaf extends RopeNode
	new: (text) =>
		super #text
		@text = text

	char_at: (i) => @text\sub i, i

	collect: (parts) => insert parts, @text

	-- split into (first n characters, the rest)
	split_at: (n) => Leaf(@text\sub 1, n), Leaf(@text\sub n + 1)

class Concat extends RopeNode
	new: (left, right) =>
		super left.length + right.length
		@left, @right = left, right
		@depth = 1 + math.max(left.depth or 0, right.depth or 0)

	char_at: (i) =>
		if i <= @left.length
			@left\char_at i
		else
			@right\char_at i - @left.length

	collect: (parts) =>
		@left\collect parts
		@right\collect parts

	split_at: (n) =>
		if n <= @left.length
			a, b = @left\split_at n
			return a, join(b, @right)
		a, b = @right\split_at n - @left.length
		join(@left, a), b

join = (a, b) ->
	return b if a.length == 0
	return a if b.length == 0
	-- small neighbours are merged into one leaf to keep the tree shallow
	if a.length + b.length <= 16 and a.text and b.text
		return Leaf a.text .. b.text
	Concat a, b

node_of = (x) -> if type(x) == "string" then Leaf(x) else x.root

class Rope
	new: (content = "") =>
		@root = if type(content) == "string" then Leaf(content) else content

	length: => @root.length

	char_at: (i) => @root\char_at i

	append: (other) => Rope join(@root, node_of other)

	-- insert text after the first `pos` characters
	insert: (pos, text) =>
		a, b = @root\split_at pos
		Rope join(join(a, node_of text), b)

	delete: (start, count) =>
		a, rest = @root\split_at start - 1
		_, b = rest\split_at count
		Rope join(a, b)

	sub: (i, j) =>
		_, rest = @root\split_at i - 1
		mid = rest\split_at j - i + 1
		Rope mid

	__tostring: => @root\to_string!


doc = Rope("The quick fox")\append(" jumps over")\append " the lazy dog."
print doc
print "length #{doc\length!}, char 5 = '#{doc\char_at 5}'"
doc = doc\insert 10, "brown "
print doc
print doc\delete(5, 6)
print "slice: #{doc\sub 5, 15}"
print "depth: #{doc.root.depth or 0}"

-- the original rope is untouched by edits
first = Rope "immutable"
second = first\insert 0, "still "
print "#{first} / #{second}"

{ :Rope, :Leaf, :Concat }
