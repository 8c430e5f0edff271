-- Job queue processed by a pool of coroutine workers. Each job runs in its
-- own coroutine and may yield to give other jobs a turn; failed jobs are
-- retried a limited number of times, then moved to the dead-letter list.
import insert, remove, sort from table

class Job
  @next_id: 1

  new: (@name, @fn, opts = {}) =>
    @id = @@next_id
    @@next_id += 1
    @priority = opts.priority or 0
    @max_attempts = opts.attempts or 2
    @attempts = 0

class JobQueue
  new: (@worker_count = 2) =>
    @pending = {}
    @done = {}
    @dead = {}
    @log = {}

  push: (name, fn, opts) =>
    insert @pending, Job(name, fn, opts)
    -- higher priority first, then first-in first-out
    sort @pending, (a, b) ->
      if a.priority == b.priority then a.id < b.id else a.priority > b.priority
    @

  note: (msg) => insert @log, msg

  worker: (n) =>
    coroutine.create ->
      while true
        job = remove @pending, 1
        break unless job
        job.attempts += 1
        co = coroutine.create job.fn
        ok, err = coroutine.resume co, job
        -- keep resuming the job, yielding to the other workers in between
        while ok and coroutine.status(co) != "dead"
          coroutine.yield job.name
          ok, err = coroutine.resume co
        if ok
          insert @done, job
          @note "worker #{n}: finished #{job.name}"
        elseif job.attempts < job.max_attempts
          @note "worker #{n}: retrying #{job.name} (#{err})"
          insert @pending, job
        else
          @note "worker #{n}: gave up on #{job.name} (#{err})"
          insert @dead, job

  run: =>
    workers = [@worker i for i = 1, @worker_count]
    ticks = 0
    while #workers > 0
      ticks += 1
      alive = {}
      for w in *workers
        coroutine.resume w
        insert alive, w unless coroutine.status(w) == "dead"
      workers = alive
    ticks

-- demo
q = JobQueue 2
q\push "resize-images", (job) ->
  for i = 1, 3
    coroutine.yield i

q\push "send-email", ((job) -> error "smtp timeout", 0 if job.attempts == 1), priority: 5
q\push "always-broken", (-> error "disk full", 0), attempts: 3
q\push "reindex", (job) ->
  coroutine.yield!
  job.result = "42 documents"

ticks = q\run!
print line for line in *q.log
print "ticks=#{ticks} done=#{#q.done} dead=#{#q.dead}"
print "done in order: " .. table.concat [j.name for j in *q.done], ", "

{ :JobQueue, :Job }
