-- INI style config reader with typed values and env overrides
import insert, sort, concat from table

trim = (s) -> s\match "^%s*(.-)%s*$"

coerce = (raw) ->
	switch raw
		when "true", "yes", "on" then true
		when "false", "no", "off" then false
		when "" then nil
		else
			if n = tonumber raw
				n
			elseif quoted = raw\match '^"(.*)"$'
				quoted
			else
				raw

class Config
	new: (@defaults = {}) =>
		@sections = {}
		@errors = {}

	@parse: (text, defaults) =>
		with Config defaults
			\load text

	load: (text) =>
		section = "main"
		lineno = 0
		for line in (text .. "\n")\gmatch "(.-)\r?\n"
			lineno += 1
			line = trim line
			continue if line == "" or line\match "^[;#]"
			if name = line\match "^%[([^%]]+)%]$"
				section = name
			else
				key, value = line\match "^([%w_%.]+)%s*=%s*(.*)$"
				if key
					@set section, key, coerce value
				else
					insert @errors, "line #{lineno}: cannot parse '#{line}'"
		@

	set: (section, key, value) =>
		@sections[section] = @sections[section] or {}
		@sections[section][key] = value

	get: (path, fallback) =>
		section, key = path\match "^([^%.]+)%.(.+)$"
		section, key = "main", path unless section
		env_name = "APP_#{section}_#{key}"\upper!\gsub "%.", "_"
		if env = os.getenv env_name
			return coerce env
		value = @sections[section] and @sections[section][key]
		return value if value != nil
		d = @defaults[section]
		if d and d[key] != nil
			return d[key]
		fallback

	section: (name) =>
		{k, v for k, v in pairs @sections[name] or {}}

	dump: =>
		out = {}
		names = [n for n in pairs @sections]
		sort names
		for n in *names
			insert out, "[#{n}]"
			keys = [k for k in pairs @sections[n]]
			sort keys
			insert out, "#{k} = #{tostring @sections[n][k]}" for k in *keys
		concat out, "\n"

EXAMPLE = [[
; server settings
[server]
host = 0.0.0.0
port = 8080
debug = yes

[db]
name = "app_dev"
pool = 4
]]

DEFAULTS =
	server:
		host: "127.0.0.1"
		port: 80
		debug: false
	db:
		pool: 1

return { :Config, :coerce, :trim, :EXAMPLE, :DEFAULTS }
