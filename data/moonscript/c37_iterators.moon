-- Lazy iterator combinators. An Iter wraps a zero-argument function that
-- returns the next value, or nil once exhausted; nothing runs until consumed.
import insert, concat from table

class Iter
  new: (step) => @step = step

  @range: (a, b, inc = 1) =>
    i = a - inc
    Iter ->
      i += inc
      return i if (inc > 0 and i <= b) or (inc < 0 and i >= b)

  @of_list: (list) =>
    i = 0
    Iter ->
      i += 1
      list[i]

  @count: (start = 1) =>
    n = start - 1
    Iter ->
      n += 1
      n

  -- the step function doubles as a generic-for iterator
  each: => @step

  map: (fn) =>
    step = @step
    Iter ->
      v = step!
      return nil if v == nil
      fn v

  filter: (pred) =>
    step = @step
    Iter ->
      while true
        v = step!
        return nil if v == nil
        return v if pred v

  take: (n) =>
    step, taken = @step, 0
    Iter ->
      return nil if taken >= n
      taken += 1
      step!

  take_while: (pred) =>
    step, done = @step, false
    Iter ->
      return nil if done
      v = step!
      if v == nil or not pred v
        done = true
        return nil
      v

  zip: (other) =>
    a, b = @step, other.step
    Iter ->
      x, y = a!, b!
      return nil if x == nil or y == nil
      {x, y}

  chain: (other) =>
    a, b = @step, other.step
    first_done = false
    Iter ->
      unless first_done
        v = a!
        return v if v != nil
        first_done = true
      b!

  reduce: (fn, acc) =>
    for v in @each!
      acc = fn acc, v
    acc

  collect: => [v for v in @each!]


squares = Iter\range(1, 20)\map((x) -> x * x)\filter((x) -> x % 2 == 1)\collect!
print "odd squares: #{concat squares, ' '}"

-- infinite sources are fine as long as something downstream stops them
fib = ->
  a, b = 0, 1
  Iter ->
    a, b = b, a + b
    a
small = fib!\take_while((x) -> x < 100)\collect!
print "fibonacci below 100: #{concat small, ', '}"

names = Iter\of_list {"ada", "grace", "linus", "barbara"}
for pair in Iter\count(1)\zip(names)\each!
  print "#{pair[1]}. #{pair[2]}"

total = Iter\range(1, 100)\reduce ((acc, x) -> acc + x), 0
print "sum 1..100 = #{total}"
joined = Iter\of_list({"a", "b"})\chain(Iter\range(3, 1, -1))\collect!
print "chained: #{concat joined, ' '}"
print "first five evens: #{concat Iter\count!\filter((x) -> x % 2 == 0)\take(5)\collect!, ' '}"

{ :Iter }
