-- INI file reader and writer: sections, comments, quoted strings and
-- values coerced to booleans and numbers where that is unambiguous
import insert, concat, sort from table

coerce = (raw) ->
	return true if raw == "true" or raw == "yes" or raw == "on"
	return false if raw == "false" or raw == "no" or raw == "off"
	if n = tonumber raw
		return n
	if quoted = raw\match('^"(.*)"$') or raw\match("^'(.*)'$")
		return quoted
	raw

class Ini
	new: =>
		@sections = {}
		@order = {}   -- remember section order for stable output

	section: (name) =>
		unless @sections[name]
			@sections[name] = {}
			insert @order, name
		@sections[name]

	@parse: (text) =>
		ini = Ini!
		current = ini\section "default"
		line_no = 0
		for line in (text .. "\n")\gmatch "(.-)\r?\n"
			line_no += 1
			line = line\match "^%s*(.-)%s*$"
			continue if line == "" or line\match "^[;#]"
			if name = line\match "^%[([^%]]+)%]$"
				current = ini\section name
			else
				key, value = line\match "^([^=]-)%s*=%s*(.*)$"
				return nil, "line #{line_no}: expected key = value" unless key
				-- trailing comments are only stripped from unquoted values
				value = value\gsub("%s+[;#].*$", "") unless value\match "^[\"']"
				current[key] = coerce value
		ini

	get: (section, key, fallback) =>
		sec = @sections[section]
		value = sec and sec[key]
		if value == nil then fallback else value

	set: (section, key, value) =>
		@section(section)[key] = value
		@

	serialize: =>
		out = {}
		for name in *@order
			entries = @sections[name]
			keys = [k for k in pairs entries]
			continue if #keys == 0
			sort keys
			insert out, "[#{name}]"
			for k in *keys
				v = entries[k]
				v = "\"#{v}\"" if type(v) == "string" and v\match "[;#%s]"
				insert out, "#{k} = #{tostring v}"
			insert out, ""
		concat out, "\n"


source = [[
; app settings
name = Moon Board
debug = yes

[server]
host = 0.0.0.0
port = 8080   ; default port
motd = "Welcome; enjoy your stay"

[limits]
max_users = 250
ratio = 0.75
]]

config, err = Ini\parse source
error err unless config
port = config\get "server", "port", 80
print "name=#{config\get 'default', 'name'} port=#{port} (#{type port})"
print "debug is #{config\get 'default', 'debug'}, motd: #{config\get 'server', 'motd'}"
print "timeout: #{config\get 'server', 'timeout', 30}"

config\set("limits", "max_users", 500)\set "cache", "ttl", 60
print config\serialize!
print select 2, Ini\parse "[broken\nthis line has no equals sign"

{ :Ini }
