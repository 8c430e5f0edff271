import LRUCache, TTLCache from require "cache.lru"

describe "LRUCache", ->
	local cache

	before_each ->
		cache = LRUCache 3

	it "stores and fetches values", ->
		cache\set "a", 1
		assert.same 1, cache\get "a"
		assert.is_nil cache\get "missing"

	it "overwrites existing keys without growing", ->
		cache\set "a", 1
		cache\set "a", 2
		assert.equal 2, cache\get "a"
		assert.equal 1, cache.size

	it "evicts the least recently used key", ->
		cache\set k, i for i, k in ipairs {"a", "b", "c"}
		cache\get "a"
		cache\set "d", 4
		assert.same {"d", "a", "c"}, cache\keys!
		assert.is_nil cache\get "b"

	it "calls the eviction callback", ->
		evicted = {}
		c = LRUCache 1, (k, v) -> evicted[#evicted + 1] = "#{k}=#{v}"
		c\set "x", 10
		c\set "y", 20
		assert.same {"x=10"}, evicted

	it "maps keys to values", ->
		input = {"one", "two", "three"}
		cache\set w, #w for w in *input
		lengths = {k, cache.lookup[k].value for k in *cache\keys!}
		assert.same {one: 3, two: 3, three: 5}, lengths

	it "clears everything", ->
		cache\set "a", 1
		cache\clear!
		assert.same {}, cache\keys!
		assert.equal "0/3 used, 3 free", cache\stats!

	describe "with ttl", ->
		local now, c

		before_each ->
			now = 100
			c = TTLCache 10, 5
			c.now = => now

		it "returns fresh entries", ->
			c\set "k", "v"
			now += 4
			assert.equal "v", c\get "k"

		it "expires stale entries", ->
			c\set "k", "v"
			now = 106
			assert.is_nil c\get "k"
			assert.same {}, c\keys!

		it "refreshes the deadline on set", ->
			c\set "k", 1
			now = 104
			c\set "k", 2
			now = 108
			assert.equal 2, c\get "k"
