-- LRU cache backed by a doubly linked list and a lookup table

class Node
  new: (@key, @value) =>
    @prev = nil
    @next = nil

class LRUCache
  new: (@capacity = 64, @on_evict) =>
    @head = Node "__head"
    @tail = Node "__tail"
    @clear!

  unlink: (node) =>
    node.prev.next = node.next
    node.next.prev = node.prev

  push_front: (node) =>
    with node
      .next = @head.next
      .prev = @head
    @head.next.prev = node
    @head.next = node

  get: (key) =>
    node = @lookup[key]
    return nil unless node
    @unlink node
    @push_front node
    node.value

  set: (key, value) =>
    if node = @lookup[key]
      node.value = value
      @unlink node
      @push_front node
      return
    node = Node key, value
    @lookup[key] = node
    @push_front node
    @size += 1
    while @size > @capacity
      @evict!

  delete: (key) =>
    node = @lookup[key]
    return false unless node
    @unlink node
    @lookup[key] = nil
    @size -= 1
    true

  evict: =>
    victim = @tail.prev
    return if victim == @head
    @delete victim.key
    callback = @on_evict
    callback victim.key, victim.value if callback

  keys: =>
    out = {}
    node = @head.next
    while node != @tail
      out[#out + 1] = node.key
      node = node.next
    out

  clear: =>
    @lookup = {}
    @size = 0
    @head.next = @tail
    @tail.prev = @head

  stats: =>
    free = @capacity - @size
    "#{@size}/#{@capacity} used, #{free} free"

-- Same as LRUCache, but entries go stale after `ttl` seconds
class TTLCache extends LRUCache
  new: (capacity, @ttl = 60) =>
    super capacity
    @expires = {}

  now: => os.time!

  set: (key, value) =>
    @expires[key] = @now! + @ttl
    super key, value

  get: (key) =>
    deadline = @expires[key]
    if deadline and deadline < @now!
      @expires[key] = nil
      @delete key
      return nil
    super key

return { :LRUCache, :TTLCache }
