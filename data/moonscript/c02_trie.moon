-- Prefix tree for autocomplete: insert words, count prefixes, list completions
import insert, sort, concat from table

class TrieNode
  new: =>
    @children = {}
    @terminal = false
    @count = 0   -- how many stored words pass through this node

class Trie
  new: (words = {}) =>
    @root = TrieNode!
    @size = 0
    @insert w for w in *words

  insert: (word) =>
    return @ if @contains word
    node = @root
    for ch in word\gmatch "."
      node.children[ch] or= TrieNode!
      node = node.children[ch]
      node.count += 1
    node.terminal = true
    @size += 1
    @

  find_node: (prefix) =>
    node = @root
    for ch in prefix\gmatch "."
      node = node.children[ch]
      return nil unless node
    node

  contains: (word) =>
    node = @find_node word
    node != nil and node.terminal

  count_prefix: (prefix) =>
    return @size if prefix == ""
    node = @find_node prefix
    node and node.count or 0

  -- depth-first walk collecting every word below the prefix, alphabetically
  complete: (prefix, limit = math.huge) =>
    results = {}
    start = @find_node prefix
    return results unless start
    walk = (node, acc) ->
      return if #results >= limit
      insert results, acc if node.terminal
      keys = [k for k in pairs node.children]
      sort keys
      for k in *keys
        walk node.children[k], acc .. k
    walk start, prefix
    results

  remove: (word) =>
    return false unless @contains word
    node = @root
    for ch in word\gmatch "."
      child = node.children[ch]
      child.count -= 1
      if child.count == 0
        node.children[ch] = nil   -- prune the branch nobody uses any more
        @size -= 1
        return true
      node = child
    node.terminal = false
    @size -= 1
    true


trie = Trie {"car", "card", "care", "cart", "cat", "dog", "dove"}
print "words: #{trie.size}"
print "prefix 'car': #{trie\count_prefix 'car'}"
print "complete 'ca': " .. concat(trie\complete("ca"), ", ")
print "first two 'do': " .. concat(trie\complete("do", 2), ", ")

trie\remove "card"
print "has card? #{trie\contains 'card'}, has care? #{trie\contains 'care'}"
print "prefix 'car' now: #{trie\count_prefix 'car'}"

{ :Trie }
