-- 2D vector class with operator overloading

sqrt, atan2, cos, sin = math.sqrt, math.atan2, math.cos, math.sin
unpack = table.unpack or unpack


class Vec2
	@zero: -> Vec2 0, 0
	@from_angle: (angle, len = 1) -> Vec2 cos(angle) * len, sin(angle) * len

	new: (@x = 0, @y = 0) =>

	__add: (other) => Vec2 @x + other.x, @y + other.y
	__sub: (other) => Vec2 @x - other.x, @y - other.y
	__unm: => Vec2(-@x, -@y)
	__eq: (other) => @x == other.x and @y == other.y
	__tostring: => "(#{@x}, #{@y})"

	__mul: (a, b) ->
		if type(a) == "number"
			Vec2 b.x * a, b.y * a
		elseif type(b) == "number"
			Vec2 a.x * b, a.y * b
		else
			a.x * b.x + a.y * b.y

	len: => sqrt @x * @x + @y * @y
	len2: => @x * @x + @y * @y

	normalized: =>
		l = @len!
		return Vec2! if l == 0
		Vec2 @x / l, @y / l

	angle: => atan2 @y, @x

	rotate: (theta) =>
		c, s = cos(theta), sin(theta)
		Vec2 c * @x - s * @y, s * @x + c * @y

	dist: (other) => (@ - other)\len!

	lerp: (other, t) => @ + (other - @) * t

	unpack: => @x, @y

	clone: => Vec2 @x, @y


-- add up any number of vectors
sum = (...) ->
	total = Vec2!
	for v in *{...}
		total += v
	total


centroid = (points) ->
	return Vec2! if #points == 0
	sum(unpack points) * (1 / #points)


closest = (target, points) ->
	best, best_d = nil, math.huge
	for p in *points
		d = (p - target)\len2!
		if d < best_d
			best, best_d = p, d
	best


{ :Vec2, :sum, :centroid, :closest }
