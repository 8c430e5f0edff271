-- Skip list: a sorted map with expected O(log n) search, insert and delete
import random from math

MAX_LEVEL = 12

random_level = (p = 0.5) ->
  level = 1
  while random! < p and level < MAX_LEVEL
    level += 1
  level

class SkipNode
  new: (key, value, level) =>
    @key, @value = key, value
    @level = level
    @forward = {}   -- forward[i] is the next node on level i

class SkipList
  new: =>
    @head = SkipNode nil, nil, MAX_LEVEL
    @level = 1
    @length = 0

  -- collect the rightmost node before `key` on every level
  find_path: (key) =>
    update = {}
    node = @head
    for i = @level, 1, -1
      while node.forward[i] and node.forward[i].key < key
        node = node.forward[i]
      update[i] = node
    update, node.forward[1]

  get: (key) =>
    _, candidate = @find_path key
    if candidate and candidate.key == key
      return candidate.value
    nil

  set: (key, value) =>
    update, candidate = @find_path key
    if candidate and candidate.key == key
      candidate.value = value
      return false
    lvl = random_level!
    if lvl > @level
      for i = @level + 1, lvl
        update[i] = @head
      @level = lvl
    node = SkipNode key, value, lvl
    for i = 1, lvl
      node.forward[i] = update[i].forward[i]
      update[i].forward[i] = node
    @length += 1
    true

  remove: (key) =>
    update, target = @find_path key
    return false unless target and target.key == key
    for i = 1, @level
      break if update[i].forward[i] != target
      update[i].forward[i] = target.forward[i]
    -- shrink the list height if the top levels became empty
    while @level > 1 and not @head.forward[@level]
      @level -= 1
    @length -= 1
    true

  -- iterate over keys in [lo, hi] in ascending order
  range: (lo, hi) =>
    _, node = @find_path lo
    ->
      if node and node.key <= hi
        current = node
        node = node.forward[1]
        return current.key, current.value


math.randomseed 42
scores = SkipList!
for name, score in pairs {ann: 88, bob: 72, cid: 95, dee: 64, eve: 81}
  scores\set score, name

print "entries: #{scores.length}, levels in use: #{scores.level}"
for score, name in scores\range 70, 90
  print "  #{score}: #{name}"

scores\set 72, "bobby"
scores\remove 81
print "72 is now #{scores\get 72}, 81 is #{scores\get(81) or 'gone'}"
print "entries after update: #{scores.length}"

{ :SkipList }
