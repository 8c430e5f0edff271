-- 2D vector type shared by the LÖVE demos
import sqrt, atan2, cos, sin, min from math

class Vec2
  new: (@x = 0, @y = 0) =>

  @from_angle: (angle, len = 1) =>
    Vec2 cos(angle) * len, sin(angle) * len

  @from_table: (t) =>
    {:x, :y} = t
    Vec2 x or t[1], y or t[2]

  __add: (other) => Vec2 @x + other.x, @y + other.y
  __sub: (other) => Vec2 @x - other.x, @y - other.y
  __unm: => Vec2 -@x, -@y
  __eq: (other) => @x == other.x and @y == other.y
  __tostring: => "Vec2(#{@x}, #{@y})"

  -- scalar * vector, vector * scalar, or the dot product
  __mul: (a, b) ->
    if type(a) == "number"
      Vec2 b.x * a, b.y * a
    elseif type(b) == "number"
      Vec2 a.x * b, a.y * b
    else
      a.x * b.x + a.y * b.y

  __div: (k) => Vec2 @x / k, @y / k

  len2: => @x * @x + @y * @y
  len: => sqrt @len2!

  normalized: =>
    l = @len!
    return Vec2! if l == 0
    Vec2 @x / l, @y / l

  clamp_length: (max_len) =>
    l = @len!
    return @clone! if l <= max_len
    @normalized! * min(l, max_len)

  angle: => atan2 @y, @x

  rotate: (a) =>
    c, s = cos(a), sin(a)
    Vec2 @x * c - @y * s, @x * s + @y * c

  perpendicular: => Vec2 -@y, @x
  dist: (other) => (other - self)\len!
  lerp: (other, t) => self + (other - self) * t
  unpack: => @x, @y
  clone: => Vec2 @x, @y

Vec2.zero = -> Vec2 0, 0
Vec2.one = -> Vec2 1, 1

-- Helper used by the particle demo: average of many points
Vec2.centroid = (points) ->
  return Vec2! if #points == 0
  sum = Vec2!
  sum = sum + p for p in *points
  sum / #points

return Vec2
