-- LOVE vertical space shooter: enemy waves, a starfield and a health bar

W, H = 480, 640
random = love.math.random

class Enemy
  new: (@kind, @x, @y = -20) =>
    switch @kind
      when "scout"
        @hp, @speed, @points = 1, 160, 50
      when "tank"
        @hp, @speed, @points = 5, 60, 200
      else
        @hp, @speed, @points = 2, 100, 100
    @t = 0
    @origin_x = @x

  update: (dt) =>
    @t += dt
    @y += @speed * dt
    -- scouts weave side to side, everything else flies straight down
    if @kind == "scout"
      @x = @origin_x + math.sin(@t * 4) * 60

  offscreen: => @y > H + 20

  draw: =>
    size = if @kind == "tank" then 18 else 12
    love.graphics.setColor 1, 0.3, 0.3
    love.graphics.rectangle "fill", @x - size, @y - size, size * 2, size * 2


stars = [{x: random(0, W), y: random(0, H), speed: random(20, 80)} for i = 1, 60]
player = {x: W / 2, y: H - 60, hp: 5, reload: 0}
shots, enemies = {}, {}
score, wave_timer, wave = 0, 0, 0

next_wave = ->
  wave += 1
  kinds = {"scout", "fighter", "tank"}
  unlocked = math.min #kinds, 1 + math.floor(wave / 2)
  for i = 1, 3 + wave
    kind = kinds[random(1, unlocked)]
    table.insert enemies, Enemy(kind, random(40, W - 40), -i * 50)

love.update = (dt) ->
  return if player.hp <= 0
  for s in *stars
    s.y = (s.y + s.speed * dt) % H

  kb = love.keyboard
  player.x -= 260 * dt if kb.isDown "left"
  player.x += 260 * dt if kb.isDown "right"
  player.x = math.max 16, math.min(W - 16, player.x)
  player.reload -= dt
  if kb.isDown("space") and player.reload <= 0
    player.reload = 0.18
    table.insert shots, {x: player.x, y: player.y - 16}

  s.y -= 500 * dt for s in *shots
  for e in *enemies
    e\update dt
    for s in *shots
      if not s.used and math.abs(s.x - e.x) < 16 and math.abs(s.y - e.y) < 16
        s.used = true
        e.hp -= 1
    if e.hp <= 0
      score += e.points
    elseif math.abs(e.x - player.x) < 20 and math.abs(e.y - player.y) < 20
      player.hp -= 1
      e.hp = 0
  enemies = [e for e in *enemies when e.hp > 0 and not e\offscreen!]
  shots = [s for s in *shots when not s.used and s.y > -10]

  wave_timer -= dt
  if #enemies == 0 or wave_timer <= 0
    next_wave!
    wave_timer = 12

love.draw = ->
  g = love.graphics
  g.setColor 0.7, 0.7, 0.8
  g.points s.x, s.y for s in *stars
  e\draw! for e in *enemies
  g.setColor 0.4, 0.9, 1
  px, py = player.x, player.y
  g.polygon "fill", px, py - 16, px - 14, py + 12, px + 14, py + 12
  g.setColor 1, 1, 0.4
  g.rectangle "fill", s.x - 1, s.y - 6, 2, 12 for s in *shots
  -- health bar along the bottom edge
  g.setColor 0.2, 0.8, 0.3
  g.rectangle "fill", 10, H - 20, player.hp * 30, 8
  g.setColor 1, 1, 1
  g.print "Score #{score}  Wave #{wave}", 10, 10
  if player.hp <= 0
    g.printf "GAME OVER", 0, H / 2, W, "center"

love.keypressed = (key) ->
  love.event.quit! if key == "escape"
