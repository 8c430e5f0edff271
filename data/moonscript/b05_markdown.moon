-- A naïve markdown subset to HTML converter
import concat, insert from table

ENTITIES = {
  "&": "&amp;"
  "<": "&lt;"
  ">": "&gt;"
  '"': "&quot;"
}

escape = (text) ->
  out = text\gsub '[&<>"]', ENTITIES
  out

inline = (text) ->
  text = escape text
  text = text\gsub "%*%*(.-)%*%*", "<strong>%1</strong>"
  text = text\gsub "%*(.-)%*", "<em>%1</em>"
  text = text\gsub "`(.-)`", "<code>%1</code>"
  text = text\gsub "%[(.-)%]%((.-)%)", '<a href="%2">%1</a>'
  text

class Parser
  new: (@source) =>
    @out = {}
    @para = {}
    @list = nil
    @code = nil

  emit: (html) => insert @out, html

  flush_para: =>
    return if #@para == 0
    body = inline concat @para, " "
    @emit "<p>#{body}</p>"
    @para = {}

  flush_list: =>
    return unless @list
    items = ["<li>#{inline item}</li>" for item in *@list]
    @emit "<ul>" .. concat(items) .. "</ul>"
    @list = nil

  line: (l) =>
    if @code
      if l\match "^```"
        body = escape concat @code, "\n"
        @emit "<pre><code>#{body}</code></pre>"
        @code = nil
      else
        insert @code, l
      return

    heading, title = l\match "^(#+)%s+(.*)$"
    if heading
      @flush_para!
      @flush_list!
      n = #heading
      @emit "<h#{n}>#{inline title}</h#{n}>"
    elseif l\match "^```"
      @flush_para!
      @code = {}
    elseif item = l\match "^%s*[-*]%s+(.*)$"
      @flush_para!
      @list = @list or {}
      insert @list, item
    elseif l\match "^%s*$"
      @flush_para!
      @flush_list!
    else
      @flush_list!
      insert @para, l

  render: =>
    @line l for l in (@source .. "\n")\gmatch "(.-)\n"
    @flush_para!
    @flush_list!
    concat @out, "\n"

SAMPLE = [[
# Hello
Some *emphasis* and **bold** text,
plus a [link](http://example.com).

- one
- two with `code`
]]

render = (src) -> Parser(src)\render!

return { :Parser, :render, :escape, :inline, :SAMPLE }
