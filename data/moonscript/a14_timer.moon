-- Timer utilities: delayed calls, repeating tasks and cooldowns

class Timer
  new: =>
    @tasks = {}
    @next_id = 0

  add: (task) =>
    @next_id += 1
    task.id = @next_id
    task.elapsed = 0
    @tasks[task.id] = task
    task.id

  after: (delay, fn) =>
    @add { :delay, :fn, looping: false }

  every: (interval, fn, times = math.huge) =>
    @add { delay: interval, :fn, looping: true, remaining: times }

  cancel: (id) =>
    @tasks[id] = nil

  clear: =>
    @tasks = {}

  update: (dt) =>
    for id, task in pairs @tasks
      task.elapsed += dt
      while task.elapsed >= task.delay
        task.elapsed -= task.delay
        result = task.fn task
        task.remaining -= 1 if task.looping
        if not task.looping or result == false or task.remaining <= 0
          @tasks[id] = nil
          break

  count: =>
    n = 0
    n += 1 for _ in pairs @tasks
    n


class Cooldown
  new: (@duration) =>
    @remaining = 0

  ready: => @remaining <= 0

  trigger: =>
    return false unless @ready!
    @remaining = @duration
    true

  update: (dt) =>
    @remaining = math.max 0, @remaining - dt

  progress: =>
    if @duration == 0 then 1 else 1 - @remaining / @duration


-- simulate two seconds of game time at 10 ticks per second
timer = Timer!
dash = Cooldown 0.8
ticks = 0

timer\after 1.5, -> print "boom"

on_tick = (task) ->
  ticks += 1
  print "tick #{ticks} (task #{task.id})"

timer\every 0.5, on_tick, 3

for step = 1, 20
  timer\update 0.1
  dash\update 0.1
  print "dash at step #{step}" if dash\trigger!

print "ticks: #{ticks}, pending: #{timer\count!}"

{ :Timer, :Cooldown }
