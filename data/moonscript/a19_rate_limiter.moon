-- Token bucket and sliding window rate limiters, keyed by client

clock = os.clock


class TokenBucket
  new: (@capacity = 10, @refill_rate = 1, @now = clock) =>
    @tokens = @capacity
    @updated = @current_time!

  current_time: =>
    now = @now
    now!

  refill: =>
    t = @current_time!
    elapsed = t - @updated
    @tokens = math.min @capacity, @tokens + elapsed * @refill_rate
    @updated = t

  take: (n = 1) =>
    @refill!
    if @tokens >= n
      @tokens -= n
      true
    else
      false, (n - @tokens) / @refill_rate

  available: =>
    @refill!
    math.floor @tokens


class SlidingWindow
  new: (@limit, @window, @now = clock) =>
    @hits = {}

  take: =>
    now = @now
    t = now!
    @hits = [h for h in *@hits when t - h < @window]
    return false, @window - (t - @hits[1]) if #@hits >= @limit
    table.insert @hits, t
    true


class Limiter
  new: (@factory) =>
    @buckets = {}
    @denied = 0

  check: (key, ...) =>
    factory = @factory
    @buckets[key] or= factory!
    ok, wait = @buckets[key]\take ...
    unless ok
      @denied += 1
      return false, string.format("rate limited, retry in %.2fs", wait)
    true

  prune: (keep = {}) =>
    @buckets = {k, v for k, v in pairs @buckets when keep[k]}


-- fake clock so the demo is deterministic
fake_time = 0
fake_clock = -> fake_time

api = Limiter -> TokenBucket 3, 0.5, fake_clock
logins = Limiter -> SlidingWindow 2, 60, fake_clock

for i = 1, 5
  ok, msg = api\check "10.0.0.1"
  print "request #{i}: #{ok and 'allowed' or msg}"
  fake_time += 0.5

for attempt = 1, 3
  ok, msg = logins\check "alice"
  print "login #{attempt}: #{ok and 'ok' or msg}"

print "denied so far: #{api.denied + logins.denied}"

{ :TokenBucket, :SlidingWindow, :Limiter }
