-- Save games for LOVE: tables written as Lua source, versioned and checksummed

SAVE_VERSION = 3

serialize = (value, indent = "") ->
	switch type value
		when "string"
			string.format "%q", value
		when "number", "boolean", "nil"
			tostring value
		when "table"
			keys = [k for k in pairs value]
			table.sort keys, (a, b) -> tostring(a) < tostring(b)
			inner = indent .. "  "
			parts = {}
			for k in *keys
				key = if type(k) == "string" and k\match "^[%a_][%w_]*$"
					k
				else
					"[#{serialize k}]"
				table.insert parts, "#{inner}#{key} = #{serialize value[k], inner}"
			body = table.concat parts, ",\n"
			"{\n#{body}\n#{indent}}"
		else
			error "cannot serialise a #{type value}"

checksum = (text) ->
	-- cheap rolling hash, enough to spot truncated or hand-edited files
	h = 0
	for i = 1, #text
		h = (h * 31 + text\byte i) % 4294967296
	h

-- each entry upgrades a save from that version to the next one
migrations = {
	[1]: (data) ->
		data.gold = data.coins or 0
		data.coins = nil
	[2]: (data) ->
		data.settings or= {volume: 1, fullscreen: false}
}

upgrade = (data) ->
	version = data.version or 1
	while version < SAVE_VERSION
		migrate = migrations[version]
		migrate data if migrate
		version += 1
	data.version = SAVE_VERSION
	data

save_game = (slot, state) ->
	state.version = SAVE_VERSION
	state.saved_at = os.time!
	body = "return " .. serialize state
	love.filesystem.write "save#{slot}.lua", "-- #{checksum body}\n#{body}"

load_game = (slot) ->
	path = "save#{slot}.lua"
	return nil, "no save in slot #{slot}" unless love.filesystem.getInfo path
	contents = love.filesystem.read path
	stored, body = contents\match "^%-%- (%d+)\n(.*)$"
	unless body and tonumber(stored) == checksum body
		return nil, "save file is corrupt"
	loader = loadstring or load
	chunk, err = loader body, path
	return nil, err unless chunk
	-- an empty environment means a save file cannot call anything
	setfenv chunk, {} if setfenv
	ok, data = pcall chunk
	return nil, data unless ok
	upgrade data

list_saves = ->
	slots = {}
	for name in *love.filesystem.getDirectoryItems ""
		if n = name\match "^save(%d+)%.lua$"
			table.insert slots, tonumber n
	table.sort slots
	slots

{ :serialize, :save_game, :load_game, :list_saves, :upgrade }
