-- Plugin loader: discovers modules, resolves dependencies, wires hooks
import insert, sort, concat from table

class Plugin
  name: "unnamed"
  version: "0.0.0"
  depends: {}

  new: (@host, @config = {}) =>

  hook: (event, fn) => @host\register event, fn, @name

  -- override in subclasses
  setup: =>

  describe: => "#{@name}@#{@version}"

class PluginHost
  @loaded_total = 0

  new: (@search_path = "plugins") =>
    @plugins = {}
    @order = {}
    @hooks = {}
    @loading = {}

  load: (name, config) =>
    return @plugins[name] if @plugins[name]
    error "dependency cycle through #{name}" if @loading[name]
    @loading[name] = true
    ok, klass = pcall require, "#{@search_path}.#{name}"
    error "failed to load plugin #{name}: #{klass}" unless ok
    @load dep for dep in *(klass.depends or {})
    instance = klass self, config
    instance.name = name
    @plugins[name] = instance
    insert @order, name
    @loading[name] = nil
    @@loaded_total += 1
    instance\setup!
    instance

  load_all: (names, configs = {}) =>
    [@load(name, configs[name]) for name in *names]

  register: (event, fn, owner = "?") =>
    list = @hooks[event] or {}
    @hooks[event] = list
    insert list, {:fn, :owner}

  run: (event, ...) =>
    results = {}
    for {:fn, :owner} in *(@hooks[event] or {})
      ok, res = pcall fn, ...
      if ok
        insert results, res if res != nil
      else
        io.stderr\write "[plugins] #{owner} failed on #{event}: #{res}\n"
    results

  list: =>
    names = [name for name in pairs @plugins]
    sort names
    names

  report: =>
    lines = for name in *@order
      plugin = @plugins[name]
      "  - " .. plugin\describe!
    "#{#lines} plugin(s) loaded:\n" .. concat lines, "\n"

-- an example plugin, normally it would live in plugins/greeter.moon
class GreeterPlugin extends Plugin
  version: "1.2.0"

  setup: =>
    greeting = @config.greeting or "Hello"
    @hook "greet", (who) -> "#{greeting}, #{who}!"

return { :Plugin, :PluginHost, :GreeterPlugin }
