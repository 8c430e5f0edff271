-- Tokenizer, recursive-descent parser and evaluator for arithmetic

unpack = table.unpack or unpack

TOKEN_PATTERNS = {
	{ "number", "^%d+%.?%d*" }
	{ "ident", "^[%a_][%w_]*" }
	{ "op", "^[%+%-%*/%%]" }
	{ "lparen", "^%(" }
	{ "rparen", "^%)" }
	{ "comma", "^," }
}


tokenize = (source) ->
	tokens = {}
	pos = 1
	while pos <= #source
		if ws = source\match "^%s+", pos
			pos += #ws
			continue
		matched = false
		for {kind, pattern} in *TOKEN_PATTERNS
			if text = source\match pattern, pos
				table.insert tokens, { :kind, :text, :pos }
				pos += #text
				matched = true
				break
		error "unexpected character at #{pos}" unless matched
	tokens


class Parser
	new: (source) =>
		@tokens = tokenize source
		@index = 1

	peek: => @tokens[@index] or { kind: "eof", text: "end of input" }

	advance: =>
		tok = @peek!
		@index += 1
		tok

	expect: (kind) =>
		tok = @advance!
		error "expected #{kind}, got #{tok.text}" unless tok.kind == kind
		tok

	binary: (level, ops) =>
		node = @[level] @
		while @peek!.kind == "op" and ops[@peek!.text]
			op = @advance!.text
			node = { type: "binop", :op, left: node, right: @[level] @ }
		node

	expression: => @binary "term", { "+": true, "-": true }
	term: => @binary "factor", { "*": true, "/": true, "%": true }

	factor: =>
		tok = @advance!
		switch tok.kind
			when "number"
				{ type: "num", value: tonumber tok.text }
			when "lparen"
				node = @expression!
				@expect "rparen"
				node
			when "ident"
				return { type: "var", name: tok.text } unless @peek!.kind == "lparen"
				@advance!
				args = {}
				while @peek!.kind != "rparen"
					table.insert args, @expression!
					@advance! if @peek!.kind == "comma"
				@expect "rparen"
				{ type: "call", name: tok.text, :args }
			else
				if tok.text == "-"
					{ type: "neg", value: @factor! }
				else
					error "unexpected token '#{tok.text}'"


evaluate = (node, env = {}) ->
	switch node.type
		when "num" then node.value
		when "neg" then -evaluate(node.value, env)
		when "var"
			value = env[node.name] or math[node.name]
			error "undefined variable #{node.name}" if value == nil
			value
		when "call"
			fn = env[node.name] or math[node.name]
			fn unpack [evaluate(a, env) for a in *node.args]
		when "binop"
			a, b = evaluate(node.left, env), evaluate(node.right, env)
			switch node.op
				when "+" then a + b
				when "-" then a - b
				when "*" then a * b
				when "/" then a / b
				when "%" then a % b


calc = (source, env) -> evaluate Parser(source)\expression!, env

print calc "2 * (3 + 4) - max(1, x, 5)", x: 10

{ :tokenize, :Parser, :evaluate, :calc }
