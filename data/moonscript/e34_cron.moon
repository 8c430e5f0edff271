-- Cron expressions such as "*/15 9-17 * * mon-fri". Every field is
-- expanded into a set of allowed values, so matching is a few lookups.
import insert, concat from table

FIELDS = {
	{ name: "minute", min: 0, max: 59 }
	{ name: "hour", min: 0, max: 23 }
	{ name: "day", min: 1, max: 31 }
	{ name: "month", min: 1, max: 12, names: { "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec" } }
	{ name: "weekday", min: 0, max: 6, names: { "sun", "mon", "tue", "wed", "thu", "fri", "sat" } }
}

MACROS = {
	"@hourly": "0 * * * *"
	"@daily": "0 0 * * *"
	"@weekly": "0 0 * * 0"
	"@monthly": "0 0 1 * *"
}

resolve = (field, token) ->
	n = tonumber token
	return n if n
	for i, name in ipairs field.names or {}
		return i - 1 + field.min if name == token\lower!
	error "bad value '#{token}' for #{field.name}", 0

parse_field = (field, text) ->
	allowed = {}
	for part in text\gmatch "[^,]+"
		range, step = part\match "^([^/]+)/(%d+)$"
		range or= part
		step = tonumber(step) or 1
		local lo, hi
		if range == "*"
			lo, hi = field.min, field.max
		else
			a, b = range\match "^(%w+)%-(%w+)$"
			if a
				lo, hi = resolve(field, a), resolve(field, b)
			else
				lo = resolve field, range
				-- "5/20" means every 20 starting at 5
				hi = step > 1 and field.max or lo
		if lo < field.min or hi > field.max or lo > hi
			error "#{field.name} out of range: #{part}", 0
		allowed[v] = true for v = lo, hi, step
	allowed

class Cron
	new: (@source) =>
		expr = MACROS[@source] or @source
		parts = [p for p in expr\gmatch "%S+"]
		error "expected 5 fields, got #{#parts}", 0 unless #parts == 5
		@sets = [parse_field(FIELDS[i], parts[i]) for i = 1, 5]
		@day_any = parts[3] == "*"
		@weekday_any = parts[5] == "*"

	matches: (t) =>
		s = @sets
		return false unless s[1][t.min] and s[2][t.hour] and s[4][t.month]
		day_ok, week_ok = s[3][t.day] == true, s[5][t.wday - 1] == true
		-- classic cron rule: when both day fields are restricted, either may match
		if @day_any or @weekday_any
			day_ok and week_ok
		else
			day_ok or week_ok

	next_after: (time = os.time!, limit = 366 * 24 * 60) =>
		t = time - time % 60 + 60
		for _ = 1, limit
			return t if @matches os.date("*t", t)
			t += 60
		nil

-- demo
show = (ts) -> os.date "%a %Y-%m-%d %H:%M", ts
start = os.time year: 2024, month: 3, day: 1, hour: 8, min: 50

for expr in *{ "*/15 9-17 * * mon-fri", "30 6 1,15 * *", "@weekly", "0 12 * jan,jul sun", "5/20 * * * *" }
	cron = Cron expr
	upcoming, t = {}, start
	for _ = 1, 3
		t = cron\next_after t
		break unless t
		insert upcoming, show(t)
	print string.format("%-22s -> %s", expr, concat(upcoming, " | "))

for bad in *{ "61 * * * *", "* * * foo *", "* *" }
	ok, err = pcall Cron, bad
	print "invalid #{bad}: #{err}"

{ :Cron, :parse_field }
