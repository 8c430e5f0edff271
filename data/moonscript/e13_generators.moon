-- Lazy generators built on coroutines, with a small fluent wrapper so
-- pipelines read left to right:  Gen\range(1, 100)\filter(odd)\take 5
import insert, concat from table

wrap = coroutine.wrap
yield = coroutine.yield

class Gen
  new: (@fn) =>

  -- iterate with `for v in gen\each!`
  each: => wrap @fn

  @of: (list) => Gen -> yield v for v in *list

  @range: (start, stop, step = 1) =>
    Gen ->
      i = start
      while stop == nil or (step > 0 and i <= stop) or (step < 0 and i >= stop)
        yield i
        i += step

  @iterate: (seed, f) =>
    Gen ->
      value = seed
      while true
        yield value
        value = f value

  map: (f) => Gen -> yield f(v) for v in @each!

  filter: (pred) =>
    Gen ->
      for v in @each!
        yield v if pred v

  take: (n) =>
    Gen ->
      return if n <= 0
      count = 0
      for v in @each!
        yield v
        count += 1
        break if count >= n

  zip: (other) =>
    Gen ->
      a, b = @each!, other\each!
      while true
        x, y = a!, b!
        break if x == nil or y == nil
        yield { x, y }

  chain: (other) =>
    Gen ->
      yield v for v in @each!
      yield v for v in other\each!

  to_list: => [v for v in @each!]

  reduce: (f, acc) =>
    acc = f acc, v for v in @each!
    acc

-- infinite sources are fine as long as something downstream stops early
fib = Gen\iterate({ 0, 1 }, (p) -> { p[2], p[1] + p[2] })\map (p) -> p[1]

primes = Gen ->
  found = {}
  n = 2
  while true
    is_prime = true
    for p in *found
      break if p * p > n
      if n % p == 0
        is_prime = false
        break
    if is_prime
      insert found, n
      yield n
    n += 1

-- demo
show = (label, gen) -> print label, concat([tostring v for v in gen\each!], " ")

show "odd squares", Gen\range(1, 20)\filter((x) -> x % 2 == 1)\map (x) -> x * x
show "fibonacci", fib\take 12
show "primes", primes\take 10
show "countdown", Gen\range(5, 1, -1)\chain Gen\of { "liftoff" }
show "zipped", Gen\of({ "a", "b", "c" })\zip(Gen\range 1)\map (p) -> p[1] .. p[2]
print "sum 1..100", Gen\range(1, 100)\reduce ((a, b) -> a + b), 0
print "first prime over 1000", primes\filter((p) -> p > 1000)\take(1)\to_list![1]

{ :Gen }
