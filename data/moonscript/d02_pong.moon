-- LOVE pong: two paddles, a lazy AI opponent and a serve delay

WIDTH, HEIGHT = 800, 600
PADDLE_W, PADDLE_H = 12, 80

class Paddle
  new: (@x, @speed = 360) =>
    @y = HEIGHT / 2 - PADDLE_H / 2
    @score = 0

  move: (dir, dt) =>
    @y = math.max 0, math.min(HEIGHT - PADDLE_H, @y + dir * @speed * dt)

  center: => @y + PADDLE_H / 2

  hits: (ball) =>
    return false if ball.x > @x + PADDLE_W or ball.x + ball.size < @x
    ball.y + ball.size > @y and ball.y < @y + PADDLE_H

  draw: =>
    love.graphics.rectangle "fill", @x, @y, PADDLE_W, PADDLE_H


class Ball
  new: => @reset 1

  reset: (direction) =>
    @size = 10
    @x, @y = WIDTH / 2, HEIGHT / 2
    angle = (love.math.random! - 0.5) * math.pi / 3
    @vx = math.cos(angle) * 300 * direction
    @vy = math.sin(angle) * 300
    @wait = 1.0

  update: (dt) =>
    if @wait > 0
      @wait -= dt
      return
    @x += @vx * dt
    @y += @vy * dt
    if @y < 0 or @y + @size > HEIGHT
      @vy = -@vy
      @y = math.max 0, math.min(HEIGHT - @size, @y)

  -- steer the ball depending on where it struck the paddle
  bounce_off: (paddle) =>
    offset = (@y + @size / 2 - paddle\center!) / (PADDLE_H / 2)
    speed = math.sqrt(@vx * @vx + @vy * @vy) * 1.05
    dir = if paddle.x < WIDTH / 2 then 1 else -1
    @vx = dir * speed * math.cos(offset * 0.8)
    @vy = speed * math.sin(offset * 0.8)

  draw: =>
    love.graphics.rectangle "fill", @x, @y, @size, @size


local left, right, ball

love.load = ->
  love.window.setMode WIDTH, HEIGHT
  love.window.setTitle "Pong"
  left = Paddle 30
  right = Paddle WIDTH - 30 - PADDLE_W, 260
  ball = Ball!

love.update = (dt) ->
  dir = 0
  dir -= 1 if love.keyboard.isDown "w"
  dir += 1 if love.keyboard.isDown "s"
  left\move dir, dt

  -- the AI only reacts while the ball is heading its way
  if ball.vx > 0
    diff = ball.y - right\center!
    step = if diff > 0 then 1 else -1
    right\move step, dt if math.abs(diff) > 10

  ball\update dt
  for paddle in *{left, right}
    ball\bounce_off paddle if paddle\hits ball

  if ball.x < 0
    right.score += 1
    ball\reset 1
  elseif ball.x > WIDTH
    left.score += 1
    ball\reset -1

love.draw = ->
  for y = 0, HEIGHT, 30
    love.graphics.rectangle "fill", WIDTH / 2 - 1, y, 2, 15
  left\draw!
  right\draw!
  ball\draw!
  love.graphics.print "#{left.score}   #{right.score}", WIDTH / 2 - 24, 20

love.keypressed = (key) ->
  love.event.quit! if key == "escape"
