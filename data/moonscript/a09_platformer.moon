-- LOVE platformer: a player that runs, jumps and collects coins

GRAVITY = 1400
JUMP_SPEED = 520
export DEBUG = false


class Entity
	new: (@x, @y, @w = 16, @h = 16) =>
		@vx, @vy = 0, 0
		@alive = true

	bounds: => @x, @y, @w, @h

	overlaps: (o) =>
		horizontal = @x < o.x + o.w and o.x < @x + @w
		vertical = @y < o.y + o.h and o.y < @y + @h
		horizontal and vertical

	update: (dt) =>
		@x += @vx * dt
		@y += @vy * dt

	draw: =>
		love.graphics.rectangle "line", @bounds!


class Player extends Entity
	@speed: 220

	new: (x, y) =>
		super x, y, 14, 22
		@state = "idle"
		@on_ground = false
		@coins = 0

	handle_input: =>
		kb = love.keyboard
		dir = 0
		dir -= 1 if kb.isDown "left", "a"
		dir += 1 if kb.isDown "right", "d"
		@vx = dir * @@speed
		if @on_ground and kb.isDown "space"
			@vy = -JUMP_SPEED
			@on_ground = false

	update: (dt, floor_y) =>
		@handle_input!
		@vy += GRAVITY * dt
		super dt
		if @y + @h >= floor_y
			@y = floor_y - @h
			@vy = 0
			@on_ground = true
		@state = if not @on_ground
			"jump"
		elseif @vx != 0
			"run"
		else
			"idle"

	draw: =>
		with love.graphics
			.setColor 0.2, 0.6, 1
			.rectangle "fill", @bounds!
			.setColor 1, 1, 1
			.print @state, @x - 4, @y - 16 if DEBUG


local player, coins
floor_y = 400

love.load = ->
	love.window.setTitle "Coin Run"
	player = Player 50, 300
	coins = [Entity(120 + i * 60, 370, 10, 10) for i = 1, 8]

love.update = (dt) ->
	player\update dt, floor_y
	for coin in *coins
		if coin.alive and player\overlaps coin
			coin.alive = false
			player.coins += 1
	coins = [c for c in *coins when c.alive]

love.draw = ->
	love.graphics.line 0, floor_y, 800, floor_y
	player\draw!
	coin\draw! for coin in *coins
	love.graphics.print "Coins: #{player.coins}", 10, 10

love.keypressed = (key) ->
	switch key
		when "escape" then love.event.quit!
		when "f1" then DEBUG = not DEBUG
