-- Tweening helpers with easing functions, for love2d projects
import pi, sin, cos, min from math

easing = {
	linear: (t) -> t
	in_quad: (t) -> t * t
	out_quad: (t) -> t * (2 - t)
	in_out_quad: (t) ->
		if t < 0.5 then 2 * t * t else -1 + (4 - 2 * t) * t
	out_back: (t, s = 1.70158) ->
		t -= 1
		t * t * ((s + 1) * t + s) + 1
	out_elastic: (t) ->
		return t if t == 0 or t == 1
		2 ^ (-10 * t) * sin((t - 0.075) * (2 * pi) / 0.3) + 1
	in_sine: (t) -> 1 - cos(t * pi / 2)
}

class Tween
	new: (@target, @duration, @goal, ease = "linear") =>
		@ease_fn = type(ease) == "function" and ease or easing[ease]
		error "unknown easing #{ease}" unless @ease_fn
		@clock = 0
		@start = {k, @target[k] for k in pairs @goal}
		@callbacks = {}
		@done = false

	on_complete: (fn) =>
		table.insert @callbacks, fn
		@

	update: (dt) =>
		return true if @done
		@clock = min @clock + dt, @duration
		f = @ease_fn
		k = f @clock / @duration
		for key, goal in pairs @goal
			origin = @start[key]
			@target[key] = origin + (goal - origin) * k
		if @clock >= @duration
			@done = true
			cb @target for cb in *@callbacks
		@done

class Timeline
	new: =>
		@tweens = {}

	to: (target, duration, goal, ease) =>
		tween = Tween target, duration, goal, ease
		table.insert @tweens, tween
		tween

	update: (dt) =>
		@tweens = [t for t in *@tweens when not t\update dt]

	count: => #@tweens

-- shared timeline for quick scripts
export tweens = Timeline!

demo_box = (box) ->
	with tweens\to box, 1.2, {x: 400, alpha: 1}, "out_back"
		\on_complete -> print "arrived at #{box.x}"

return { :easing, :Tween, :Timeline, :demo_box }
