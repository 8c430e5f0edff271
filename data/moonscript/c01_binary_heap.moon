-- Binary min-heap with a pluggable comparator, plus heap sort and top-k helpers
import insert, remove from table
import floor from math

less = (a, b) -> a < b

class BinaryHeap
  new: (compare) =>
    @compare = compare or less
    @items = {}

  size: => #@items

  is_empty: => #@items == 0

  peek: => @items[1]

  -- move the element at i up while it beats its parent
  sift_up: (i) =>
    items, cmp = @items, @compare
    while i > 1
      parent = floor i / 2
      break unless cmp items[i], items[parent]
      items[i], items[parent] = items[parent], items[i]
      i = parent

  -- move the element at i down until both children are no better
  sift_down: (i) =>
    items, cmp = @items, @compare
    n = #items
    while true
      best = i
      left, right = 2 * i, 2 * i + 1
      best = left if left <= n and cmp items[left], items[best]
      best = right if right <= n and cmp items[right], items[best]
      break if best == i
      items[i], items[best] = items[best], items[i]
      i = best

  push: (value) =>
    insert @items, value
    @sift_up #@items
    @

  pop: =>
    items = @items
    return nil if #items == 0
    top = items[1]
    last = remove items
    if #items > 0
      items[1] = last
      @sift_down 1
    top

  -- swap out the root and restore order in one pass (cheaper than pop + push)
  replace: (value) =>
    top = @items[1]
    @items[1] = value
    @sift_down 1
    top

  -- bottom-up heapify runs in O(n), faster than n separate pushes
  @from_list: (list, compare) =>
    heap = BinaryHeap compare
    heap.items = [v for v in *list]
    for i = floor(#heap.items / 2), 1, -1
      heap\sift_down i
    heap

heap_sort = (list, compare) ->
  heap = BinaryHeap\from_list list, compare
  [heap\pop! for _ = 1, #list]

-- keep the k largest values using a min-heap that never grows past k
top_k = (list, k) ->
  heap = BinaryHeap!
  for v in *list
    if heap\size! < k
      heap\push v
    elseif v > heap\peek!
      heap\replace v
  result = heap_sort heap.items
  [result[i] for i = #result, 1, -1]


tasks = BinaryHeap (a, b) -> a.priority < b.priority
with tasks
  \push name: "write docs", priority: 3
  \push name: "fix crash", priority: 1
  \push name: "review pr", priority: 2

while not tasks\is_empty!
  task = tasks\pop!
  print "#{task.priority}: #{task.name}"

print table.concat heap_sort({5, 3, 9, 1, 7}), " "
print table.concat top_k({4, 18, 2, 11, 7, 15}, 3), " "

{ :BinaryHeap, :heap_sort, :top_k }
