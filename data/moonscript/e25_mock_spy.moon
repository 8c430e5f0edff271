-- Spies and stubs for tests: record every call, fake return values and
-- put the original functions back when the test is done.
import insert, remove, concat from table

unpack = table.unpack or unpack
pack = (...) -> { n: select("#", ...), ... }

args_equal = (a, b) ->
  return false unless a.n == b.n
  for i = 1, a.n
    return false unless a[i] == b[i]
  true

class Spy
  new: (@original) =>
    @calls = {}
    @queued = {}

  -- spies are callable, so they can stand in for any function
  __call: (...) =>
    insert @calls, pack(...)
    if #@queued > 0
      values = remove @queued, 1
      return unpack values, 1, values.n
    return @fake ... if @fake
    return @original ... if @original

  returns: (...) =>
    values = pack ...
    @fake = -> unpack values, 1, values.n
    @

  returns_once: (...) =>
    insert @queued, pack(...)
    @

  calls_fake: (fn) =>
    @fake = fn
    @

  call_count: => #@calls

  called_with: (...) =>
    expected = pack ...
    for c in *@calls
      return true if args_equal c, expected
    false

  describe: =>
    lines = for i, c in ipairs @calls
      args = [tostring c[j] for j = 1, c.n]
      "  call #{i}: (#{concat args, ', '})"
    concat lines, "\n"

active = {}

spy_on = (obj, name) ->
  original = obj[name]
  error "no function '#{name}' to spy on" unless type(original) == "function"
  s = Spy original
  obj[name] = s
  insert active, -> obj[name] = original
  s

restore_all = ->
  while #active > 0
    undo = remove active
    undo!

mock = (names) -> {name, Spy! for name in *names}

-- demo
mailer = {
  sent: 0
  send: (to, subject) =>
    @sent += 1
    "queued '#{subject}' for #{to}"
}

notify_all = (users, m) ->
  m\send u, "weekly digest" for u in *users

s = spy_on mailer, "send"
notify_all { "ada@x.org", "bob@y.org" }, mailer
print "send called #{s\call_count!} times, original ran: sent=#{mailer.sent}"
print "called for bob?", s\called_with mailer, "bob@y.org", "weekly digest"
print s\describe!

s\returns_once("bounced")\returns "stubbed"
print mailer\send("eve@z.org", "hi"), mailer\send("eve@z.org", "hi")
restore_all!
print "restored:", mailer\send "zed@q.org", "bye"

clock = mock { "now", "sleep" }
clock.now\returns 1700000000
clock.sleep\calls_fake (s) -> "slept #{s}s"
print "mock now:", clock.now!, clock.sleep(5), "calls:", clock.now\call_count!

{ :Spy, :spy_on, :restore_all, :mock }
