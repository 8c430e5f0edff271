-- ANSI terminal colours: composable styles, a tiny markup language
-- ("{bold red}error{/}: ...") and helpers to strip or measure output.
-- Colours are switched off when NO_COLOR is set, as is the convention.
import concat, insert from table

ESC = string.char 27

CODES = {
	reset: 0, bold: 1, dim: 2, italic: 3, underline: 4, inverse: 7
	black: 30, red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, white: 37
	bg_black: 40, bg_red: 41, bg_green: 42, bg_yellow: 43
	bg_blue: 44, bg_magenta: 45, bg_cyan: 46, bg_white: 47
}

enabled = os.getenv("NO_COLOR") == nil

sgr = (codes) -> "#{ESC}[#{concat codes, ';'}m"

class Style
	new: (@codes = {}) =>

	-- returns a new style; the receiver is left untouched
	add: (...) =>
		codes = [c for c in *@codes]
		for name in *{...}
			code = CODES[name]
			error "unknown style '#{name}'", 2 unless code
			insert codes, code
		Style codes

	paint: (text) =>
		text = tostring text
		return text unless enabled and #@codes > 0
		sgr(@codes) .. text .. sgr({ 0 })

	__call: (text) => @paint text

style = (...) -> Style!\add ...
fg256 = (n) -> Style { 38, 5, n }
rgb = (r, g, b) -> Style { 38, 2, r, g, b }

replace_tag = (spec) ->
	return (enabled and sgr({ 0 }) or "") if spec == "/"
	codes = {}
	for name in spec\gmatch "[%w_]+"
		-- unknown words mean this was not a tag; leave the text alone
		return nil unless CODES[name]
		insert codes, CODES[name]
	enabled and sgr(codes) or ""

markup = (text) -> (text\gsub "{([%w_ /]+)}", replace_tag)
strip = (text) -> (text\gsub "#{ESC}%[[%d;]*m", "")
visible_length = (text) -> #strip(text)

pad_visible = (text, width) ->
	text .. (" ")\rep math.max(0, width - visible_length text)

-- demo
err = style "bold", "red"
ok = style("green")\add "bold"
note = style "dim", "italic"

print err("error") .. ": could not open config"
print ok("passed"), note("(12 tests)")
print markup "{bold yellow}warning{/}: {cyan}3{/} files skipped, {nope} left as is"

swatch = for i = 0, 5
	fg256(196 + i)("##")
print concat swatch, " "
print rgb(255, 128, 0)("orange text"), style("inverse")(" inverted ")

line = markup "{green}OK{/} done"
print "raw length #{#line}, visible #{visible_length line}"
for row in *{ { "build", ok "ok" }, { "lint", err "fail" } }
	print "[" .. pad_visible(row[2], 6) .. "] " .. row[1]

{ :Style, :style, :fg256, :rgb, :markup, :strip, :visible_length }
