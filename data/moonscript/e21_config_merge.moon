-- Merge layered configuration (defaults < file < environment) with deep
-- merging of nested tables. Lists are replaced unless marked to append.

is_array = (t) ->
  return false unless type(t) == "table"
  n = 0
  n += 1 for _ in pairs t
  n > 0 and n == #t

deep_copy = (v) ->
  return v unless type(v) == "table"
  {k, deep_copy(x) for k, x in pairs v}

APPEND = setmetatable {}, __tostring: -> "APPEND"
append = (list) -> { [APPEND]: true, items: list }

merge = (base, over) ->
  result = deep_copy base
  for k, v in pairs over
    current = result[k]
    if type(v) == "table" and v[APPEND]
      list = is_array(current) and current or {}
      table.insert list, deep_copy(x) for x in *v.items
      result[k] = list
    elseif type(v) == "table" and type(current) == "table" and not is_array(v)
      result[k] = merge current, v
    else
      result[k] = deep_copy v
  result

merge_all = (...) ->
  result = {}
  result = merge result, layer for layer in *{...}
  result

convert = (raw) ->
  return true if raw == "true"
  return false if raw == "false"
  tonumber(raw) or raw

-- "APP_DB__HOST=x" becomes { db: { host: "x" } }; "__" separates levels
from_env = (prefix, vars) ->
  out = {}
  for name, raw in pairs vars
    rest = name\match "^#{prefix}_(.+)$"
    continue unless rest
    keys = [seg\lower! for seg in (rest\gsub "__", ".")\gmatch "[^%.]+"]
    node = out
    for i = 1, #keys - 1
      node[keys[i]] or= {}
      node = node[keys[i]]
    node[keys[#keys]] = convert raw
  out

freeze = (t) ->
  proxy = {k, (type(v) == "table" and freeze(v) or v) for k, v in pairs t}
  setmetatable {}, {
    __index: proxy
    __newindex: (_, k) -> error "config is read-only (tried to set #{k})", 2
  }

-- demo
defaults = {
  server: { host: "127.0.0.1", port: 8080, workers: 2 }
  db: { host: "localhost", pool: { min: 1, max: 5 } }
  plugins: { "auth", "logging" }
}

file_layer = {
  server: { port: 9000 }
  db: { pool: { max: 20 } }
  plugins: append { "metrics" }
}

env_layer = from_env "APP", {
  APP_SERVER__WORKERS: "8"
  APP_DB__HOST: "db.internal"
  APP_DEBUG: "true"
  OTHER_VAR: "ignored"
}

merged = merge_all defaults, file_layer, env_layer
config = freeze merged
print "server: #{config.server.host}:#{config.server.port} x#{config.server.workers}"
print "db: #{config.db.host} pool #{config.db.pool.min}-#{config.db.pool.max}"
print "plugins: #{table.concat merged.plugins, ', '}"
print "debug:", config.debug, "defaults untouched:", defaults.server.port
ok, err = pcall -> config.server.port = 1
print "write attempt:", err

{ :merge, :merge_all, :append, :from_env, :freeze }
