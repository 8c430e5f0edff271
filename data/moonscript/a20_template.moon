-- Tiny string template engine with filters and loops

HTML_ESCAPES = {
  ["<"]: "&lt;"
  [">"]: "&gt;"
  ["&"]: "&amp;"
  ['"']: "&quot;"
}

FILTERS = {
  upper: (s) -> tostring(s)\upper!
  lower: (s) -> tostring(s)\lower!
  trim: (s) -> tostring(s)\match "^%s*(.-)%s*$"
  escape: (s) ->
    out = tostring(s)\gsub '[<>&"]', HTML_ESCAPES
    out
  default: (s, fallback = "") ->
    if s == nil or s == "" then fallback else s
  money: (n) -> string.format "%.2f", tonumber(n) or 0
}


lookup = (ctx, path) ->
  value = ctx
  for part in path\gmatch "[^%.]+"
    return nil unless type(value) == "table"
    value = value[tonumber(part) or part]
  value


render_vars = (text, ctx) ->
  text\gsub "{{%s*(.-)%s*}}", (expr) ->
    name, rest = expr\match "^([%w_%.]+)(.*)$"
    return "" unless name
    value = lookup ctx, name
    for filter_name, arg in rest\gmatch "|%s*([%w_]+)%s*:?%s*([^|]*)"
      filter = FILTERS[filter_name]
      error "unknown filter '#{filter_name}'" unless filter
      arg = arg\match "^(.-)%s*$"
      value = filter value, (arg != "" and arg or nil)
    tostring(value == nil and "" or value)


local render

render_sections = (text, ctx) ->
  text\gsub "{{#each%s+([%w_%.]+)}}(.-){{/each}}", (path, body) ->
    list = lookup(ctx, path) or {}
    parts = for i, item in ipairs list
      scope = setmetatable { :item, index: i, first: i == 1, last: i == #list }, __index: ctx
      render body, scope
    table.concat parts


render = (template, ctx = {}) ->
  out = render_sections template, ctx
  out = render_vars out, ctx
  out


page = [[
<h1>{{ title | upper }}</h1>
<ul>
{{#each items}}  <li>{{ index }}. {{ item.name | escape }} - {{ item.price | money }}</li>
{{/each}}</ul>
<p>{{ footer | default: no footer today }}</p>
]]

print render page, {
  title: "menu du jour"
  items: {
    { name: "café au lait", price: 2.5 }
    { name: "tea & biscuits", price: 3 }
    { name: "<script>", price: 0 }
  }
}

{ :render, :lookup, :FILTERS }
