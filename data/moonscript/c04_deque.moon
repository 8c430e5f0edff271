-- Double-ended queue backed by a table with moving first/last indices
import concat from table

class Deque
  new: (items = {}) =>
    @items = {}
    @first = 0
    @last = -1
    @push_back v for v in *items

  size: => @last - @first + 1

  is_empty: => @first > @last

  push_front: (v) =>
    @first -= 1
    @items[@first] = v
    @

  push_back: (v) =>
    @last += 1
    @items[@last] = v
    @

  pop_front: =>
    return nil if @is_empty!
    v = @items[@first]
    @items[@first] = nil
    @first += 1
    v

  pop_back: =>
    return nil if @is_empty!
    v = @items[@last]
    @items[@last] = nil
    @last -= 1
    v

  peek_front: => @items[@first]

  peek_back: => @items[@last]

  -- rotate right by n; a negative n rotates left
  rotate: (n = 1) =>
    size = @size!
    return @ if size < 2
    @push_front @pop_back! for _ = 1, n % size
    @

  iter: =>
    i = @first - 1
    ->
      i += 1
      return @items[i] if i <= @last

-- classic use: maximum of every window of width k in O(n)
sliding_max = (list, k) ->
  window = Deque!   -- indices whose values decrease from front to back
  result = {}
  for i, v in ipairs list
    if not window\is_empty! and window\peek_front! <= i - k
      window\pop_front!
    while not window\is_empty! and list[window\peek_back!] <= v
      window\pop_back!
    window\push_back i
    result[#result + 1] = list[window\peek_front!] if i >= k
  result

is_palindrome = (s) ->
  cleaned = s\lower!\gsub "[^%a]", ""
  d = Deque [c for c in cleaned\gmatch "."]
  while d\size! > 1
    return false if d\pop_front! != d\pop_back!
  true


d = Deque {1, 2, 3, 4, 5}
d\rotate 2
print "rotated: " .. concat([v for v in d\iter!], " ")
d\push_front 0
d\push_back 9
print "front #{d\peek_front!}, back #{d\peek_back!}, size #{d\size!}"

print "window max: " .. concat(sliding_max({1, 3, -1, -3, 5, 3, 6, 7}, 3), " ")
for phrase in *{"Never odd or even", "MoonScript"}
  print "#{phrase}: #{is_palindrome phrase}"

{ :Deque, :sliding_max }
