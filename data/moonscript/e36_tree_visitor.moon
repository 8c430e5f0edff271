-- Generic tree walker with enter/leave visitors keyed by node type.
-- A visitor may return "skip" to leave a subtree alone, false to delete
-- the node, or a table to replace it.
import insert, remove, concat from table

SKIP = "skip"

class Walker
  new: (opts = {}) =>
    @children_key = opts.children or "children"
    @type_key = opts.type or "type"

  call_visitor: (fn, node, parent, path) =>
    return node unless fn
    result = fn node, parent, path
    return result if result == SKIP or result == false
    type(result) == "table" and result or node

  walk: (node, visitor, parent = nil, path = {}) =>
    kind, original = node[@type_key], node
    node = @call_visitor visitor[kind] or visitor.enter, node, parent, path
    return false if node == false
    return original if node == SKIP
    if kids = node[@children_key]
      insert path, node
      i = 1
      while i <= #kids
        replaced = @walk kids[i], visitor, node, path
        if replaced == false
          remove kids, i
        else
          kids[i] = replaced
          i += 1
      remove path
    @call_visitor visitor["#{kind}_leave"] or visitor.leave, node, parent, path

  collect: (root, pred) =>
    found = {}
    @walk root, enter: (n) -> insert found, n if pred n
    found

  outline: (root) =>
    lines = {}
    @walk root, enter: (n, parent, path) ->
      label = n.text or n.href or ""
      insert lines, ("  ")\rep(#path) .. "#{n[@type_key]} #{label}"
    concat lines, "\n"

-- demo: a small document tree
doc = {
  type: "document"
  children: {
    { type: "heading", text: "Install" }
    {
      type: "paragraph"
      children: {
        { type: "text", text: "Run " }
        { type: "code", text: "luarocks install moonscript" }
        { type: "text", text: " and then build." }
      }
    }
    { type: "comment", text: "TODO: mention windows" }
    {
      type: "paragraph"
      children: {
        { type: "text", text: "See " }
        { type: "link", href: "https://moonscript.org", children: { { type: "text", text: "the docs" } } }
      }
    }
  }
}

walker = Walker!
words = 0
walker\walk doc, {
  comment: -> false
  heading: (n) -> { type: "heading", text: n.text\upper! }
  link: (n) -> SKIP if n.href\match "^https?://"
  text: (n) ->
    words += 1 for _ in n.text\gmatch "%S+"
  paragraph_leave: (n) -> n.size = #n.children
}

print walker\outline doc
print "words outside links: #{words}"
codes = walker\collect doc, (n) -> n.type == "code"
print "code spans: #{#codes}, first: #{codes[1].text}"
sizes = [p.size for p in *walker\collect(doc, (n) -> n.size)]
print "paragraph sizes: #{concat sizes, ', '}"

{ :Walker, :SKIP }
