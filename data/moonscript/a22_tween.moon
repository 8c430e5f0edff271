-- Tweening helpers with easing functions and chained sequences

import sin, cos, pi from math


easing = {
  linear: (t) -> t
  in_quad: (t) -> t * t
  out_quad: (t) -> t * (2 - t)
  in_out_quad: (t) ->
    if t < 0.5 then 2 * t * t else -1 + (4 - 2 * t) * t
  in_cubic: (t) -> t ^ 3
  out_cubic: (t) -> (t - 1) ^ 3 + 1
  in_sine: (t) -> 1 - cos(t * pi / 2)
  out_sine: (t) -> sin(t * pi / 2)
  out_bounce: (t) ->
    if t < 1 / 2.75
      7.5625 * t * t
    elseif t < 2 / 2.75
      t -= 1.5 / 2.75
      7.5625 * t * t + 0.75
    else
      t -= 2.625 / 2.75
      7.5625 * t * t + 0.984375
}


class Tween
  new: (@subject, @duration, @target, ease = "linear") =>
    @ease_fn = type(ease) == "function" and ease or easing[ease]
    assert @ease_fn, "unknown easing: #{ease}"
    @clock = 0
    @callbacks = {}

  on_complete: (fn) =>
    table.insert @callbacks, fn
    @

  update: (dt) =>
    @initial or= {k, @subject[k] for k in pairs @target}
    @clock = math.min @clock + dt, @duration
    ease = @ease_fn
    p = ease @clock / @duration
    for key, goal in pairs @target
      start = @initial[key]
      @subject[key] = start + (goal - start) * p
    done = @clock >= @duration
    if done
      cb @subject for cb in *@callbacks
    done


class Sequence
  new: (...) =>
    @steps = {...}
    @index = 1

  add: (tween) =>
    table.insert @steps, tween
    @

  update: (dt) =>
    step = @steps[@index]
    return true unless step
    @index += 1 if step\update dt
    @index > #@steps


tween = (...) -> Tween ...


box = { x: 0, y: 0, alpha: 0 }
seq = with Sequence!
  \add tween(box, 1.0, { x: 100, alpha: 1 }, "out_quad")
  \add tween(box, 0.5, { y: 50 }, "out_bounce")\on_complete (b) ->
    print "landed at #{b.x}, #{b.y}"

frames = 0
while not seq\update 1 / 30
  frames += 1

print "done after #{frames} frames, alpha=#{box.alpha}"

{ :Tween, :Sequence, :easing, :tween }
