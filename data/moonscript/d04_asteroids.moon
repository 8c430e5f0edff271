-- LOVE asteroids: wrapping space, a rotating ship, bullets and splitting rocks

import cos, sin, pi, sqrt from math
W, H = 800, 600
random = love.math.random

class Body
  new: (@x, @y, @vx = 0, @vy = 0, @r = 10) =>
    @dead = false

  update: (dt) =>
    @x = (@x + @vx * dt) % W
    @y = (@y + @vy * dt) % H

  touches: (o) =>
    dx, dy = @x - o.x, @y - o.y
    sqrt(dx * dx + dy * dy) < @r + o.r


class Ship extends Body
  new: =>
    super W / 2, H / 2, 0, 0, 12
    @angle = -pi / 2
    @cooldown = 0

  update: (dt) =>
    kb = love.keyboard
    @angle -= 3.5 * dt if kb.isDown "left"
    @angle += 3.5 * dt if kb.isDown "right"
    if kb.isDown "up"
      @vx += cos(@angle) * 200 * dt
      @vy += sin(@angle) * 200 * dt
    -- gentle drag so the ship eventually drifts to a stop
    @vx *= 0.99
    @vy *= 0.99
    @cooldown -= dt
    super dt

  fire: =>
    return nil if @cooldown > 0
    @cooldown = 0.25
    nose_x, nose_y = @x + cos(@angle) * 14, @y + sin(@angle) * 14
    bullet = Body nose_x, nose_y, cos(@angle) * 420, sin(@angle) * 420, 2
    bullet.life = 1.2
    bullet

  draw: =>
    points = {}
    for a in *{0, 2.5, -2.5}
      r = if a == 0 then 16 else 10
      table.insert points, @x + cos(@angle + a) * r
      table.insert points, @y + sin(@angle + a) * r
    love.graphics.polygon "line", points


class Rock extends Body
  new: (x, y, @size = 3) =>
    speed = 40 + random! * 40 * (4 - @size)
    a = random! * pi * 2
    super x, y, cos(a) * speed, sin(a) * speed, @size * 12

  split: =>
    return {} if @size == 1
    [Rock(@x, @y, @size - 1) for _ = 1, 2]

  draw: => love.graphics.circle "line", @x, @y, @r


local ship, rocks, bullets, score

spawn_wave = (n) ->
  -- rocks start on the top edge so the ship is never hit at spawn
  rocks = [Rock(random! * W, 0) for i = 1, n]

love.load = ->
  ship, bullets, score = Ship!, {}, 0
  spawn_wave 4

love.update = (dt) ->
  ship\update dt
  if love.keyboard.isDown "space"
    if b = ship\fire!
      table.insert bullets, b
  for b in *bullets
    b\update dt
    b.life -= dt
    b.dead = true if b.life <= 0

  fresh, crashed = {}, false
  for rock in *rocks
    rock\update dt
    for b in *bullets
      if not b.dead and not rock.dead and rock\touches b
        b.dead, rock.dead = true, true
        score += 10 * (4 - rock.size)
        pieces = rock\split!
        table.insert fresh, piece for piece in *pieces
    crashed = true if not rock.dead and rock\touches ship
  return love.load! if crashed

  rocks = [r for r in *rocks when not r.dead]
  table.insert rocks, r for r in *fresh
  bullets = [b for b in *bullets when not b.dead]
  spawn_wave 5 if #rocks == 0

love.draw = ->
  ship\draw!
  rock\draw! for rock in *rocks
  love.graphics.circle "fill", b.x, b.y, 2 for b in *bullets
  love.graphics.print "Score: #{score}", 10, 10
