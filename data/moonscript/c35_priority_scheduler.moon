-- Cooperative task scheduler with priorities and aging. Tasks are coroutines
-- that yield back to the scheduler; a task that keeps waiting slowly gains
-- priority, so low-priority work is never starved forever.
import insert, concat from table

class Task
  @next_id: 1

  new: (name, priority, fn) =>
    @id = Task.next_id
    Task.next_id += 1
    @name, @base, @priority = name, priority, priority
    @co = coroutine.create fn
    @waited = 0
    @wake_at = 0

  done: => coroutine.status(@co) == "dead"

-- helpers a task body calls to hand control back
sleep = (ticks) -> coroutine.yield "sleep", ticks
yield_now = -> coroutine.yield "yield"

class Scheduler
  new: (opts = {}) =>
    @tasks = {}
    @tick = 0
    @aging = opts.aging or 3   -- boost after this many ticks of waiting

  spawn: (name, priority, fn) =>
    task = Task name, priority, fn
    insert @tasks, task
    task

  -- highest effective priority among awake tasks; ties go to the oldest
  pick: =>
    best = nil
    for t in *@tasks
      continue if t.wake_at > @tick
      if not best or t.priority > best.priority or (t.priority == best.priority and t.id < best.id)
        best = t
    best

  step: =>
    @tick += 1
    task = @pick!
    if task
      ok, request, arg = coroutine.resume task.co, task, @tick
      error "task #{task.name} failed: #{request}" unless ok
      task.priority = task.base   -- running resets any boost
      task.waited = 0
      task.wake_at = @tick + arg if request == "sleep"
    -- every other awake task ages a little
    for t in *@tasks
      continue if t == task or t.wake_at > @tick
      t.waited += 1
      t.priority += 1 if t.waited % @aging == 0
    @tasks = [t for t in *@tasks when not t\done!]
    #@tasks > 0

  run: (max_ticks = 100) =>
    while @tick < max_ticks
      break unless @step!
    @tick


sched = Scheduler aging: 2
trace = {}

worker = (label, steps) ->
  (task) ->
    for i = 1, steps
      insert trace, "#{label}#{i}"
      yield_now!

sched\spawn "ui", 5, worker("U", 8)
sched\spawn "net", 3, (task) ->
  for i = 1, 2
    insert trace, "N#{i}"
    sleep 2
sched\spawn "backup", 1, worker("B", 2)

ticks = sched\run!
print concat trace, " "
print "finished in #{ticks} ticks"

{ :Scheduler, :Task, :sleep, :yield_now }
