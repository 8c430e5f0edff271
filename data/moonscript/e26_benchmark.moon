-- Micro-benchmark harness: warms up, calibrates the iteration count so a
-- sample runs long enough for os.clock to measure, then reports stats.
import insert, sort, concat from table

clock = os.clock
unpack = table.unpack or unpack

stats = (samples) ->
  n = #samples
  sorted = [s for s in *samples]
  sort sorted
  sum, var = 0, 0
  sum += s for s in *samples
  mean = sum / n
  var += (s - mean) ^ 2 for s in *samples
  mid = math.floor (n + 1) / 2
  median = if n % 2 == 1 then sorted[mid] else (sorted[mid] + sorted[mid + 1]) / 2
  { :mean, :median, min: sorted[1], max: sorted[n], stddev: math.sqrt(var / n) }

class Bench
  new: (opts = {}) =>
    @min_time = opts.min_time or 0.02
    @samples = opts.samples or 5
    @cases = {}

  add: (name, fn) =>
    insert @cases, { :name, :fn }
    @

  time: (fn, iterations) =>
    start = clock!
    fn! for _ = 1, iterations
    clock! - start

  -- double the iteration count until one batch takes at least min_time
  calibrate: (fn) =>
    iterations = 1
    while iterations < 2 ^ 24
      break if @time(fn, iterations) >= @min_time
      iterations *= 2
    iterations

  run: =>
    results = for c in *@cases
      @time c.fn, 10
      iterations = @calibrate c.fn
      per_call = [@time(c.fn, iterations) / iterations for _ = 1, @samples]
      s = stats per_call
      s.name, s.iterations = c.name, iterations
      s
    sort results, (a, b) -> a.median < b.median
    results

  report: =>
    results = @run!
    fastest = math.max results[1].median, 1e-12
    print string.format("%-10s %12s %12s %8s %7s", "case", "median", "mean", "stddev", "rel")
    for r in *results
      line = string.format "%-10s %10.3fus %10.3fus %7.1f%% %6.2fx",
        r.name, r.median * 1e6, r.mean * 1e6, 100 * r.stddev / r.mean, r.median / fastest
      print line
    results

-- demo: three ways to build a comma separated string
words = [tostring(i) for i = 1, 200]

bench = with Bench samples: 5, min_time: 0.01
  \add "concat", -> concat words, ","
  \add "dotdot", ->
    s = ""
    s ..= w .. "," for w in *words
    s
  \add "buffer", ->
    buf = {}
    buf[#buf + 1] = w for w in *words
    concat buf, ","
  \add "format", -> string.format string.rep("%s,", #words), unpack(words)

results = bench\report!
print "winner: #{results[1].name} after #{results[1].iterations} iterations per sample"

{ :Bench, :stats }
