-- Entities for a small top-down shooter (LÖVE 11)
import graphics, keyboard from love

export DEBUG_DRAW = false

class Entity
  @count = 0

  new: (@x, @y, @w = 16, @h = 16) =>
    @@count += 1
    @id = @@count
    @alive = true
    @vx, @vy = 0, 0

  update: (dt) =>
    @x += @vx * dt
    @y += @vy * dt

  draw: =>
    graphics.rectangle "line", @x, @y, @w, @h

  bounds: => @x, @y, @w, @h

  kill: => @alive = false

class Player extends Entity
  speed: 180

  new: (x, y) =>
    super x, y, 20, 20
    @health = 3
    @cooldown = 0

  update: (dt) =>
    dx, dy = 0, 0
    dx -= 1 if keyboard.isDown "left", "a"
    dx += 1 if keyboard.isDown "right", "d"
    dy -= 1 if keyboard.isDown "up", "w"
    dy += 1 if keyboard.isDown "down", "s"
    @vx, @vy = dx * @speed, dy * @speed
    @cooldown = math.max 0, @cooldown - dt
    super dt

  draw: =>
    with graphics
      .setColor 0.2, 0.8, 0.3
      .rectangle "fill", @x, @y, @w, @h
      .setColor 1, 1, 1
      .print "HP #{@health}", @x, @y - 14

class Bullet extends Entity
  new: (x, y, dir) =>
    super x, y, 4, 4
    @vx = dir * 400
    @life = 1.5

  update: (dt) =>
    super dt
    @life -= dt
    @kill! if @life <= 0

class World
  new: =>
    @entities = {}

  add: (...) =>
    for e in *{...}
      table.insert @entities, e
    ...

  update: (dt) =>
    e\update dt for e in *@entities
    @entities = [e for e in *@entities when e.alive]

  draw: =>
    e\draw! for e in *@entities
    if DEBUG_DRAW
      graphics.print "#{#@entities} entities", 10, 10

world = World!
import \add from world
player = nil

love.load = ->
  player = add Player 100, 100

love.update = (dt) -> world\update dt

love.keypressed = (key) ->
  switch key
    when "space"
      if player.cooldown == 0
        add Bullet player.x + player.w, player.y + 8, 1
        player.cooldown = 0.25
    when "f1"
      DEBUG_DRAW = not DEBUG_DRAW
    when "escape"
      love.event.quit!

love.draw = -> world\draw!
