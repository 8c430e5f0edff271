-- Exact rational arithmetic with operator overloading
import abs, floor from math

gcd = (a, b) ->
  a, b = abs(a), abs(b)
  while b != 0
    a, b = b, a % b
  a

class Rational
  new: (num, den = 1) =>
    assert den != 0, "zero denominator"
    assert num == floor(num) and den == floor(den), "integers only"
    if den < 0
      num, den = -num, -den
    g = gcd num, den
    @num, @den = floor(num / g), floor(den / g)

  -- plain numbers are promoted so that `r + 1` and `1 + r` both work
  @lift: (x) => if type(x) == "number" then Rational(x) else x

  __add: (a, b) ->
    a, b = Rational\lift(a), Rational\lift(b)
    Rational a.num * b.den + b.num * a.den, a.den * b.den

  __sub: (a, b) ->
    a, b = Rational\lift(a), Rational\lift(b)
    Rational a.num * b.den - b.num * a.den, a.den * b.den

  __mul: (a, b) ->
    a, b = Rational\lift(a), Rational\lift(b)
    Rational a.num * b.num, a.den * b.den

  __div: (a, b) ->
    a, b = Rational\lift(a), Rational\lift(b)
    Rational a.num * b.den, a.den * b.num

  __unm: (a) -> Rational -a.num, a.den

  __eq: (a, b) -> a.num == b.num and a.den == b.den

  __lt: (a, b) ->
    a, b = Rational\lift(a), Rational\lift(b)
    a.num * b.den < b.num * a.den

  __le: (a, b) ->
    a, b = Rational\lift(a), Rational\lift(b)
    a.num * b.den <= b.num * a.den

  __tostring: =>
    if @den == 1 then tostring(@num) else "#{@num}/#{@den}"

  to_number: => @num / @den

  -- mixed-number form, e.g. 7/3 -> "2 1/3"
  mixed: =>
    whole = if @num < 0 then -floor(-@num / @den) else floor(@num / @den)
    rest = abs(@num - whole * @den)
    return tostring(whole) if rest == 0
    return "#{@num < 0 and '-' or ''}#{rest}/#{@den}" if whole == 0
    "#{whole} #{rest}/#{@den}"


half = Rational 1, 2
third = Rational 1, 3
print "1/2 + 1/3 = #{half + third}"
print "1/2 - 1/3 = #{half - third}"
print "1/2 * 1/3 = #{half * third}"
print "(1/2) / (1/3) = #{half / third}"
print "1 + 1/3 = #{1 + third}, negated: #{-third}"
print "1/3 < 1/2? #{third < half}, 2/4 == 1/2? #{Rational(2, 4) == half}"

-- harmonic numbers stay exact: H(10) = 7381/2520
h = Rational 0
for n = 1, 10
  h = h + Rational(1, n)
print "H(10) = #{h} = #{h\mixed!} ~ #{string.format '%.6f', h\to_number!}"
print "-7/3 as mixed: #{Rational(-7, 3)\mixed!}"

{ :Rational, :gcd }
