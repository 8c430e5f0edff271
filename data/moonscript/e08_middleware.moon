-- Middleware chain in the style of Express/Koa: each layer receives the
-- context and a `nxt` function that hands control to the next layer.
-- Errors skip ahead to the first error handler registered after them.
import insert from table

class Chain
  new: =>
    @layers = {}

  use: (path, fn) =>
    if type(path) == "function"
      path, fn = "/", path
    insert @layers, { :path, :fn, kind: "normal" }
    @

  catch: (fn) =>
    insert @layers, { path: "/", :fn, kind: "error" }
    @

  handle: (ctx) =>
    index = 0
    local dispatch
    dispatch = (err) ->
      index += 1
      layer = @layers[index]
      unless layer
        ctx.error = err
        return
      matches = ctx.path\sub(1, #layer.path) == layer.path
      wants_error = layer.kind == "error"
      if not matches or (err != nil) != wants_error
        return dispatch err
      local ok, e
      if err
        ok, e = pcall layer.fn, err, ctx, dispatch
      else
        ok, e = pcall layer.fn, ctx, -> dispatch!
      dispatch e unless ok
    dispatch!
    ctx

-- demo layers
timing = (ctx, nxt) ->
  started = os.clock!
  nxt!
  ctx.headers["X-Time"] = string.format "%.4f", os.clock! - started

auth = (ctx, nxt) ->
  error "unauthorized", 0 unless ctx.headers.token == "secret"
  ctx.user = "admin"
  nxt!

app = with Chain!
  \use timing
  \use (ctx, nxt) ->
    ctx.trail = { "start" }
    nxt!
    insert ctx.trail, "unwound"
  \use "/admin", auth
  \use "/crash", -> error "disk on fire", 0
  \use (ctx, nxt) ->
    ctx.status = 200
    ctx.body = "hello #{ctx.user or 'guest'} at #{ctx.path}"
    insert ctx.trail, "handled"
  \catch (err, ctx, nxt) ->
    ctx.status = err == "unauthorized" and 401 or 500
    ctx.body = "error: #{err}"

request = (path, headers = {}) ->
  ctx = app\handle { :path, :headers }
  trail = table.concat ctx.trail or {}, ","
  print "#{ctx.path} -> #{ctx.status} #{ctx.body} [#{trail}]"

request "/"
request "/admin/panel"
request "/admin/panel", token: "secret"
request "/crash"

{ :Chain }
