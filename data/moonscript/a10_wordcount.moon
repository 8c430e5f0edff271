-- Tiny command line argument parser, plus a word-count tool built on it

export VERSION = "0.3.1"


class ArgParser
	new: (@name, @description = "") =>
		@options = {}
		@positionals = {}
		@epilog = nil

	flag: (long, short, help) =>
		table.insert @options, { :long, :short, :help, kind: "flag" }
		@

	option: (long, short, help, default) =>
		table.insert @options, { :long, :short, :help, :default, kind: "option" }
		@

	argument: (name, help) =>
		table.insert @positionals, { :name, :help }
		@

	find: (key) =>
		for opt in *@options
			return opt if opt.long == key or opt.short == key
		nil

	usage: =>
		names = table.concat [p.name for p in *@positionals], " "
		lines = { "Usage: #{@name} [options] #{names}", @description, "" }
		for opt in *@options
			short = opt.short and "-#{opt.short}, " or "    "
			value = opt.kind == "option" and " <value>" or ""
			table.insert lines, "  #{short}--#{opt.long}#{value}  #{opt.help or ''}"
		table.insert lines, @epilog if @epilog
		table.concat lines, "\n"

	parse: (argv = arg) =>
		result = { _rest: {} }
		for opt in *@options
			result[opt.long] = opt.default if opt.kind == "option"
		i = 1
		while i <= #argv
			a = argv[i]
			key = a\match("^%-%-([%w%-]+)$") or a\match("^%-(%w)$")
			if key
				opt = @find key
				error "unknown option: #{a}" unless opt
				if opt.kind == "flag"
					result[opt.long] = true
				else
					i += 1
					result[opt.long] = argv[i] or error "missing value for --#{opt.long}"
			else
				table.insert result._rest, a
			i += 1
		result[p.name] = result._rest[idx] for idx, p in ipairs @positionals
		result


parser = with ArgParser("wc", "Count lines, words and bytes in a file.")
	\flag "lines", "l", "print the line count"
	\flag "words", "w", "print the word count"
	\flag "version", "v", "show version and exit"
	\argument "file", "file to read"
	.epilog = [[

Examples:
wc -l notes.txt
wc --words README.md]]

args = parser\parse {...}

if args.version
	print "wc #{VERSION}"
	os.exit 0

unless args.file
	io.stderr\write parser\usage!, "\n"
	os.exit 1

text = assert(io.open args.file)\read "*a"
counts = {
	lines: select(2, text\gsub("\n", ""))
	words: select(2, text\gsub("%S+", ""))
	bytes: #text
}

shown = [k for k in *{ "lines", "words", "bytes" } when args[k]]
shown = { "lines", "words", "bytes" } if #shown == 0
io.write "#{counts[k]}\t" for k in *shown
print args.file
