-- LOVE sprite animation: slice a sheet into quads and play them back

class Grid
  new: (@frame_w, @frame_h, @image_w, @image_h) =>
    @cache = {}

  quad: (col, row) =>
    key = "#{col}:#{row}"
    unless @cache[key]
      x, y = (col - 1) * @frame_w, (row - 1) * @frame_h
      @cache[key] = love.graphics.newQuad x, y, @frame_w, @frame_h, @image_w, @image_h
    @cache[key]

  -- "1-4" style ranges along a single row; "4-1" plays backwards
  frames: (range, row) =>
    a, b = range\match "(%d+)-(%d+)"
    a, b = tonumber(a or range), tonumber(b or range)
    step = if a <= b then 1 else -1
    [@quad(col, row) for col = a, b, step]


class Animation
  new: (@frames, durations = 0.1, @mode = "loop") =>
    @durations = if type(durations) == "table"
      durations
    else
      [durations for _ in *@frames]
    @reset!

  reset: =>
    @index, @timer, @direction, @finished = 1, 0, 1, false

  update: (dt) =>
    return if @finished
    @timer += dt
    while @timer >= @durations[@index]
      @timer -= @durations[@index]
      @advance!
      break if @finished

  advance: =>
    nxt = @index + @direction
    if nxt >= 1 and nxt <= #@frames
      @index = nxt
      return
    switch @mode
      when "loop"
        @index = 1
      when "pingpong"
        @direction = -@direction
        @index += @direction if #@frames > 1
      when "once"
        @finished = true
        @on_finish! if @on_finish

  draw: (image, x, y, flip_x = false, scale = 1) =>
    quad = @frames[@index]
    sx = if flip_x then -scale else scale
    _, _, w = quad\getViewport!
    -- when mirrored, shift the origin so the sprite stays in place
    ox = if flip_x then w else 0
    love.graphics.draw image, quad, x, y, 0, sx, scale, ox, 0


local sheet, anims, current, facing_left

love.load = ->
  sheet = love.graphics.newImage "hero.png"
  sheet\setFilter "nearest", "nearest"
  grid = Grid 32, 32, sheet\getWidth!, sheet\getHeight!
  anims = {
    idle: Animation(grid\frames("1-4", 1), 0.2, "pingpong")
    run: Animation(grid\frames("1-6", 2), 0.08)
    attack: Animation(grid\frames("1-5", 3), {0.05, 0.05, 0.1, 0.15, 0.2}, "once")
  }
  anims.attack.on_finish = -> current = anims.idle
  current = anims.idle
  facing_left = false

love.update = (dt) ->
  kb = love.keyboard
  unless current == anims.attack
    if kb.isDown "left", "right"
      facing_left = kb.isDown "left"
      current = anims.run
    else
      current = anims.idle
  current\update dt

love.keypressed = (key) ->
  if key == "x" and current != anims.attack
    anims.attack\reset!
    current = anims.attack

love.draw = ->
  love.graphics.print "frame #{current.index}/#{#current.frames}", 10, 10
  current\draw sheet, 200, 200, facing_left, 4
