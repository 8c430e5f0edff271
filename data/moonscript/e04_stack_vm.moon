-- A tiny stack-based virtual machine with a two-pass assembler.
-- Labels end with ':' and may be used as jump targets; ';' starts a comment.
import insert from table

ARITY = {
	push: 1, pop: 0, dup: 0, over: 0, add: 0, sub: 0, mul: 0, div: 0, mod: 0
	eq: 0, lt: 0, jmp: 1, jz: 1, jnz: 1, load: 1, store: 1, print: 0, halt: 0
}

assemble = (source) ->
	program, labels, fixups = {}, {}, {}
	for raw in source\gmatch "[^\n]+"
		line = raw\gsub(";.*$", "")\match "^%s*(.-)%s*$"
		continue if line == ""
		if label = line\match "^([%w_]+):$"
			labels[label] = #program + 1
		else
			op, arg = line\match "^(%a+)%s*(%S*)$"
			error "bad line: #{raw}" unless op and ARITY[op]
			instr = { :op }
			if ARITY[op] == 1
				instr.arg = tonumber(arg) or arg
				insert fixups, instr if op\match "^j"
			insert program, instr
	-- second pass: resolve jump labels to instruction indexes
	for instr in *fixups
		continue if type(instr.arg) == "number"
		error "unknown label #{instr.arg}" unless labels[instr.arg]
		instr.arg = labels[instr.arg]
	program

class VM
	new: (@program, @out = print) =>
		@stack = {}
		@vars = {}
		@pc = 1
		@steps = 0

	push: (v) => @stack[#@stack + 1] = v
	pop: =>
		n = #@stack
		error "stack underflow at #{@pc - 1}" if n == 0
		v = @stack[n]
		@stack[n] = nil
		v

	binary: (fn) =>
		b, a = @pop!, @pop!
		@push fn a, b

	step: =>
		instr = @program[@pc]
		return false unless instr
		@pc += 1
		@steps += 1
		switch instr.op
			when "push" then @push instr.arg
			when "pop" then @pop!
			when "dup" then @push @stack[#@stack]
			when "over" then @push @stack[#@stack - 1]
			when "add" then @binary (a, b) -> a + b
			when "sub" then @binary (a, b) -> a - b
			when "mul" then @binary (a, b) -> a * b
			when "div" then @binary (a, b) -> math.floor a / b
			when "mod" then @binary (a, b) -> a % b
			when "eq" then @binary (a, b) -> a == b and 1 or 0
			when "lt" then @binary (a, b) -> a < b and 1 or 0
			when "jmp" then @pc = instr.arg
			when "jz" then @pc = instr.arg if @pop! == 0
			when "jnz" then @pc = instr.arg if @pop! != 0
			when "load" then @push @vars[instr.arg] or 0
			when "store" then @vars[instr.arg] = @pop!
			when "print" then @out @pop!
			when "halt" then return false
		true

	run: (max_steps = 10000) =>
		while @step!
			error "step limit exceeded" if @steps > max_steps
		@

-- demo: print the running products of 6!
source = [[
	push 6
	store n
	push 1
	store acc
loop:
	load n
	jz done      ; stop when n reaches zero
	load acc
	load n
	mul
	dup
	print
	store acc
	load n
	push 1
	sub
	store n
	jmp loop
done:
	halt
]]

vm = VM assemble source
vm\run!
print "finished in #{vm.steps} steps, acc = #{vm.vars.acc}"
{ :VM, :assemble }
