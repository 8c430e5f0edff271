-- Particle emitter for LOVE with object pooling and fading

lg = love.graphics
random = love.math and love.math.random or math.random


class Particle
  new: =>
    @reset 0, 0

  reset: (@x, @y, @vx = 0, @vy = 0, @life = 1) =>
    @age = 0
    @alive = true
    @

  update: (dt, gravity) =>
    @age += dt
    if @age >= @life
      @alive = false
      return
    @vy += gravity * dt
    @x += @vx * dt
    @y += @vy * dt

  alpha: => 1 - @age / @life


class Emitter
  new: (@x, @y, opts = {}) =>
    @rate = opts.rate or 40
    @spread = opts.spread or math.pi / 4
    @speed = opts.speed or { 80, 160 }
    @gravity = opts.gravity or 200
    @color = opts.color or { 1, 0.6, 0.2 }
    @pool = {}
    @active = {}
    @accum = 0

  spawn: =>
    p = table.remove(@pool) or Particle!
    angle = -math.pi / 2 + (random! - 0.5) * @spread
    speed = @speed[1] + random! * (@speed[2] - @speed[1])
    p\reset @x, @y, math.cos(angle) * speed, math.sin(angle) * speed, 0.6 + random! * 0.8
    table.insert @active, p

  burst: (n = 30) =>
    @spawn! for _ = 1, n

  update: (dt) =>
    @accum += dt * @rate
    while @accum >= 1
      @spawn!
      @accum -= 1
    i = 1
    while i <= #@active
      p = @active[i]
      p\update dt, @gravity
      if p.alive
        i += 1
      else
        -- swap-remove the dead particle and recycle it
        @active[i] = @active[#@active]
        @active[#@active] = nil
        table.insert @pool, p

  draw: =>
    r, g, b = unpack @color
    for p in *@active
      lg.setColor r, g, b, p\alpha!
      lg.circle "fill", p.x, p.y, 2 + 3 * p\alpha!
    lg.setColor 1, 1, 1, 1


export emitters = {}

love.load = ->
  lg.setBackgroundColor 0.05, 0.05, 0.1
  table.insert emitters, Emitter 400, 500, rate: 60
  table.insert emitters, Emitter 200, 500, color: { 0.3, 0.7, 1 }, gravity: 120

love.update = (dt) ->
  e\update dt for e in *emitters

love.draw = ->
  e\draw! for e in *emitters
  total = 0
  total += #e.active for e in *emitters
  lg.print "particles: #{total}", 10, 10

love.mousepressed = (x, y, button) ->
  switch button
    when 1
      spark = with Emitter(x, y, { rate: 0, spread: math.pi * 2 })
        \burst 60
      table.insert emitters, spark
    when 2
      emitters = [e for e in *emitters when e.rate > 0]
