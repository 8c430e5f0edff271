-- Cooperative task scheduler built on coroutines
import create, resume, status, yield from coroutine

class Task
	@next_id = 1

	new: (@fn, @name) =>
		@id = @@next_id
		@@next_id += 1
		@name = @name or "task-#{@id}"
		@co = create @fn
		@wake_at = 0
		@result = nil

	step: (now, ...) =>
		ok, req = resume @co, ...
		unless ok
			return "failed", req
		if status(@co) == "dead"
			@result = req
			return "done"
		@wake_at = now + req if type(req) == "number"
		"waiting"

class Scheduler
	new: (@clock = os.clock) =>
		@tasks = {}
		@log = {}

	spawn: (fn, name) =>
		task = Task fn, name
		table.insert @tasks, task
		task

	tick: =>
		clock = @clock
		now = clock!
		still = {}
		for task in *@tasks
			if task.wake_at > now
				table.insert still, task
				continue
			state, err = task\step now
			switch state
				when "waiting"
					table.insert still, task
				when "failed"
					table.insert @log, "#{task.name} crashed: #{err}"
				else
					table.insert @log, "#{task.name} finished"
		@tasks = still
		#@tasks

	run: (max_ticks = math.huge) =>
		ticks = 0
		while @tick! > 0 and ticks < max_ticks
			ticks += 1
		ticks

sleep = (seconds = 0) -> yield seconds

demo = ->
	sched = Scheduler!
	import \spawn from sched
	pinger = ->
		for i = 1, 3
			print "ping #{i}"
			sleep 0.01
	spawn pinger, "pinger"
	spawn -> error "boom"
	sched\run 100000
	print line for line in *sched.log

return { :Task, :Scheduler, :sleep, :demo }
