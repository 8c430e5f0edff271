-- Metrics registry with counters, gauges and histograms, rendered in a
-- Prometheus-like text format. Label sets are keyed by sorted pairs.
import insert, concat, sort from table

label_key = (labels = {}) ->
  keys = [k for k in pairs labels]
  sort keys
  concat ["#{k}=\"#{labels[k]}\"" for k in *keys], ","

class Metric
  new: (@name, @help = "") =>
    @series = {}

  get: (labels) =>
    key = label_key labels
    @series[key] or= @initial!
    @series[key]

  render_line: (suffix, key, value) =>
    labels = key != "" and "{#{key}}" or ""
    "#{@name}#{suffix}#{labels} #{value}"

  render: =>
    lines = { "# HELP #{@name} #{@help}", "# TYPE #{@name} #{@kind}" }
    keys = [k for k in pairs @series]
    sort keys
    for key in *keys
      for line in *@render_series(key, @series[key])
        insert lines, line
    concat lines, "\n"

class Counter extends Metric
  kind: "counter"
  initial: => { value: 0 }

  inc: (amount = 1, labels) =>
    error "counters only go up", 2 if amount < 0 and @kind == "counter"
    s = @get labels
    s.value += amount

  render_series: (key, s) => { @render_line("", key, s.value) }

-- a gauge is a counter that may go down or be set
class Gauge extends Counter
  kind: "gauge"

  set: (v, labels) =>
    s = @get labels
    s.value = v

class Histogram extends Metric
  kind: "histogram"

  new: (name, help, @buckets = { 0.05, 0.1, 0.5, 1, 5 }) =>
    super name, help

  initial: => { counts: [0 for _ in *@buckets], sum: 0, count: 0 }

  observe: (v, labels) =>
    s = @get labels
    s.sum += v
    s.count += 1
    for i, bound in ipairs @buckets
      s.counts[i] += 1 if v <= bound

  render_series: (key, s) =>
    prefix = key == "" and "" or key .. ","
    lines = for i, bound in ipairs @buckets
      "#{@name}_bucket{#{prefix}le=\"#{bound}\"} #{s.counts[i]}"
    insert lines, "#{@name}_bucket{#{prefix}le=\"+Inf\"} #{s.count}"
    insert lines, @render_line("_sum", key, s.sum)
    insert lines, @render_line("_count", key, s.count)
    lines

class Registry
  new: =>
    @metrics = {}
    @order = {}

  register: (metric) =>
    error "duplicate metric #{metric.name}" if @metrics[metric.name]
    @metrics[metric.name] = metric
    insert @order, metric.name
    metric

  counter: (name, help) => @register Counter(name, help)
  gauge: (name, help) => @register Gauge(name, help)
  histogram: (name, help, buckets) => @register Histogram(name, help, buckets)

  expose: => concat [@metrics[n]\render! for n in *@order], "\n"

-- demo
reg = Registry!
requests = reg\counter "http_requests_total", "Requests served"
in_flight = reg\gauge "http_in_flight", "Requests running"
latency = reg\histogram "http_latency_seconds", "Latency", { 0.1, 0.25, 1 }

for i, t in ipairs { 0.03, 0.2, 0.7, 0.09, 1.5 }
  in_flight\inc 1
  requests\inc 1, method: "GET", status: (i == 4 and "500" or "200")
  latency\observe t
  in_flight\inc(-1)
in_flight\set 3

print reg\expose!

{ :Registry, :Counter, :Gauge, :Histogram }
