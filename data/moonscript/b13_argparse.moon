-- Tiny command line parser: flags, options with values, positionals
import insert, concat from table

class ArgParser
	new: (@prog, @description = "") =>
		@options = {}
		@positionals = {}
		@by_name = {}

	option: (name, opts = {}) =>
		opt = {
			:name
			short: opts.short
			default: opts.default
			flag: opts.flag or false
			help: opts.help or ""
			convert: opts.convert
		}
		insert @options, opt
		@by_name["--#{name}"] = opt
		@by_name["-#{opt.short}"] = opt if opt.short
		@

	flag: (name, short, help) =>
		@option name, {:short, :help, flag: true, default: false}

	argument: (name, help = "") =>
		insert @positionals, {:name, :help}
		@

	usage: =>
		text = "usage: #{@prog}"
		for o in *@options
			text ..= o.flag and " [--#{o.name}]" or " [--#{o.name} VALUE]"
		text ..= " " .. p.name\upper! for p in *@positionals
		text ..= "\n\n#{@description}" unless @description == ""
		text

	parse: (args = arg or {}) =>
		result = {}
		result[o.name] = o.default for o in *@options
		rest = {}
		i = 1
		while i <= #args
			a = args[i]
			key, inline = a\match "^(%-%-?[%w-]+)=(.*)$"
			key = key or a
			if opt = @by_name[key]
				if opt.flag
					result[opt.name] = true
				else
					value = inline
					unless value
						i += 1
						value = args[i]
					error "missing value for #{key}" unless value
					value = opt.convert value if opt.convert
					result[opt.name] = value
			elseif a\sub(1, 1) == "-" and a != "-"
				error "unknown option #{a}\n#{@usage!}"
			else
				insert rest, a
			i += 1
		for idx, p in ipairs @positionals
			result[p.name] = rest[idx]
		result.rest = [r for r in *rest[#@positionals + 1,]]
		result

demo = (...) ->
	parser = with ArgParser "moonpack", "Bundle .moon files into one Lua file."
		\option "output", short: "o", default: "out.lua", help: "output file"
		\option "level", convert: tonumber, default: 1
		\flag "verbose", "v", "chatty output"
		\argument "input"
	argv = select("#", ...) > 0 and {...} or {"-v", "--level=3", "main.moon"}
	opts = parser\parse argv
	print k, v for k, v in pairs opts
	print parser\usage!

return { :ArgParser, :demo }
