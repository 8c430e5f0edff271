-- LOVE camera: smooth follow, zoom, screen shake and coordinate conversion

class Camera
	new: (@x = 0, @y = 0, @scale = 1) =>
		@rotation = 0
		@shake_time = 0
		@shake_power = 0
		@bounds = nil

	set_bounds: (x, y, w, h) =>
		@bounds = {:x, :y, :w, :h}

	follow: (tx, ty, dt, stiffness = 6) =>
		-- frame-rate independent exponential smoothing
		t = 1 - math.exp(-stiffness * dt)
		@x += (tx - @x) * t
		@y += (ty - @y) * t
		@clamp!

	clamp: =>
		return unless @bounds
		sw, sh = love.graphics.getDimensions!
		half_w, half_h = sw / 2 / @scale, sh / 2 / @scale
		b = @bounds
		@x = math.max b.x + half_w, math.min(b.x + b.w - half_w, @x)
		@y = math.max b.y + half_h, math.min(b.y + b.h - half_h, @y)

	shake: (power = 6, duration = 0.3) =>
		@shake_power = math.max @shake_power, power
		@shake_time = math.max @shake_time, duration

	update: (dt) =>
		if @shake_time > 0
			@shake_time -= dt
			@shake_power = 0 if @shake_time <= 0

	zoom: (factor) =>
		@scale = math.max 0.25, math.min(4, @scale * factor)

	attach: =>
		sw, sh = love.graphics.getDimensions!
		ox, oy = 0, 0
		if @shake_power > 0
			ox = (love.math.random! * 2 - 1) * @shake_power
			oy = (love.math.random! * 2 - 1) * @shake_power
		with love.graphics
			.push!
			.translate sw / 2 + ox, sh / 2 + oy
			.scale @scale
			.rotate @rotation
			.translate -@x, -@y

	detach: => love.graphics.pop!

	to_world: (sx, sy) =>
		sw, sh = love.graphics.getDimensions!
		return (sx - sw / 2) / @scale + @x, (sy - sh / 2) / @scale + @y

	to_screen: (wx, wy) =>
		sw, sh = love.graphics.getDimensions!
		return (wx - @x) * @scale + sw / 2, (wy - @y) * @scale + sh / 2


camera = Camera!
player = {x: 400, y: 300}
markers = [{x: i * 120, y: (i % 3) * 150 + 200} for i = 0, 20]

love.load = ->
	camera\set_bounds 0, 0, 2400, 1200

love.update = (dt) ->
	speed = 300
	with love.keyboard
		player.x += speed * dt if .isDown "right"
		player.x -= speed * dt if .isDown "left"
		player.y += speed * dt if .isDown "down"
		player.y -= speed * dt if .isDown "up"
	camera\follow player.x, player.y, dt
	camera\update dt

love.wheelmoved = (_, dy) ->
	factor = if dy > 0 then 1.1 else 0.9
	camera\zoom factor

love.mousepressed = (mx, my) ->
	wx, wy = camera\to_world mx, my
	print "clicked world position #{math.floor wx}, #{math.floor wy}"
	camera\shake 8

love.draw = ->
	camera\attach!
	love.graphics.rectangle "line", 0, 0, 2400, 1200
	love.graphics.circle "fill", m.x, m.y, 10 for m in *markers
	love.graphics.rectangle "fill", player.x - 8, player.y - 8, 16, 16
	camera\detach!
	zoom = string.format "%.2f", camera.scale
	love.graphics.print "zoom #{zoom}", 10, 10
