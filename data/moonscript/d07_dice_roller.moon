-- Dice roller for tabletop games: parses "2d6+3" or "4d6kh3" and sums the rolls

import random, randomseed, floor from math

parse = (expr) ->
  expr = expr\gsub "%s+", ""
  count, sides, rest = expr\match "^(%d*)d(%d+)(.*)$"
  return nil, "bad dice expression: #{expr}" unless sides
  spec = {
    count: tonumber(count) or 1
    sides: tonumber sides
    modifier: 0
  }
  -- "kh3" keeps the three highest dice
  if keep = rest\match "^kh(%d+)"
    spec.keep = tonumber keep
    rest = rest\sub #keep + 3
  if mod = rest\match "^([+-]%d+)$"
    spec.modifier = tonumber mod
  elseif rest != ""
    return nil, "unexpected trailing text: #{rest}"
  spec

roll_spec = (spec, rng = random) ->
  rolls = [rng(1, spec.sides) for i = 1, spec.count]
  kept = rolls
  if spec.keep and spec.keep < #rolls
    sorted = [r for r in *rolls]
    table.sort sorted, (a, b) -> a > b
    kept = [sorted[i] for i = 1, spec.keep]
  total = spec.modifier
  total += r for r in *kept
  total, rolls, kept

roll = (expr, rng) ->
  spec, err = parse expr
  return nil, err unless spec
  roll_spec spec, rng

-- roll many times and print the mean and a sideways histogram
histogram = (expr, trials = 2000) ->
  spec = assert parse expr
  counts, sum = {}, 0
  lo, hi = math.huge, -math.huge
  for i = 1, trials
    t = roll_spec spec
    counts[t] = (counts[t] or 0) + 1
    sum += t
    lo = math.min lo, t
    hi = math.max hi, t
  mean = string.format "%.2f", sum / trials
  print "#{expr}: mean #{mean} over #{trials} rolls"
  for value = lo, hi
    n = counts[value] or 0
    bar = string.rep "#", floor(n / trials * 200)
    print string.format("%3d %5d %s", value, n, bar)

-- a loaded die, handy for testing: always returns the same face
fixed = (face) -> (lo, hi) -> math.min hi, math.max(lo, face)

randomseed os.time!
for expr in *{"d20", "2d6+3", "4d6kh3", "3d8-1", "2x"}
  total, rolls = roll expr
  if total
    shown = table.concat rolls, " "
    print "#{expr} -> #{total} [#{shown}]"
  else
    print "error: #{rolls}"

assert roll("3d6+1", fixed 6) == 19
assert roll("4d6kh3", fixed 1) == 3
histogram "4d6kh3", 1000

{ :parse, :roll, :histogram }
