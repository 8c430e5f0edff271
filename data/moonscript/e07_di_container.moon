-- Minimal dependency injection container.
-- Services are registered with a factory and the names of what it needs;
-- singletons are built once per owning container, transients every time.
import insert, remove, concat from table

unpack = table.unpack or unpack

class Container
  new: (@parent) =>
    @registry = {}
    @instances = {}
    @stack = {}

  register: (name, deps, factory, lifetime = "singleton") =>
    -- allow register(name, factory) for services without dependencies
    if type(deps) == "function"
      deps, factory = {}, deps
    @registry[name] = { :deps, :factory, :lifetime }
    @

  singleton: (name, deps, factory) => @register name, deps, factory, "singleton"
  transient: (name, deps, factory) => @register name, deps, factory, "transient"
  value: (name, v) => @register name, {}, (-> v), "singleton"

  lookup: (name) =>
    entry = @registry[name]
    return entry, @ if entry
    return @parent\lookup name if @parent
    nil

  resolve: (name) =>
    entry, owner = @lookup name
    error "no provider for '#{name}'", 0 unless entry
    singleton = entry.lifetime == "singleton"
    if singleton and owner.instances[name] != nil
      return owner.instances[name]
    for pending in *@stack
      if pending == name
        error "circular dependency: #{concat @stack, ' -> '} -> #{name}", 0
    insert @stack, name
    -- singletons resolve their dependencies where they were registered
    source = singleton and owner or @
    args = [source\resolve dep for dep in *entry.deps]
    remove @stack
    instance = entry.factory unpack(args)
    owner.instances[name] = instance if singleton
    instance

  scope: => Container @

  call: (deps, fn) =>
    fn unpack [@resolve d for d in *deps]

-- demo
class Database
  new: (@url) =>
  query: (sql) => "[#{@url}] #{sql}"

class UserRepo
  new: (@db, @log) =>
  find: (id) =>
    @log "finding user #{id}"
    @db\query "select * from users where id = #{id}"

app = with Container!
  \value "db_url", "sqlite://app.db"
  \singleton "db", { "db_url" }, (url) -> Database url
  \singleton "log", -> (msg) -> print "log: #{msg}"
  \transient "users", { "db", "log" }, (db, log) -> UserRepo db, log

print app\resolve("users")\find 42
print "same db?", app\resolve("db") == app\resolve("db")
print "new repo each time?", app\resolve("users") != app\resolve("users")

request = app\scope!
request\value "request_id", "req-7"
app\call { "db", "log" }, (db, log) -> log "db is #{db.url}"
request\call { "request_id", "log" }, (id, log) -> log "handling #{id}"

broken = with Container!
  \singleton "a", { "b" }, (b) -> { :b }
  \singleton "b", { "a" }, (a) -> { :a }
ok, err = pcall -> broken\resolve "a"
print err

{ :Container }
