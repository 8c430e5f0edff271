-- Huffman coding: build an optimal prefix code from symbol frequencies,
-- then encode text to a bit string and decode it again
import insert, remove, sort, concat from table

count_symbols = (text) ->
    freq = {}
    for ch in text\gmatch "."
        freq[ch] = (freq[ch] or 0) + 1
    freq

class Leaf
    new: (symbol, weight) =>
        @symbol, @weight = symbol, weight
    is_leaf: => true

class Branch
    new: (left, right) =>
        @left, @right = left, right
        @weight = left.weight + right.weight
    is_leaf: => false

-- ties are broken by a key so the same input always yields the same code
node_key = (n) -> n.symbol or n.tie

build_tree = (freq) ->
    pool = [Leaf(sym, w) for sym, w in pairs freq]
    return nil if #pool == 0
    merges = 0
    while #pool > 1
        -- heaviest first, so the two lightest nodes sit at the end
        sort pool, (a, b) ->
            return a.weight > b.weight if a.weight != b.weight
            node_key(a) > node_key(b)
        a = remove pool
        b = remove pool
        merges += 1
        merged = Branch a, b
        merged.tie = "~#{merges}"
        insert pool, merged
    pool[1]

build_codes = (tree) ->
    codes = {}
    walk = (node, prefix) ->
        if node\is_leaf!
            -- a one-symbol input still needs one bit per symbol
            codes[node.symbol] = if prefix == "" then "0" else prefix
        else
            walk node.left, prefix .. "0"
            walk node.right, prefix .. "1"
    walk tree, ""
    codes

encode = (text, codes) ->
    concat [codes[ch] for ch in text\gmatch "."]

decode = (bits, tree) ->
    out = {}
    if tree\is_leaf!
        insert out, tree.symbol for _ = 1, #bits
        return concat out
    node = tree
    for bit in bits\gmatch "."
        node = if bit == "0" then node.left else node.right
        if node\is_leaf!
            insert out, node.symbol
            node = tree
    concat out


message = "abracadabra alakazam"
tree = build_tree count_symbols message
codes = build_codes tree

symbols = [s for s in pairs codes]
sort symbols, (a, b) ->
    return #codes[a] < #codes[b] if #codes[a] != #codes[b]
    a < b
for s in *symbols
    print string.format "%q  %s", s, codes[s]

bits = encode message, codes
print "#{#bits} bits vs #{#message * 8} uncompressed"
assert decode(bits, tree) == message, "round trip mismatch"
print "decoded: #{decode bits, tree}"
print "single symbol: #{encode 'aaaa', build_codes(build_tree(count_symbols 'aaaa'))}"

{ :build_tree, :build_codes, :encode, :decode }
