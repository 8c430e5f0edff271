-- Descriptive statistics: batch helpers plus a streaming accumulator
-- (Welford's algorithm) that never stores the samples.
import sqrt, floor, huge from math
import sort from table

sum = (xs) ->
    total = 0
    total += x for x in *xs
    total

mean = (xs) -> sum(xs) / #xs

sorted_copy = (xs) ->
    copy = [x for x in *xs]
    sort copy
    copy

median = (xs) ->
    s = sorted_copy xs
    half = floor #s / 2
    if #s % 2 == 1 then s[half + 1] else (s[half] + s[half + 1]) / 2

-- most frequent value; ties go to the smallest value
mode = (xs) ->
    counts, best, best_n = {}, nil, 0
    for x in *xs
        counts[x] = (counts[x] or 0) + 1
        if counts[x] > best_n or (counts[x] == best_n and x < best)
            best, best_n = x, counts[x]
    best, best_n

variance = (xs, sample = true) ->
    m = mean xs
    acc = 0
    acc += (x - m) ^ 2 for x in *xs
    acc / (#xs - (sample and 1 or 0))

stddev = (xs, sample) -> sqrt variance xs, sample

-- linear interpolation between the closest ranks
percentile = (xs, p) ->
    s = sorted_copy xs
    pos = 1 + (#s - 1) * p / 100
    lo = floor pos
    return s[lo] if lo >= #s
    s[lo] + (s[lo + 1] - s[lo]) * (pos - lo)

correlation = (xs, ys) ->
    mx, my = mean(xs), mean(ys)
    sxy, sxx, syy = 0, 0, 0
    for i = 1, #xs
        dx, dy = xs[i] - mx, ys[i] - my
        sxy += dx * dy
        sxx += dx * dx
        syy += dy * dy
    sxy / sqrt(sxx * syy)

class RunningStats
    new: =>
        @n, @mean, @m2 = 0, 0, 0
        @min, @max = huge, -huge

    push: (x) =>
        @n += 1
        delta = x - @mean
        @mean += delta / @n
        @m2 += delta * (x - @mean)
        @min = x if x < @min
        @max = x if x > @max
        @

    variance: => if @n > 1 then @m2 / (@n - 1) else 0

    stddev: => sqrt @variance!


temps = {18.2, 21.5, 19.8, 25.1, 23.4, 19.8, 22.0, 20.7}
print string.format "mean %.2f  median %.2f  stddev %.3f",
    mean(temps), median(temps), stddev(temps)
value, times = mode temps
print "mode #{value} (x#{times}), p90 #{string.format '%.2f', percentile temps, 90}"

hours = {1, 2, 3, 4, 5, 6}
score = {52, 55, 61, 64, 70, 74}
print string.format "correlation hours/score: %.4f", correlation hours, score

stream = RunningStats!
stream\push t for t in *temps
print string.format "streaming: n=%d mean=%.2f sd=%.3f range=[%.1f, %.1f]",
    stream.n, stream.mean, stream\stddev!, stream.min, stream.max

{ :mean, :median, :mode, :variance, :stddev, :percentile, :RunningStats }
