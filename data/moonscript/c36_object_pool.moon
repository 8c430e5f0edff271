-- Object pool: recycle short-lived objects instead of allocating new ones.
-- A subclass adds ownership tracking on top of the basic pool.
import insert, remove from table

class ObjectPool
  new: (factory, reset, opts = {}) =>
    @factory = factory
    @reset = reset or (obj) -> obj
    @free = {}
    @max_free = opts.max_free or 64
    @created = 0
    @reused = 0
    -- warm the pool up front if asked to
    for _ = 1, opts.prefill or 0
      @created += 1
      insert @free, factory!

  acquire: (...) =>
    obj = remove @free
    if obj
      @reused += 1
    else
      @created += 1
      make = @factory
      obj = make!
    init = @reset
    init obj, ...
    obj

  release: (obj) =>
    if #@free < @max_free
      insert @free, obj
      return true
    false   -- pool is full, let the garbage collector have it

  stats: => "created=#{@created} reused=#{@reused} free=#{#@free}"

class TrackedPool extends ObjectPool
  new: (...) =>
    super ...
    @live = {}
    @live_count = 0

  acquire: (...) =>
    obj = super ...
    @live[obj] = true
    @live_count += 1
    obj

  release: (obj) =>
    assert @live[obj], "releasing an object this pool does not own (or twice)"
    @live[obj] = nil
    @live_count -= 1
    super obj

  stats: =>
    base = super!
    "#{base} live=#{@live_count}"

class Bullet
  new: =>
    @active = false

  fire: (x, y, dx, dy) =>
    @x, @y, @dx, @dy = x, y, dx, dy
    @active = true
    @

  update: (dt) =>
    @x += @dx * dt
    @y += @dy * dt
    @active = false if @x < 0 or @x > 100 or @y < 0 or @y > 100


bullets = TrackedPool (-> Bullet!), ((b, ...) -> b\fire ...), prefill: 4, max_free: 8

in_flight = {}
for frame = 1, 12
  -- two bullets per frame, flying off in opposite directions
  insert in_flight, bullets\acquire(50, 50, frame * 3, 10)
  insert in_flight, bullets\acquire(50, 50, -frame * 3, 25)
  for i = #in_flight, 1, -1
    b = in_flight[i]
    b\update 1
    unless b.active
      bullets\release b
      remove in_flight, i

print bullets\stats!
print "in flight: #{#in_flight}"

ok = pcall -> bullets\release Bullet!
print "foreign release rejected: #{not ok}"
