-- Fixed-width histograms with an ASCII bar chart renderer
import floor, ceil, log, max, min, huge from math
import insert, concat from table

class Histogram
  new: (lo, hi, bins = 10) =>
    assert hi > lo, "empty range"
    @lo, @hi, @bins = lo, hi, bins
    @width = (hi - lo) / bins
    @counts = [0 for _ = 1, bins]
    @under, @over, @total = 0, 0, 0

  -- Sturges' rule picks a bin count from the sample size
  @from_data: (data, bins) =>
    lo, hi = huge, -huge
    for x in *data
      lo, hi = min(lo, x), max(hi, x)
    hi = lo + 1 if hi == lo
    bins or= ceil(log(#data) / log(2)) + 1
    with Histogram lo, hi, bins
      \add x for x in *data

  add: (x, weight = 1) =>
    @total += weight
    if x < @lo
      @under += weight
    elseif x > @hi
      @over += weight
    else
      -- the top edge belongs to the last bin
      i = min floor((x - @lo) / @width) + 1, @bins
      @counts[i] += weight
    @

  bin_range: (i) =>
    start = @lo + (i - 1) * @width
    start, start + @width

  peak: =>
    best = 1
    for i = 2, @bins
      best = i if @counts[i] > @counts[best]
    best, @counts[best]

  render: (bar_width = 40, mark = "#") =>
    _, top = @peak!
    lines = {}
    for i = 1, @bins
      a, b = @bin_range i
      n = @counts[i]
      len = if top > 0 then floor(n / top * bar_width + 0.5) else 0
      insert lines, string.format("%7.2f - %7.2f | %-#{bar_width}s %d", a, b, mark\rep(len), n)
    if @under + @over > 0
      insert lines, "(#{@under} below range, #{@over} above)"
    concat lines, "\n"


math.randomseed 2024
samples = {}
for _ = 1, 500
  -- the sum of four uniforms is roughly bell shaped
  s = 0
  s += math.random! for _ = 1, 4
  insert samples, s * 10

hist = Histogram\from_data samples
print "bins: #{hist.bins}, width: #{string.format '%.2f', hist.width}"
print hist\render 30
i, n = hist\peak!
lo, hi = hist\bin_range i
print string.format "busiest bin [%.1f, %.1f) holds %d of %d", lo, hi, n, hist.total

words = Histogram 1, 10, 9
text = "the quick brown fox jumps over the lazy dog again and again"
words\add #w for w in text\gmatch "%a+"
words\add 14
print words\render 20, "*"

{ :Histogram }
