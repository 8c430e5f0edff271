-- Lexer for arithmetic expressions: numbers, names, operators and parens.
-- Produces a flat list of tokens that remember where they started, so a
-- parser further down the line can report errors with line:column.
import insert, concat from table

SINGLE = {
  "+": "plus", "-": "minus", "*": "star", "/": "slash"
  "%": "percent", "^": "caret", "(": "lparen", ")": "rparen"
  ",": "comma", "=": "assign"
}

class Token
  new: (@kind, @text, @line, @col) =>
    @value = tonumber(@text) if @kind == "number"

  __tostring: => "#{@kind}(#{@text})@#{@line}:#{@col}"

class Lexer
  new: (@source) =>
    @pos = 1
    @line = 1
    @col = 1
    @tokens = {}

  peek: (offset = 0) =>
    p = @pos + offset
    @source\sub p, p

  advance: (n = 1) =>
    for _ = 1, n
      if @peek! == "\n"
        @line += 1
        @col = 1
      else
        @col += 1
      @pos += 1

  emit: (kind, text) =>
    insert @tokens, Token kind, text, @line, @col
    @advance #text

  fail: (msg) =>
    error "lex error at #{@line}:#{@col}: #{msg}", 0

  read_number: =>
    text = @source\match "^%d*%.?%d+", @pos
    text or= @source\match "^%d+%.?", @pos
    @fail "malformed number" unless text
    -- optional exponent part: 1e3, 2.5E-4
    if exp = @source\match "^[eE][%+%-]?%d+", @pos + #text
      text ..= exp
    @emit "number", text

  tokenize: =>
    while @pos <= #@source
      c = @peek!
      if c\match "%s"
        @advance!
      elseif c\match("%d") or (c == "." and @peek(1)\match("%d"))
        @read_number!
      elseif c\match "[%a_]"
        @emit "name", @source\match("^[%a_][%w_]*", @pos)
      elseif c == "*" and @peek(1) == "*"
        -- "**" is accepted as an alias for "^"
        @emit "caret", "**"
      elseif SINGLE[c]
        @emit SINGLE[c], c
      else
        @fail "unexpected character '#{c}'"
    insert @tokens, Token "eof", "", @line, @col
    @tokens

lex = (src) -> Lexer(src)\tokenize!

describe_tokens = (tokens) ->
  concat [tostring t for t in *tokens], " "

-- demo
print describe_tokens lex "x = 3.5 * (y + 2e3) ** 2"
print describe_tokens lex "area(r)\n  = pi * r ^ 2"

numbers = [t.value for t in *lex("1 + .5 + 10.25 - 4e-2") when t.kind == "number"]
print "numbers: #{concat numbers, ', '}"

ok, err = pcall lex, "total = 1 + $"
print err unless ok

{ :Lexer, :Token, :lex }
