-- Promise/A+ flavoured promises driven by an explicit job queue
import insert, remove from table

PENDING, FULFILLED, REJECTED = "pending", "fulfilled", "rejected"

queue = {}
defer = (fn) -> insert queue, fn

run_queue = ->
  ran = 0
  while #queue > 0
    job = remove queue, 1
    job!
    ran += 1
  ran

is_promise = (v) -> type(v) == "table" and type(v.and_then) == "function"

class Promise
  new: (executor) =>
    @state = PENDING
    @value = nil
    @callbacks = {}
    resolve = (v) -> @settle FULFILLED, v
    reject = (e) -> @settle REJECTED, e
    ok, err = pcall executor, resolve, reject
    reject err unless ok

  settle: (state, value) =>
    return unless @state == PENDING
    if state == FULFILLED and is_promise value
      value\and_then ((v) -> @settle FULFILLED, v), (e) -> @settle REJECTED, e
      return
    @state, @value = state, value
    pending = @callbacks
    @callbacks = {}
    defer cb for cb in *pending

  and_then: (on_ok, on_err) =>
    Promise (resolve, reject) ->
      handle = ->
        handler = if @state == FULFILLED then on_ok else on_err
        unless handler
          if @state == FULFILLED then resolve @value else reject @value
          return
        ok, result = pcall handler, @value
        if ok then resolve result else reject result
      if @state == PENDING
        insert @callbacks, handle
      else
        defer handle

  catch: (on_err) => @and_then nil, on_err

  finally: (fn) =>
    on_ok = (v) ->
      fn!
      v
    on_err = (e) ->
      fn!
      error e, 0
    @and_then on_ok, on_err

  @resolve: (v) => Promise (res) -> res v
  @reject: (e) => Promise (_, rej) -> rej e

  @all: (list) =>
    Promise (resolve, reject) ->
      results, remaining = {}, #list
      resolve results if remaining == 0
      for i, p in ipairs list
        on_ok = (v) ->
          results[i] = v
          remaining -= 1
          resolve results if remaining == 0
        p\and_then on_ok, reject

-- example: chain a couple of steps and flush the queue
example = ->
  Promise\resolve(21)\and_then((x) -> x * 2)\and_then (x) -> print "answer: #{x}"
  Promise\all({Promise\resolve(1), Promise\resolve(2)})\and_then (vals) ->
    joined = table.concat vals, ", "
    print "all: #{joined}"
  run_queue!

return { :Promise, :run_queue, :defer, :example }
