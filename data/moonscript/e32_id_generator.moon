-- Identifier generators: random UUID v4 strings, sortable time-based ids
-- in Crockford base32, and short ids from a custom alphabet. A seedable
-- random source keeps tests reproducible.
import concat from table

-- Park-Miller "minimal standard" generator; fine for ids, not for crypto
class Random
  new: (seed = os.time!) =>
    @state = seed % 2147483647
    @state = 1 if @state <= 0

  next: =>
    @state = (@state * 16807) % 2147483647
    @state

  int: (lo, hi) => lo + @next! % (hi - lo + 1)

HEX = "0123456789abcdef"
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

char_at = (alphabet, i) -> alphabet\sub i + 1, i + 1

class IdGenerator
  new: (opts = {}) =>
    @rng = opts.rng or Random!
    @clock = opts.clock or -> os.time! * 1000
    @last_ms = -1
    @sequence = 0

  uuid4: =>
    digits = [char_at(HEX, @rng\int 0, 15) for _ = 1, 32]
    digits[13] = "4"
    -- variant bits: the 17th digit is one of 8, 9, a or b
    digits[17] = char_at HEX, 8 + @rng\int(0, 3)
    s = concat digits
    "#{s\sub 1, 8}-#{s\sub 9, 12}-#{s\sub 13, 16}-#{s\sub 17, 20}-#{s\sub 21, 32}"

  encode: (n, length) =>
    out = {}
    for i = length, 1, -1
      out[i] = char_at CROCKFORD, n % 32
      n = math.floor n / 32
    concat out

  -- 10 chars of milliseconds + 6 chars of sequence and noise
  sortable: =>
    ms = @clock!
    if ms == @last_ms
      @sequence += 1
    else
      @last_ms = ms
      @sequence = @rng\int 0, 1023
    @encode(ms, 10) .. @encode(@sequence * 1024 + @rng\int(0, 1023), 6)

  short: (length = 8, alphabet = "23456789abcdefghijkmnpqrstuvwxyz") =>
    concat [char_at(alphabet, @rng\int 0, #alphabet - 1) for _ = 1, length]

  prefixed: (prefix, length) => "#{prefix}_#{@short length}"

-- demo
now = 1700000000000
ids = IdGenerator rng: Random(42), clock: -> now

print "uuid4:", ids\uuid4!
print "uuid4:", ids\uuid4!

sorted = {}
for i = 1, 5
  now += 1 if i % 2 == 0
  table.insert sorted, ids\sortable!
print "sortable:", s for s in *sorted

monotonic = true
for i = 2, #sorted
  monotonic = false unless sorted[i - 1] < sorted[i]
print "monotonic:", monotonic

print "short:", ids\short!, ids\prefixed "usr", 10

seen, dupes = {}, 0
for _ = 1, 2000
  id = ids\short 6
  dupes += 1 if seen[id]
  seen[id] = true
print "duplicates among 2000 short ids: #{dupes}"

{ :IdGenerator, :Random }
