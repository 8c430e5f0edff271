-- Bloom filter: a compact probabilistic set. False positives are possible,
-- false negatives are not. Hashing uses only arithmetic so it runs on Lua 5.1.
import ceil, log, exp, floor, max from math

MOD = 2147483647

hash_string = (s, seed) ->
    h = seed
    for i = 1, #s
        h = (h * 31 + s\byte(i)) % MOD
    h

class BloomFilter
    -- size the filter from the expected item count and a target error rate
    @for_capacity: (n, p = 0.01) =>
        m = ceil(-n * log(p) / (log(2) ^ 2))
        k = max 1, floor(m / n * log(2) + 0.5)
        BloomFilter m, k

    new: (bits = 1024, hashes = 3) =>
        @bits = bits
        @hashes = hashes
        @slots = {}   -- one table slot per bit, kept simple for clarity
        @count = 0

    -- double hashing: k positions derived from two base hashes
    positions: (item) =>
        s = tostring item
        h1 = hash_string s, 5381
        h2 = hash_string(s, 7919) + 1
        [(h1 + i * h2) % @bits + 1 for i = 0, @hashes - 1]

    add: (item) =>
        for pos in *@positions(item)
            @slots[pos] = true
        @count += 1
        @

    might_contain: (item) =>
        for pos in *@positions(item)
            return false unless @slots[pos]
        true

    fill_ratio: =>
        set = 0
        set += 1 for _ in pairs @slots
        set / @bits

    -- estimated false-positive probability given how many items were added
    error_rate: =>
        (1 - exp(-@hashes * @count / @bits)) ^ @hashes

    union: (other) =>
        assert @bits == other.bits and @hashes == other.hashes, "incompatible filters"
        merged = BloomFilter @bits, @hashes
        merged.slots[i] = true for i in pairs @slots
        merged.slots[i] = true for i in pairs other.slots
        merged.count = @count + other.count
        merged


seen = BloomFilter\for_capacity 100, 0.01
print "bits: #{seen.bits}, hashes: #{seen.hashes}"
for word in ("alpha beta gamma delta epsilon zeta eta theta")\gmatch "%a+"
    seen\add word

for probe in *{"gamma", "theta", "omega", "kappa"}
    verdict = if seen\might_contain(probe) then "maybe" else "no"
    print "#{probe}: #{verdict}"

print string.format "fill %.3f, est. error %.2e", seen\fill_ratio!, seen\error_rate!

extra = BloomFilter seen.bits, seen.hashes
extra\add "omega"
both = seen\union extra
print "union knows omega: #{both\might_contain 'omega'}, items: #{both.count}"

{ :BloomFilter }
