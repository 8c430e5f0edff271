-- Loads INI-like config files with sections, defaults and env overrides

DEFAULTS = {
	server: {
		host: "127.0.0.1"
		port: 8080
		workers: 2
	}
	log: { level: "info", color: true }
}


trim = (s) -> s\match "^%s*(.-)%s*$"


coerce = (value) ->
	switch value
		when "true" then true
		when "false" then false
		when "nil", "" then nil
		else
			tonumber(value) or value\gsub('^"(.*)"$', "%1")


deep_merge = (base, overrides) ->
	result = {k, v for k, v in pairs base}
	for k, v in pairs overrides
		if type(v) == "table" and type(result[k]) == "table"
			result[k] = deep_merge result[k], v
		else
			result[k] = v
	result


parse = (text) ->
	config = {}
	section = config
	line_no = 0
	for line in text\gmatch "([^\n]*)\n?"
		line_no += 1
		line = trim line
		continue if line == "" or line\sub(1, 1) == "#"
		if name = line\match "^%[([%w_]+)%]$"
			config[name] or= {}
			section = config[name]
		else
			key, value = line\match "^([%w_]+)%s*=%s*(.*)$"
			error "syntax error on line #{line_no}: #{line}" unless key
			section[key] = coerce value
	config


apply_env = (config, prefix = "APP") ->
	for section, values in pairs config
		continue unless type(values) == "table"
		for key in pairs values
			env = os.getenv string.upper "#{prefix}_#{section}_#{key}"
			values[key] = coerce env if env
	config


load = (path, opts = {}) ->
	file = io.open path, "r"
	unless file
		return nil, "could not open #{path}" unless opts.optional
		return deep_merge DEFAULTS, {}
	text = file\read "*a"
	file\close!
	config = deep_merge DEFAULTS, parse text
	apply_env config, opts.env_prefix if opts.env
	config


sample = deep_merge DEFAULTS, parse [[
# local development settings
[server]
port = 9000
host = "0.0.0.0"

[log]
level = debug
]]
print "server listens on #{sample.server.host}:#{sample.server.port}"

{ :load, :parse, :deep_merge, :coerce, :DEFAULTS }
