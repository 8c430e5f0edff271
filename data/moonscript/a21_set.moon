-- Set and Bag (multiset) classes with operator overloading

class Set
  new: (items = {}) =>
    @items = {}
    @size = 0
    @add item for item in *items

  add: (item) =>
    unless @items[item]
      @items[item] = true
      @size += 1
    @

  remove: (item) =>
    if @items[item]
      @items[item] = nil
      @size -= 1
    @

  has: (item) => @items[item] == true

  values: => [k for k in pairs @items]

  union: (other) =>
    result = Set @values!
    result\add v for v in *other\values!
    result

  intersection: (other) => Set [v for v in *@values! when other\has v]

  difference: (other) => Set [v for v in *@values! when not other\has v]

  is_subset: (other) =>
    for k in pairs @items
      return false unless other\has k
    true

  __add: (other) => @union other
  __mul: (other) => @intersection other
  __sub: (other) => @difference other
  __eq: (other) => @size == other.size and @is_subset other
  __le: (other) => @is_subset other
  __lt: (other) => @size < other.size and @is_subset other

  __tostring: =>
    vals = [tostring v for v in *@values!]
    table.sort vals
    "{" .. table.concat(vals, ", ") .. "}"

  @of: (...) => Set {...}


class Bag extends Set
  new: (items) =>
    @counts = {}
    super items

  add: (item) =>
    @counts[item] = (@counts[item] or 0) + 1
    super item

  remove: (item) =>
    n = @counts[item]
    return @ unless n
    if n > 1
      @counts[item] = n - 1
      @
    else
      @counts[item] = nil
      super item

  count: (item) => @counts[item] or 0

  most_common: (n = 3) =>
    vals = @values!
    table.sort vals, (a, b) -> @counts[a] > @counts[b]
    [vals[i] for i = 1, math.min n, #vals]


a = Set { 1, 2, 3, 4 }
b = Set\of 3, 4, 5
print "union: #{a + b}"
print "intersection: #{a * b}"
print "difference: #{a - b}"
print "subset? #{Set({ 3, 4 }) <= a}"

words = Bag [w\lower! for w in ("The cat and the hat and the bat")\gmatch "%a+"]
print "top words: #{table.concat words\most_common(2), ', '}"
print "count of 'the': #{words\count 'the'}"

{ :Set, :Bag }
