-- Polynomials with real coefficients. coeffs[1] is the constant term and
-- coeffs[i] multiplies x^(i-1).
import abs, max from math
import insert from table

class Polynomial
  new: (coeffs = {0}) =>
    @coeffs = [c for c in *coeffs]
    @coeffs[1] = 0 if #@coeffs == 0
    -- drop trailing zeros so the degree is meaningful
    while #@coeffs > 1 and @coeffs[#@coeffs] == 0
      table.remove @coeffs

  degree: => #@coeffs - 1

  -- Horner's rule: one multiply and one add per coefficient
  eval: (x) =>
    acc = 0
    for i = #@coeffs, 1, -1
      acc = acc * x + @coeffs[i]
    acc

  __call: (x) => @eval x

  __add: (a, b) ->
    out = {}
    for i = 1, max(#a.coeffs, #b.coeffs)
      out[i] = (a.coeffs[i] or 0) + (b.coeffs[i] or 0)
    Polynomial out

  __sub: (a, b) -> a + b\scale -1

  __mul: (a, b) ->
    out = [0 for _ = 1, #a.coeffs + #b.coeffs - 1]
    for i, x in ipairs a.coeffs
      for j, y in ipairs b.coeffs
        out[i + j - 1] += x * y
    Polynomial out

  scale: (k) => Polynomial [c * k for c in *@coeffs]

  derivative: =>
    return Polynomial! if #@coeffs == 1
    Polynomial [@coeffs[i] * (i - 1) for i = 2, #@coeffs]

  __tostring: =>
    terms = {}
    for i = #@coeffs, 1, -1
      c = @coeffs[i]
      continue if c == 0
      power = i - 1
      mag = abs c
      coef = if mag == 1 and power > 0 then "" else tostring mag
      body = switch power
        when 0 then coef
        when 1 then coef .. "x"
        else
          "#{coef}x^#{power}"
      insert terms, if c < 0 then "-" else "+"
      insert terms, body
    return "0" if #terms == 0
    out = (terms[1] == "-" and "-" or "") .. terms[2]
    for i = 3, #terms, 2
      out ..= " #{terms[i]} #{terms[i + 1]}"
    out

  -- Newton's method from a starting guess; returns the root and steps used
  newton: (guess, tol = 1e-12, max_steps = 50) =>
    d = @derivative!
    x = guess
    for step = 1, max_steps
      slope = d\eval x
      return nil, "flat derivative at #{x}" if slope == 0
      nx = x - @eval(x) / slope
      return nx, step if abs(nx - x) < tol
      x = nx
    x, max_steps


p = Polynomial {-2, 0, 1}   -- x^2 - 2
q = Polynomial {1, 1}       -- x + 1
print "p = #{p}, q = #{q}"
print "p + q = #{p + q}"
print "p - q = #{p - q}"
print "p * q = #{p * q}, degree #{(p * q)\degree!}"
print "p' = #{p\derivative!}, p(3) = #{p 3}"

root, steps = p\newton 1
print string.format "sqrt(2) ~ %.12f after %d steps", root, steps
cubic = Polynomial {-6, 11, -6, 1}   -- (x - 1)(x - 2)(x - 3)
print "#{cubic} has a root near #{string.format '%.6f', cubic\newton 3.6}"

{ :Polynomial }
