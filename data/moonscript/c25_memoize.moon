-- Memoization helpers: single-argument, multi-argument (nested lookup
-- tables) and a small class that keeps hit/miss statistics
import concat from table
unpack = table.unpack or unpack

NIL = {}      -- sentinel so nil arguments and results can be cached too
RESULT = {}   -- key under which multi-argument results are stored

memoize = (fn) ->
  cache = {}
  (arg) ->
    key = if arg == nil then NIL else arg
    hit = cache[key]
    if hit == nil
      hit = fn arg
      hit = NIL if hit == nil
      cache[key] = hit
    if hit == NIL then nil else hit

-- one level of table per argument, so no string keys are ever built
memoize_n = (fn) ->
  root = {}
  (...) ->
    node = root
    for i = 1, select("#", ...)
      arg = select i, ...
      arg = NIL if arg == nil
      node[arg] or= {}
      node = node[arg]
    node[RESULT] or= {fn ...}
    unpack node[RESULT]

class Memo
  new: (fn, opts = {}) =>
    @fn = fn
    @key_fn = opts.key or (...) -> concat [tostring(v) for v in *{...}], "\0"
    @cache = {}
    @hits, @misses = 0, 0

  call: (...) =>
    key_fn, fn = @key_fn, @fn
    key = key_fn ...
    if entry = @cache[key]
      @hits += 1
      return entry.value
    @misses += 1
    value = fn ...
    @cache[key] = {:value}
    value

  __call: (...) => @call ...

  hit_rate: =>
    total = @hits + @misses
    if total == 0 then 0 else @hits / total

  clear: =>
    @cache = {}
    @hits, @misses = 0, 0


-- naive recursion becomes linear once the recursive calls hit the cache
local fib
fib = memoize (n) -> if n < 2 then n else fib(n - 1) + fib(n - 2)
print "fib(60) = #{fib 60}"

-- lattice paths through a grid: a two-argument recurrence
local paths
paths = memoize_n (r, c) ->
  return 1 if r == 0 or c == 0
  paths(r - 1, c) + paths(r, c - 1)
print "grid paths 16x16: #{paths 16, 16}"

slow_square = (x) ->
  s = 0
  s += x for _ = 1, x
  s

sq = Memo slow_square
sq 300 for _ = 1, 5
sq 12
print "square(300) = #{sq 300}, hit rate #{string.format '%.0f%%', sq\hit_rate! * 100}"

-- missing users are cached as misses too, thanks to the NIL sentinel
lookups = 0
users = {ada: "admin", bob: "editor"}
role_of = memoize (name) ->
  lookups += 1
  users[name]
role_of "ghost" for _ = 1, 3
print "ghost role: #{role_of 'ghost'}, ada: #{role_of 'ada'}, backend lookups: #{lookups}"

{ :memoize, :memoize_n, :Memo }
