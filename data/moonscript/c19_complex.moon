-- Complex numbers with operator overloading and polar form, with a tiny
-- ASCII Mandelbrot renderer as the demo
import sqrt, cos, sin, pi from math

atan2 = math.atan2 or math.atan

class Complex
	new: (re = 0, im = 0) =>
		@re, @im = re, im

	@polar: (r, theta) => Complex r * cos(theta), r * sin(theta)

	-- lets arithmetic accept plain real numbers on either side
	@lift: (x) -> if type(x) == "number" then Complex(x, 0) else x

	__add: (a, b) ->
		a, b = Complex.lift(a), Complex.lift(b)
		Complex a.re + b.re, a.im + b.im

	__sub: (a, b) ->
		a, b = Complex.lift(a), Complex.lift(b)
		Complex a.re - b.re, a.im - b.im

	__mul: (a, b) ->
		a, b = Complex.lift(a), Complex.lift(b)
		Complex a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re

	__div: (a, b) ->
		a, b = Complex.lift(a), Complex.lift(b)
		d = b.re * b.re + b.im * b.im
		assert d != 0, "division by zero"
		Complex((a.re * b.re + a.im * b.im) / d, (a.im * b.re - a.re * b.im) / d)

	__unm: (a) -> Complex -a.re, -a.im

	__eq: (a, b) -> a.re == b.re and a.im == b.im

	abs: => sqrt @re * @re + @im * @im

	arg: => atan2 @im, @re

	conj: => Complex @re, -@im

	-- principal value of z^n for real n, through the polar form
	pow: (n) =>
		r, theta = @abs!, @arg!
		Complex\polar r ^ n, theta * n

	__tostring: =>
		re = string.format "%.4g", @re
		im = string.format "%.4g", math.abs(@im)
		sign = if @im < 0 then "-" else "+"
		"#{re} #{sign} #{im}i"

roots_of_unity = (n) ->
	[Complex\polar(1, 2 * pi * k / n) for k = 0, n - 1]

mandelbrot_row = (y, width = 60, max_iter = 40) ->
	shades = " .:-=+*#%@"
	row = {}
	for col = 0, width - 1
		c = Complex -2.2 + 3.0 * col / width, y
		z = Complex!
		n = 0
		while n < max_iter and z\abs! <= 2
			z = z * z + c
			n += 1
		idx = math.floor(n / max_iter * (#shades - 1)) + 1
		row[#row + 1] = shades\sub idx, idx
	table.concat row


a = Complex 3, 4
b = Complex 1, -2
print "a = #{a}, |a| = #{a\abs!}"
print "a + b = #{a + b}, a - b = #{a - b}"
print "a * b = #{a * b}"
print "a / b = #{a / b}"
print "conj(b) = #{b\conj!}, sqrt(a) = #{a\pow 0.5}"
i = Complex 0, 1
print "i * i = #{i * i}, 2 + i = #{2 + i}"

print "cube roots of unity:"
for z in *roots_of_unity(3)
	print "  #{z}"

for y = -1.2, 1.2, 0.2
	print mandelbrot_row y

{ :Complex }
