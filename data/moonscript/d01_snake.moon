-- LOVE snake: grid movement, a growing tail and self-collision

CELL = 20
COLS, ROWS = 32, 24
STEP_TIME = 0.12

class Snake
  new: (x, y) =>
    @body = [{x: x - i, y: y} for i = 0, 3]
    @dir = {x: 1, y: 0}
    @next_dir = @dir
    @grow = 0

  head: => @body[1]

  turn: (dx, dy) =>
    -- refuse to reverse straight into our own neck
    return if dx == -@dir.x and dy == -@dir.y
    @next_dir = {x: dx, y: dy}

  occupies: (x, y, skip_head = false) =>
    start = if skip_head then 2 else 1
    for i = start, #@body
      seg = @body[i]
      return true if seg.x == x and seg.y == y
    false

  -- moves one cell; returns false when the snake bit itself
  advance: =>
    @dir = @next_dir
    h = @head!
    nx = (h.x + @dir.x) % COLS
    ny = (h.y + @dir.y) % ROWS
    table.insert @body, 1, {x: nx, y: ny}
    if @grow > 0
      @grow -= 1
    else
      table.remove @body
    not @occupies nx, ny, true

local snake, food, timer, score, state

place_food = ->
  while true
    x, y = love.math.random(0, COLS - 1), love.math.random(0, ROWS - 1)
    unless snake\occupies x, y
      return {:x, :y}

reset = ->
  snake = Snake 10, 12
  food = place_food!
  timer, score, state = 0, 0, "playing"

love.load = ->
  love.window.setMode COLS * CELL, ROWS * CELL
  love.window.setTitle "Snake"
  reset!

love.update = (dt) ->
  return unless state == "playing"
  timer += dt
  while timer >= STEP_TIME
    timer -= STEP_TIME
    unless snake\advance!
      state = "dead"
      return
    h = snake\head!
    if h.x == food.x and h.y == food.y
      score += 10
      snake.grow += 2
      food = place_food!

love.draw = ->
  with love.graphics
    .setColor 0.9, 0.2, 0.2
    .rectangle "fill", food.x * CELL, food.y * CELL, CELL - 1, CELL - 1
    for i, seg in ipairs snake.body
      shade = if i == 1 then 1 else 0.7
      .setColor 0.2, shade, 0.3
      .rectangle "fill", seg.x * CELL, seg.y * CELL, CELL - 1, CELL - 1
    .setColor 1, 1, 1
    .print "Score: #{score}", 8, 8
    if state == "dead"
      .printf "Game over - press R", 0, ROWS * CELL / 2, COLS * CELL, "center"

love.keypressed = (key) ->
  switch key
    when "up", "w" then snake\turn 0, -1
    when "down", "s" then snake\turn 0, 1
    when "left", "a" then snake\turn -1, 0
    when "right", "d" then snake\turn 1, 0
    when "r"
      reset! if state == "dead"
    when "escape"
      love.event.quit!
