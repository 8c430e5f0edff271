-- Arbitrary-precision non-negative integers stored as base 10^7 limbs,
-- least significant limb first. Supports +, *, comparison and tostring.
import floor, max from math
import insert, concat from table

BASE = 10000000
WIDTH = 7

class BigInt
  new: (value = 0) =>
    @limbs = {}
    s = tostring value
    assert s\match("^%d+$"), "BigInt expects decimal digits, got #{s}"
    -- read the decimal string in chunks of WIDTH digits from the right
    i = #s
    while i >= 1
      j = max 1, i - WIDTH + 1
      insert @limbs, tonumber(s\sub j, i)
      i = j - 1
    @trim!

  trim: =>
    while #@limbs > 1 and @limbs[#@limbs] == 0
      table.remove @limbs
    @

  @from_limbs: (limbs) =>
    n = BigInt 0
    n.limbs = limbs
    n\trim!

  __add: (a, b) ->
    a = BigInt a unless type(a) == "table"
    b = BigInt b unless type(b) == "table"
    out, carry = {}, 0
    for i = 1, max(#a.limbs, #b.limbs)
      sum = (a.limbs[i] or 0) + (b.limbs[i] or 0) + carry
      out[i] = sum % BASE
      carry = floor sum / BASE
    out[#out + 1] = carry if carry > 0
    BigInt\from_limbs out

  -- schoolbook multiplication; each partial product stays below 2^53
  __mul: (a, b) ->
    a = BigInt a unless type(a) == "table"
    b = BigInt b unless type(b) == "table"
    out = [0 for _ = 1, #a.limbs + #b.limbs]
    for i, x in ipairs a.limbs
      carry = 0
      for j, y in ipairs b.limbs
        cur = out[i + j - 1] + x * y + carry
        out[i + j - 1] = cur % BASE
        carry = floor cur / BASE
      k = i + #b.limbs
      while carry > 0
        cur = out[k] + carry
        out[k] = cur % BASE
        carry = floor cur / BASE
        k += 1
    BigInt\from_limbs out

  __eq: (a, b) ->
    return false if #a.limbs != #b.limbs
    for i = 1, #a.limbs
      return false if a.limbs[i] != b.limbs[i]
    true

  __lt: (a, b) ->
    return #a.limbs < #b.limbs if #a.limbs != #b.limbs
    for i = #a.limbs, 1, -1
      if a.limbs[i] != b.limbs[i]
        return a.limbs[i] < b.limbs[i]
    false

  __tostring: =>
    parts = {tostring(@limbs[#@limbs])}
    for i = #@limbs - 1, 1, -1
      insert parts, string.format("%07d", @limbs[i])
    concat parts

  digits: => #tostring(@)


factorial = (n) ->
  acc = BigInt 1
  acc = acc * i for i = 2, n
  acc

fibonacci = (n) ->
  a, b = BigInt(0), BigInt(1)
  for _ = 1, n
    a, b = b, a + b
  a

print "30! = #{factorial 30}"
print "100! has #{factorial(100)\digits!} digits"
print "fib(150) = #{fibonacci 150}"
x = BigInt "99999999999999999999"
print "#{x} + 1 = #{x + 1}"
print "x * x = #{x * x}"
print "fib(90) < fib(91)? #{fibonacci(90) < fibonacci(91)}"

{ :BigInt, :factorial, :fibonacci }
