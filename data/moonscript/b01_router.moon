-- Tiny pattern router in the spirit of lapis.router
import insert, concat from table

class Route
  new: (@pattern, @handler, @name) =>
    @params = {}
    @matcher = @compile @pattern

  compile: (pattern) =>
    parts = for seg in pattern\gmatch "[^/]+"
      if name = seg\match "^:(%w+)$"
        insert @params, name
        "([^/]+)"
      elseif seg == "*"
        insert @params, "splat"
        "(.*)"
      else
        escaped = seg\gsub "%p", "%%%0"
        escaped
    "^/" .. concat(parts, "/") .. "/?$"

  match: (path) =>
    captures = { path\match @matcher }
    return nil if #captures == 0
    {name, captures[i] for i, name in ipairs @params}

class Router
  @instances = 0

  new: (@prefix = "") =>
    @routes = {}
    @named = {}
    @@instances += 1

  add: (pattern, handler, name) =>
    route = Route @prefix .. pattern, handler, name
    insert @routes, route
    @named[name] = route if name
    route

  get: (...) => @add ...

  url_for: (name, params = {}) =>
    route = assert @named[name], "unknown route: #{name}"
    url = route.pattern\gsub ":(%w+)", (key) -> tostring params[key] or ""
    url

  resolve: (path) =>
    for route in *@routes
      params = route\match path
      return route.handler, params if params
    return nil, "no route for #{path}"

  dispatch: (path, ...) =>
    handler, params = @resolve path
    unless handler
      return { status: 404, body: params }
    handler params, ...

-- a small example table of routes, handy for the docs
demo = ->
  router = with Router!
    \add "/", -> "index"
    \add "/users/:id", ((p) -> "user #{p.id}"), "user"
    \add "/files/*", (p) -> "file #{p.splat}"

  for path in *{"/", "/users/42", "/files/a/b.txt", "/nope"}
    res = router\dispatch path
    res = "#{res.status} #{res.body}" if type(res) == "table"
    print "#{path} -> #{res}"

  print router\url_for "user", id: 7

return { :Route, :Router, :demo }
