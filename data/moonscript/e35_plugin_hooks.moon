-- Plugin host with named hooks: actions run every handler by priority,
-- filters thread a value through them. Plugins load in dependency order.
import insert, sort, concat from table

class Hooks
  new: =>
    @handlers = {}
    @seq = 0

  on: (name, fn, priority = 50, owner = "?") =>
    @seq += 1
    @handlers[name] or= {}
    list = @handlers[name]
    insert list, { :fn, :priority, :owner, seq: @seq }
    sort list, (a, b) ->
      if a.priority == b.priority then a.seq < b.seq else a.priority < b.priority

  run: (name, ...) =>
    h.fn ... for h in *(@handlers[name] or {})

  filter: (name, value, ...) =>
    for h in *(@handlers[name] or {})
      result = h.fn value, ...
      value = result if result != nil
    value

  remove_owner: (owner) =>
    for name, list in pairs @handlers
      @handlers[name] = [h for h in *list when h.owner != owner]

class PluginHost
  new: =>
    @hooks = Hooks!
    @available = {}
    @loaded = {}
    @order = {}

  register: (plugin) =>
    error "plugin needs a name" unless plugin.name
    @available[plugin.name] = plugin
    @

  -- depth-first topological sort over `requires`
  resolve_order: =>
    order, state = {}, {}
    visit = (name, trail) ->
      error "missing plugin #{name} (#{trail})" unless @available[name]
      return if state[name] == "done"
      error "dependency cycle: #{trail} -> #{name}" if state[name] == "visiting"
      state[name] = "visiting"
      visit dep, "#{trail} -> #{name}" for dep in *(@available[name].requires or {})
      state[name] = "done"
      insert order, name
    names = [n for n in pairs @available]
    sort names
    visit n, "host" for n in *names
    order

  load_all: =>
    for name in *@resolve_order!
      plugin = @available[name]
      api = {
        on: (hook, fn, priority) -> @hooks\on hook, fn, priority, name
        get: (other) -> @loaded[other]
      }
      @loaded[name] = plugin.setup and plugin.setup(api) or {}
      insert @order, name
    @hooks\run "ready", @order
    @

  unload: (name) =>
    @hooks\remove_owner name
    @loaded[name] = nil
    @order = [n for n in *@order when n != name]

-- demo
host = PluginHost!

host\register {
  name: "stats"
  requires: { "smileys", "markdown" }
  setup: (api) ->
    counter = { renders: 0 }
    api.on "render", ((text) -> counter.renders += 1), 10
    api.on "ready", (order) -> print "loaded: #{concat order, ' -> '}"
    counter
}
host\register {
  name: "smileys"
  requires: { "markdown" }
  setup: (api) -> api.on "render", ((text) -> (text\gsub ":%)", "&#9786;")), 90
}
host\register {
  name: "markdown"
  setup: (api) ->
    api.on "render", (text) -> (text\gsub "%*(.-)%*", "<em>%1</em>")
    { version: "1.0" }
}

host\load_all!
print host.hooks\filter "render", "this is *nice* :)"
print host.hooks\filter "render", "so *very* nice"
print "renders counted: #{host.loaded.stats.renders}"
host\unload "smileys"
print host.hooks\filter "render", "no :) after unload"

{ :PluginHost, :Hooks }
