-- Brainfuck interpreter. Brackets are matched before running so loops
-- jump in constant time, and the tape grows on demand in both directions.
import concat, insert, remove from table

compile = (src) ->
  code = [c for c in src\gmatch "[%+%-<>%.,%[%]]"]
  jumps, stack = {}, {}
  for i, c in ipairs code
    if c == "["
      insert stack, i
    elseif c == "]"
      open = remove stack
      error "unmatched ']' at instruction #{i}" unless open
      jumps[open], jumps[i] = i, open
  error "unmatched '[' at instruction #{stack[#stack]}" if #stack > 0
  code, jumps

class Machine
  new: (opts = {}) =>
    @tape = setmetatable {}, __index: -> 0
    @ptr = 0
    @wrap = (opts.cell_max or 255) + 1
    @input = opts.input or ""
    @input_pos = 1
    @output = {}
    @limit = opts.limit or 1000000

  read: =>
    c = @input\sub @input_pos, @input_pos
    @input_pos += 1
    -- end of input reads as zero, which conveniently ends ",[.,]" loops
    c == "" and 0 or c\byte!

  run: (src) =>
    code, jumps = compile src
    pc, steps = 1, 0
    while pc <= #code
      steps += 1
      error "step limit of #{@limit} reached" if steps > @limit
      switch code[pc]
        when "+" then @tape[@ptr] = (@tape[@ptr] + 1) % @wrap
        when "-" then @tape[@ptr] = (@tape[@ptr] - 1) % @wrap
        when ">" then @ptr += 1
        when "<" then @ptr -= 1
        when "." then insert @output, string.char(@tape[@ptr])
        when "," then @tape[@ptr] = @read!
        when "["
          pc = jumps[pc] if @tape[@ptr] == 0
        when "]"
          pc = jumps[pc] if @tape[@ptr] != 0
      pc += 1
    concat @output

  dump: (radius = 3) =>
    cells = for i = @ptr - radius, @ptr + radius
      mark = i == @ptr and "*" or ""
      "#{mark}#{@tape[i]}"
    concat cells, " "

-- Build a naive program that prints `text`, adjusting a single cell.
generate = (text) ->
  parts, current = {}, 0
  for ch in text\gmatch "."
    delta = ch\byte! - current
    if delta > 0
      insert parts, string.rep("+", delta)
    elseif delta < 0
      insert parts, string.rep("-", -delta)
    insert parts, "."
    current = ch\byte!
  concat parts

-- demo: 8 * 9 = 72 is "H", plus 33 more gives "i"
hi = "++++++++[>+++++++++<-]>.+++++++++++++++++++++++++++++++++."
m = Machine!
print m\run hi
print "tape:", m\dump!

echo = Machine input: "moon"
print echo\run ",[.,]"

-- add two digits: read "3" and "4", subtract 48 from one, add, print
adder = Machine input: "34"
print adder\run ",>,>++++++[<-------->-]<[<+>-]<."

program = generate "ok!"
print #program, Machine!\run program

ok, err = pcall -> Machine!\run "[[]"
print "error:", err

{ :Machine, :compile, :generate }
