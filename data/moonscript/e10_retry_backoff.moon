-- Retry a flaky operation with exponential backoff and optional jitter.
-- Sleeping is injected so tests and demos can run without waiting.
import insert, concat from table

unpack = table.unpack or unpack
pack = (...) -> { n: select("#", ...), ... }

-- busy wait; real code would use socket.sleep or an event loop timer
default_sleep = (seconds) ->
  deadline = os.clock! + seconds
  spins = 0
  while os.clock! < deadline
    spins += 1
  spins

class Backoff
  new: (opts = {}) =>
    @base = opts.base or 0.1
    @factor = opts.factor or 2
    @max_delay = opts.max_delay or 5
    @jitter = opts.jitter or 0
    @random = opts.random or math.random

  delay: (attempt) =>
    d = math.min @max_delay, @base * @factor ^ (attempt - 1)
    if @jitter > 0
      -- spread the delay by +/- jitter so clients do not retry in lockstep
      d += (@random! * 2 - 1) * d * @jitter
    math.max 0, d

class Constant extends Backoff
  delay: (attempt) => @base

retry = (fn, opts = {}) ->
  attempts = opts.attempts or 3
  backoff = opts.backoff or Backoff!
  sleep = opts.sleep or default_sleep
  should_retry = opts.should_retry or -> true
  errors = {}
  for attempt = 1, attempts
    results = pack pcall(fn, attempt)
    if results[1]
      return unpack results, 2, results.n
    err = results[2]
    insert errors, tostring(err)
    break unless should_retry err, attempt
    if attempt < attempts
      wait = backoff\delay attempt
      opts.on_retry attempt, wait, err if opts.on_retry
      sleep wait
  error "gave up after #{#errors} attempt(s): #{concat errors, '; '}", 0

-- demo with a fake sleep so nothing actually waits
calls = 0
flaky = (attempt) ->
  calls += 1
  error "timeout (call #{calls})", 0 if calls < 3
  "payload", attempt

fake_sleep = (s) -> print string.format("  sleeping %.3fs", s)

value, used = retry flaky, {
  attempts: 5
  sleep: fake_sleep
  backoff: Backoff base: 0.05, jitter: 0.2
  on_retry: (n, wait, err) -> print "attempt #{n} failed: #{err}"
}
print "got #{value} on attempt #{used}"

ok, err = pcall retry, (-> error "bad request", 0), {
  should_retry: (e) -> not e\match "^bad"
  sleep: fake_sleep
}
print ok, err

ok, err = pcall retry, (-> error "still down", 0), {
  attempts: 3
  backoff: Constant base: 0.5
  sleep: fake_sleep
}
print ok, err

{ :retry, :Backoff, :Constant }
