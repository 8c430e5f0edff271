-- Bitset packed into 24-bit words using plain arithmetic, so it behaves
-- the same on Lua 5.1, 5.3 and LuaJIT without a bit library
import floor from math
import concat from table

WORD = 24
POW = [2 ^ i for i = 0, WORD - 1]

-- bit i (0-based) lives in word floor(i / WORD) + 1 at offset i % WORD
locate = (i) -> floor(i / WORD) + 1, i % WORD

class Bitset
	new: (size) =>
		@size = size
		@words = [0 for _ = 1, floor((size - 1) / WORD) + 1]

	test: (i) =>
		w, b = locate i
		floor(@words[w] / POW[b + 1]) % 2 == 1

	set: (i) =>
		unless @test i
			w, b = locate i
			@words[w] += POW[b + 1]
		@

	clear: (i) =>
		if @test i
			w, b = locate i
			@words[w] -= POW[b + 1]
		@

	toggle: (i) =>
		if @test i then @clear i else @set i

	count: =>
		total = 0
		for w in *@words
			while w > 0
				total += 1 if w % 2 == 1
				w = floor w / 2
		total

	combine: (other, keep) =>
		assert @size == other.size, "size mismatch"
		out = Bitset @size
		for i = 0, @size - 1
			out\set i if keep(@test(i), other\test(i))
		out

	union: (other) => @combine other, (a, b) -> a or b

	intersect: (other) => @combine other, (a, b) -> a and b

	difference: (other) => @combine other, (a, b) -> a and not b

	-- iterator over the indices of set bits
	each: =>
		i = -1
		->
			i += 1
			while i < @size and not @test i
				i += 1
			return i if i < @size

	to_list: => [i for i in @each!]


-- sieve of Eratosthenes: composite numbers get their bit set
sieve = (limit) ->
	composite = Bitset limit + 1
	composite\set(0)\set 1
	p = 2
	while p * p <= limit
		unless composite\test p
			for m = p * p, limit, p
				composite\set m
		p += 1
	[n for n = 2, limit when not composite\test n]

print "primes: " .. concat(sieve(60), " ")

evens = Bitset 32
threes = Bitset 32
evens\set i for i = 0, 31, 2
threes\set i for i = 0, 31, 3
both = evens\intersect threes
print "multiples of 6: " .. concat(both\to_list!, ", ")
print "evens or threes: #{evens\union(threes)\count!} bits set"
print "evens but not threes: #{evens\difference(threes)\count!}"
evens\toggle 0
print "bit 0 after toggle: #{evens\test 0}, words used: #{#evens.words}"

{ :Bitset, :sieve }
