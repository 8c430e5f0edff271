-- LOVE breakout: a brick grid, a paddle, one ball and three lives

W, H = 640, 480
import insert, remove from table

class Brick
	new: (@x, @y, @hp = 1) =>
		@w, @h = 56, 18

	-- returns true once the brick is destroyed
	hit: =>
		@hp -= 1
		@hp <= 0

	color: =>
		switch @hp
			when 1 then {0.9, 0.4, 0.3}
			when 2 then {0.9, 0.7, 0.2}
			else {0.5, 0.8, 0.9}

build_level = (rows = 5) ->
	bricks = {}
	for row = 1, rows
		for col = 0, 9
			hp = if row <= 2 then 2 else 1
			insert bricks, Brick(20 + col * 61, 40 + row * 24, hp)
	bricks

paddle = {x: W / 2 - 40, y: H - 30, w: 80, h: 10}
ball = {}
lives, bricks = 3, {}

reset_ball = ->
	ball.x, ball.y = paddle.x + paddle.w / 2, paddle.y - 10
	ball.vx, ball.vy = 0, 0
	ball.stuck = true

launch = ->
	return unless ball.stuck
	ball.stuck = false
	ball.vx, ball.vy = 180, -280

overlaps = (b, r) ->
	b.x + 4 > r.x and b.x - 4 < r.x + r.w and b.y + 4 > r.y and b.y - 4 < r.y + r.h

love.load = ->
	love.window.setMode W, H
	bricks = build_level!
	reset_ball!

love.update = (dt) ->
	if love.keyboard.isDown "left"
		paddle.x = math.max 0, paddle.x - 400 * dt
	elseif love.keyboard.isDown "right"
		paddle.x = math.min W - paddle.w, paddle.x + 400 * dt

	if ball.stuck
		ball.x = paddle.x + paddle.w / 2
		return

	ball.x += ball.vx * dt
	ball.y += ball.vy * dt
	ball.vx = math.abs(ball.vx) if ball.x < 4
	ball.vx = -math.abs(ball.vx) if ball.x > W - 4
	ball.vy = math.abs(ball.vy) if ball.y < 4

	if ball.vy > 0 and overlaps ball, paddle
		-- the further from the centre, the steeper the bounce
		rel = (ball.x - (paddle.x + paddle.w / 2)) / (paddle.w / 2)
		ball.vx = rel * 260
		ball.vy = -math.abs(ball.vy)

	for i = #bricks, 1, -1
		brick = bricks[i]
		if overlaps ball, brick
			ball.vy = -ball.vy
			remove bricks, i if brick\hit!
			break

	if ball.y > H
		lives -= 1
		if lives == 0
			lives = 3
			bricks = build_level!
		reset_ball!
	elseif #bricks == 0
		bricks = build_level 6
		reset_ball!

love.draw = ->
	g = love.graphics
	for brick in *bricks
		g.setColor brick\color!
		g.rectangle "fill", brick.x, brick.y, brick.w, brick.h
	g.setColor 1, 1, 1
	g.rectangle "fill", paddle.x, paddle.y, paddle.w, paddle.h
	g.circle "fill", ball.x, ball.y, 4
	g.print "Lives: #{lives}  Bricks left: #{#bricks}", 10, H - 20
	g.print "SPACE to launch", W - 120, H - 20 if ball.stuck

love.keypressed = (key) ->
	launch! if key == "space"
	love.event.quit! if key == "escape"
