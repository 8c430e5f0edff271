-- Circuit breaker: stop calling a failing dependency for a while, then
-- let a single probe through to see whether it has recovered.
--   closed --(too many failures)--> open --(cooldown)--> half_open
--   half_open --(success)--> closed, half_open --(failure)--> open

class CircuitOpenError
  new: (@name, @retry_in) =>
  __tostring: => "circuit '#{@name}' is open, retry in #{@retry_in}s"

class CircuitBreaker
  new: (@name, opts = {}) =>
    @threshold = opts.threshold or 3
    @cooldown = opts.cooldown or 10
    @clock = opts.clock or os.time
    @state = "closed"
    @failures = 0
    @opened_at = nil
    @stats = { calls: 0, failures: 0, rejected: 0, successes: 0 }
    @listeners = {}

  on_change: (fn) =>
    table.insert @listeners, fn
    @

  transition: (state) =>
    return if state == @state
    old = @state
    @state = state
    fn @name, old, state for fn in *@listeners

  current_state: =>
    if @state == "open" and @clock! - @opened_at >= @cooldown
      @transition "half_open"
    @state

  record_success: =>
    @stats.successes += 1
    @failures = 0
    @transition "closed"

  record_failure: =>
    @stats.failures += 1
    @failures += 1
    if @state == "half_open" or @failures >= @threshold
      @opened_at = @clock!
      @transition "open"

  call: (fn, ...) =>
    @stats.calls += 1
    if @current_state! == "open"
      @stats.rejected += 1
      remaining = @cooldown - (@clock! - @opened_at)
      error CircuitOpenError(@name, remaining), 0
    ok, result = pcall fn, ...
    if ok
      @record_success!
      return result
    @record_failure!
    error result, 0

  -- wrap a function so callers do not need to know about the breaker
  wrap: (fn) => (...) -> @call fn, ...

-- demo with a controllable clock and backend
now = 0
healthy = false
service = (x) ->
  error "connection refused", 0 unless healthy
  x * 10

breaker = CircuitBreaker "payments", threshold: 2, cooldown: 30, clock: -> now
breaker\on_change (name, from_state, to_state) ->
  print "[#{name}] #{from_state} -> #{to_state}"

guarded = breaker\wrap service

attempt = (x) ->
  ok, res = pcall guarded, x
  print "call(#{x}) -> #{ok and res or tostring(res)}"

attempt 1
attempt 2
attempt 3        -- rejected without touching the service
now += 31
attempt 4        -- half-open probe fails, circuit opens again
now += 31
healthy = true
attempt 5        -- probe succeeds, circuit closes
attempt 6

with breaker.stats
  print "calls=#{.calls} ok=#{.successes} failed=#{.failures} rejected=#{.rejected}"

{ :CircuitBreaker, :CircuitOpenError }
