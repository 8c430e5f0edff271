-- Event emitter with once-handlers, wildcards and observable values

class Emitter
  new: =>
    @handlers = {}

  on: (event, fn) =>
    list = @handlers[event]
    unless list
      list = {}
      @handlers[event] = list
    list[#list + 1] = fn
    -> @off event, fn

  once: (event, fn) =>
    local unsub
    unsub = @on event, (...) ->
      unsub!
      fn ...
    unsub

  off: (event, fn) =>
    list = @handlers[event]
    return unless list
    @handlers[event] = [h for h in *list when h != fn]

  emit: (event, ...) =>
    count = 0
    for name in *{event, "*"}
      list = @handlers[name]
      continue unless list
      snapshot = [h for h in *list]
      for h in *snapshot
        if name == "*" then h event, ... else h ...
        count += 1
    count

  listener_count: (event) =>
    list = @handlers[event]
    list and #list or 0

class Observable extends Emitter
  new: (@value, equals) =>
    super!
    @equals = equals or (a, b) -> a == b

  get: => @value

  set: (v) =>
    old = @value
    same = @equals
    return false if same old, v
    @value = v
    @emit "change", v, old
    true

  update: (fn) => @set fn @value

  map: (fn) =>
    derived = Observable fn @value
    @on "change", (v) -> derived\set fn v
    derived

-- demo ✓ prints every change and stops after the third one
demo = ->
  bus = Emitter!
  import \emit from bus
  bus\on "*", (name, ...) -> print "[bus]", name, ...
  emit "boot", os.time!

  score = Observable 0
  label = score\map (n) -> "score: #{n}"
  stop = label\on "change", (text) -> print text
  for i = 1, 5
    score\update (n) -> n + i * 10
    stop! if i == 3

return { :Emitter, :Observable, :demo }
