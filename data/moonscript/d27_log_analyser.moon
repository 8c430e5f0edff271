-- Access log analyser: parses nginx "combined" lines and summarises traffic

import insert, sort from table

MONTHS = {Jan: 1, Feb: 2, Mar: 3, Apr: 4, May: 5, Jun: 6, Jul: 7, Aug: 8, Sep: 9, Oct: 10, Nov: 11, Dec: 12}

LINE = '^(%S+) %S+ %S+ %[([^%]]+)%] "(%u+) ([^ ]+) [^"]*" (%d%d%d) (%d+) "[^"]*" "([^"]*)"%s*(%S*)'

parse_line = (line) ->
	ip, stamp, method, path, status, bytes, agent, took = line\match LINE
	return nil unless ip
	day, mon, year, hour = stamp\match "^(%d+)/(%a+)/(%d+):(%d+)"
	{
		:ip, :method, :agent
		path: path\gsub "%?.*$", ""
		status: tonumber status
		bytes: tonumber bytes
		hour: tonumber hour
		date: string.format "%s-%02d-%02d", year, MONTHS[mon] or 0, tonumber(day)
		request_time: tonumber took
	}

bump = (t, k, n = 1) -> t[k] = (t[k] or 0) + n

class Stats
	new: =>
		@requests, @bytes, @bad_lines = 0, 0, 0
		@by_status, @by_path, @by_ip, @by_hour = {}, {}, {}, {}
		@slowest = {}

	add: (e) =>
		@requests += 1
		@bytes += e.bytes
		bump @by_status, math.floor(e.status / 100) .. "xx"
		bump @by_path, e.path
		bump @by_ip, e.ip
		bump @by_hour, e.hour
		if e.request_time
			insert @slowest, e
			sort @slowest, (a, b) -> a.request_time > b.request_time
			@slowest[6] = nil

	top: (t, n = 5) =>
		keys = [k for k in pairs t]
		sort keys, (a, b) -> t[a] > t[b]
		[{k, t[k]} for k in *keys[1, math.min(n, #keys)]]

	error_rate: =>
		errors = (@by_status["5xx"] or 0) + (@by_status["4xx"] or 0)
		if @requests > 0 then errors / @requests * 100 else 0

	report: =>
		print string.format("%d requests, %.1f MB, %d unparsed lines", @requests, @bytes / 1048576, @bad_lines)
		print string.format("error rate: %.2f%%", @error_rate!)
		sections = {{"status classes", @by_status}, {"top paths", @by_path}, {"top clients", @by_ip}}
		for {title, t} in *sections
			print "\n#{title}:"
			print string.format("  %-40s %d", row[1], row[2]) for row in *@top t
		print "\nrequests per hour:"
		peak = 0
		peak = math.max peak, n for _, n in pairs @by_hour
		for h = 0, 23
			n = @by_hour[h] or 0
			print string.format("  %02d %6d %s", h, n, string.rep("#", math.floor(n / math.max(peak, 1) * 40)))
		print "\nslowest requests:"
		print string.format("  %.3fs %s %s", e.request_time, e.method, e.path) for e in *@slowest


stats = Stats!
input = if arg[1] then assert(io.open arg[1]) else io.stdin
for line in input\lines!
	if entry = parse_line line
		stats\add entry
	else
		stats.bad_lines += 1
stats\report!
