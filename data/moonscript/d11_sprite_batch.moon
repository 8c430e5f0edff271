-- LOVE sprite batching: thousands of decorations drawn in a handful of calls

CHUNK = 512
random = love.math.random

class Atlas
  new: (path, @tile = 16) =>
    @image = love.graphics.newImage path
    @image\setFilter "nearest", "nearest"
    @quads = {}
    iw, ih = @image\getDimensions!
    for row = 0, ih / @tile - 1
      for col = 0, iw / @tile - 1
        quad = love.graphics.newQuad col * @tile, row * @tile, @tile, @tile, iw, ih
        table.insert @quads, quad

  get: (n) => @quads[(n - 1) % #@quads + 1]


-- the world is cut into square chunks, each with its own static batch
class ChunkedBatch
  new: (@atlas, @capacity = 2000) =>
    @chunks = {}

  chunk_for: (x, y) =>
    cx, cy = math.floor(x / CHUNK), math.floor(y / CHUNK)
    key = "#{cx},#{cy}"
    unless @chunks[key]
      @chunks[key] = {
        :cx, :cy
        batch: love.graphics.newSpriteBatch @atlas.image, @capacity, "static"
        sprites: {}
        dirty: false
      }
    @chunks[key]

  add: (sprite_id, x, y, scale = 1) =>
    c = @chunk_for x, y
    table.insert c.sprites, {id: sprite_id, :x, :y, :scale}
    c.dirty = true
    #c.sprites

  remove_near: (x, y, radius) =>
    c = @chunk_for x, y
    before = #c.sprites
    r2 = radius * radius
    c.sprites = [s for s in *c.sprites when (s.x - x) ^ 2 + (s.y - y) ^ 2 > r2]
    c.dirty = true if #c.sprites != before
    before - #c.sprites

  rebuild: (c) =>
    -- only chunks that changed are re-uploaded to the GPU
    c.batch\clear!
    for s in *c.sprites
      c.batch\add @atlas\get(s.id), s.x, s.y, 0, s.scale, s.scale
    c.dirty = false

  visible: (c, vx, vy, vw, vh) =>
    x, y = c.cx * CHUNK, c.cy * CHUNK
    x + CHUNK > vx and x < vx + vw and y + CHUNK > vy and y < vy + vh

  draw: (vx, vy, vw, vh) =>
    drawn = 0
    for _, c in pairs @chunks
      if @visible c, vx, vy, vw, vh
        @rebuild c if c.dirty
        love.graphics.draw c.batch
        drawn += 1
    drawn


local forest, cam_x, cam_y

love.load = ->
  forest = ChunkedBatch Atlas("decor.png")
  cam_x, cam_y = 0, 0
  for i = 1, 5000
    forest\add random(1, 12), random(0, 4000), random(0, 4000), random(1, 3)

love.update = (dt) ->
  with love.keyboard
    cam_x += 400 * dt if .isDown "right"
    cam_x -= 400 * dt if .isDown "left"
    cam_y += 400 * dt if .isDown "down"
    cam_y -= 400 * dt if .isDown "up"

love.mousepressed = (mx, my) ->
  removed = forest\remove_near mx + cam_x, my + cam_y, 40
  print "cleared #{removed} sprites"

love.draw = ->
  w, h = love.graphics.getDimensions!
  love.graphics.push!
  love.graphics.translate -cam_x, -cam_y
  n = forest\draw cam_x, cam_y, w, h
  love.graphics.pop!
  love.graphics.print "chunks drawn: #{n}  fps: #{love.timer.getFPS!}", 10, 10
