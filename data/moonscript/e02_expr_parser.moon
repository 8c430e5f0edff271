-- Recursive-descent parser for arithmetic, producing a small AST.
-- Precedence, loosest first: + -, then * / %, then unary -, then ^,
-- which is right associative. Calls look like name(arg, ...).
import insert from table

unpack = table.unpack or unpack

scan = (src) ->
  tokens, pos = {}, 1
  while true
    pos = src\find "%S", pos
    break unless pos
    num = src\match "^%d+%.?%d*", pos
    name = src\match "^[%a_][%w_]*", pos
    text = num or name or src\sub pos, pos
    kind = num and "num" or name and "name" or "op"
    insert tokens, { :kind, value: num and tonumber(num) or text }
    pos += #text
  insert tokens, { kind: "eof" }
  tokens

class Parser
  new: (src) =>
    @tokens = scan src
    @i = 1

  peek: => @tokens[@i]
  accept: (value) =>
    tok = @peek!
    if tok.kind == "op" and tok.value == value
      @i += 1
      return true
    false

  expect: (value) =>
    error "expected '#{value}' near '#{@peek!.value or 'end'}'", 0 unless @accept value

  binary_loop: (ops, rule) =>
    left = @[rule] @
    while ops[@peek!.value] and @peek!.kind == "op"
      op = @peek!.value
      @i += 1
      left = { type: "binop", :op, :left, right: @[rule](@) }
    left

  expr: => @binary_loop { "+": true, "-": true }, "term"
  term: => @binary_loop { "*": true, "/": true, "%": true }, "unary"

  unary: =>
    return { type: "neg", operand: @unary! } if @accept "-"
    base = @primary!
    if @accept "^"
      return { type: "binop", op: "^", left: base, right: @unary! }
    base

  primary: =>
    tok = @peek!
    @i += 1
    return { type: "num", value: tok.value } if tok.kind == "num"
    if tok.kind == "name"
      return { type: "var", name: tok.value } unless @accept "("
      args = {}
      unless @accept ")"
        insert args, @expr!
        while @accept ","
          insert args, @expr!
        @expect ")"
      return { type: "call", name: tok.value, :args }
    if tok.value == "("
      inner = @expr!
      @expect ")"
      return inner
    error "unexpected '#{tok.value or 'end'}'", 0

  parse: =>
    tree = @expr!
    error "trailing input near '#{@peek!.value}'", 0 unless @peek!.kind == "eof"
    tree

ARITH = {
  "+": ((a, b) -> a + b), "-": ((a, b) -> a - b), "*": ((a, b) -> a * b)
  "/": ((a, b) -> a / b), "%": ((a, b) -> a % b), "^": ((a, b) -> a ^ b)
}

evaluate = (node, env = {}) ->
  switch node.type
    when "num" then node.value
    when "var"
      v = env[node.name]
      error "undefined: #{node.name}", 0 if v == nil
      v
    when "neg" then -(evaluate node.operand, env)
    when "call"
      fn = env[node.name] or math[node.name]
      fn unpack [evaluate(a, env) for a in *node.args]
    else
      ARITH[node.op] evaluate(node.left, env), evaluate(node.right, env)

-- demo
env = { x: 3, y: 4 }
for src in *{ "1 + 2 * 3", "-(x + 1) ^ 2", "sqrt(x*x + y*y)", "max(1, x, y) % 3" }
  print src, evaluate Parser(src)\parse!, env

print pcall -> Parser("2 * (3 + 4")\parse!

{ :Parser, :evaluate }
