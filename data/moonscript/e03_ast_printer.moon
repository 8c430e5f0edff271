-- Pretty-printers for a small expression AST: minimal-paren infix,
-- Lisp-style s-expressions and an indented tree dump for debugging.
import concat, insert from table

PREC = { "+": 1, "-": 1, "*": 2, "/": 2, "%": 2, "^": 3 }
RIGHT_ASSOC = { "^": true }

-- constructors keep the demo readable
num = (value) -> { type: "num", :value }
var = (name) -> { type: "var", :name }
bin = (op, left, right) -> { type: "binop", :op, :left, :right }
call = (name, ...) -> { type: "call", :name, args: {...} }
neg = (operand) -> { type: "neg", :operand }

format_number = (v) ->
  if v == math.floor(v) then string.format("%d", v) else tostring(v)

to_infix = (node, parent_prec = 0, is_right = false) ->
  switch node.type
    when "num" then format_number node.value
    when "var" then node.name
    when "neg" then "-" .. to_infix node.operand, 4
    when "call"
      args = [to_infix a for a in *node.args]
      "#{node.name}(#{concat args, ', '})"
    when "binop"
      prec = PREC[node.op]
      text = "#{to_infix node.left, prec, false} #{node.op} #{to_infix node.right, prec, true}"
      needs = prec < parent_prec
      if prec == parent_prec
        -- equal precedence: parenthesise the side that breaks associativity
        needs = if RIGHT_ASSOC[node.op] then not is_right else is_right
      needs and "(#{text})" or text

to_sexpr = (node) ->
  switch node.type
    when "num" then format_number node.value
    when "var" then node.name
    when "neg" then "(neg #{to_sexpr node.operand})"
    when "call"
      parts = { node.name }
      insert parts, to_sexpr a for a in *node.args
      "(#{concat parts, ' '})"
    when "binop"
      "(#{node.op} #{to_sexpr node.left} #{to_sexpr node.right})"

class TreeDumper
  new: (@indent_with = "  ") =>
    @lines = {}

  line: (depth, text) =>
    insert @lines, @indent_with\rep(depth) .. text

  visit: (node, depth = 0) =>
    switch node.type
      when "num", "var"
        @line depth, "#{node.type} #{node.value or node.name}"
      when "neg"
        @line depth, "neg"
        @visit node.operand, depth + 1
      when "binop"
        @line depth, "binop #{node.op}"
        @visit node.left, depth + 1
        @visit node.right, depth + 1
      when "call"
        @line depth, "call #{node.name}/#{#node.args}"
        @visit arg, depth + 1 for arg in *node.args
    @

  result: => concat @lines, "\n"

-- demo: a - (b + 2) * c ^ 2 ^ 0.5, plus a function call
tree = bin "-", var("a"), bin("*", bin("+", var("b"), num(2)), bin("^", var("c"), bin("^", num(2), num(0.5))))
print to_infix tree
print to_sexpr tree

left_heavy = bin "^", bin("^", var("x"), num(2)), num(3)
print to_infix left_heavy
print to_infix bin("-", num(10), bin("-", num(4), neg(var("y"))))

fn = call "hypot", bin("*", var("w"), num(2)), var("h")
print TreeDumper("| ")\visit(fn)\result!

{ :to_infix, :to_sexpr, :TreeDumper, :num, :var, :bin, :call, :neg }
