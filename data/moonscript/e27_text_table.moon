-- Plain-text tables with aligned, width-capped columns and a few
-- border styles: ascii, markdown and simple.
import insert, concat from table

STYLES = {
    ascii: { h: "-", v: "|", x: "+" }
    simple: { h: "-", v: " ", x: " " }
    markdown: { h: "-", v: "|", x: "|" }
}

pad = (text, width, align = "left") ->
    gap = width - #text
    return text if gap <= 0
    switch align
        when "right" then (" ")\rep(gap) .. text
        when "center"
            left = math.floor gap / 2
            (" ")\rep(left) .. text .. (" ")\rep(gap - left)
        else text .. (" ")\rep(gap)

truncate = (text, width) ->
    return text if not width or #text <= width
    text\sub(1, width - 3) .. "..."

class TextTable
    new: (@columns, opts = {}) =>
        @rows = {}
        @style_name = opts.style or "ascii"
        @style = STYLES[@style_name] or error "unknown style #{@style_name}"

    add: (row) =>
        insert @rows, row
        @

    cell: (col, row) =>
        value = row[col.key]
        return "" if value == nil
        truncate (col.format or tostring)(value), col.max

    widths: =>
        return for col in *@columns
            w = #col.title
            w = math.max w, #@cell(col, row) for row in *@rows
            w

    line: (cells) =>
        v = @style.v
        "#{v} #{concat cells, " #{v} "} #{v}"

    separator: (widths) =>
        s = @style
        parts = for i, w in ipairs widths
            if @style_name == "markdown"
                -- markdown puts the alignment here
                align = @columns[i].align
                left = align == "center" and ":" or "-"
                right = (align == "right" or align == "center") and ":" or "-"
                left .. s.h\rep(w) .. right
            else
                s.h\rep w + 2
        s.x .. concat(parts, s.x) .. s.x

    render: =>
        widths = @widths!
        border = @separator widths
        framed = @style_name == "ascii"
        out = {}
        insert out, border if framed
        insert out, @line([pad(col.title, widths[i], col.align) for i, col in ipairs @columns])
        insert out, border
        for row in *@rows
            cells = [pad(@cell(col, row), widths[i], col.align) for i, col in ipairs @columns]
            insert out, @line(cells)
        insert out, border if framed
        concat out, "\n"

-- demo
money = (n) -> string.format "%.2f", n

columns = {
    { key: "name", title: "Item", max: 16 }
    { key: "qty", title: "Qty", align: "right" }
    { key: "price", title: "Price", align: "right", format: money }
    { key: "status", title: "Status", align: "center" }
}

rows = {
    { name: "Moon boots", qty: 2, price: 89.5, status: "ok" }
    { name: "Extra-long lens cover", qty: 1, price: 12, status: "backorder" }
    { name: "Star chart", qty: 10, price: 3.25 }
}

for style in *{ "ascii", "markdown", "simple" }
    t = TextTable columns, :style
    t\add r for r in *rows
    print t\render! .. "\n"

{ :TextTable, :pad, :truncate }
