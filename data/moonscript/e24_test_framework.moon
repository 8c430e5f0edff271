-- A unit-test mini framework in the spirit of busted: nested describe
-- blocks, before_each hooks, expect() matchers and a summary at the end.
import insert, concat from table

deep_equal = (a, b) ->
	return a == b unless type(a) == "table" and type(b) == "table"
	for k, v in pairs a
		return false unless deep_equal v, b[k]
	for k in pairs b
		return false if a[k] == nil
	true

show = (v) ->
	return tostring v unless type(v) == "table"
	"{#{concat ["#{k}=#{show x}" for k, x in pairs v], ', '}}"

class Expectation
	new: (@actual, @negated = false) =>

	check: (ok, message) =>
		ok = not ok if @negated
		error "expected #{@negated and 'not ' or ''}#{message}", 0 unless ok
		@

	never: => Expectation @actual, not @negated
	to_equal: (x) => @check deep_equal(@actual, x), "#{show @actual} to equal #{show x}"
	to_be: (x) => @check @actual == x, "#{show @actual} to be #{show x}"
	to_be_truthy: => @check @actual, "#{show @actual} to be truthy"

	to_throw: (pattern) =>
		ok, err = pcall @actual
		matched = not ok and (pattern == nil or tostring(err)\find(pattern, 1, true) != nil)
		@check matched, "function to throw '#{pattern or 'any error'}'"

class Suite
	new: (@name, @parent) =>
		@tests, @children, @hooks = {}, {}, {}

	full_name: =>
		return @name unless @parent and @parent.parent
		"#{@parent\full_name!} #{@name}"

	run_hooks: (ctx) =>
		@parent\run_hooks ctx if @parent
		hook ctx for hook in *@hooks

root = Suite "root"
current = root
results = { passed: 0, failed: 0, failures: {} }

describe = (name, body) ->
	suite = Suite name, current
	insert current.children, suite
	previous = current
	current = suite
	body!
	current = previous

it = (name, fn) -> insert current.tests, { :name, :fn }
before_each = (fn) -> insert current.hooks, fn
expect = (actual) -> Expectation actual

run_suite = (suite, depth = 0) ->
	pad = ("  ")\rep depth
	print pad .. suite.name unless suite == root
	for t in *suite.tests
		ctx = {}
		ok, err = pcall ->
			suite\run_hooks ctx
			t.fn ctx
		if ok
			results.passed += 1
			print "#{pad}  ok   #{t.name}"
		else
			results.failed += 1
			insert results.failures, "#{suite\full_name!} #{t.name}: #{err}"
			print "#{pad}  FAIL #{t.name}"
	run_suite child, depth + 1 for child in *suite.children

-- demo
describe "Stack", ->
	before_each (ctx) -> ctx.stack = { 1, 2 }

	it "pushes", (ctx) ->
		insert ctx.stack, 3
		expect(ctx.stack)\to_equal { 1, 2, 3 }

	it "pops", (ctx) -> expect(table.remove ctx.stack)\to_be 2

	describe "when empty", ->
		before_each (ctx) -> ctx.stack = {}
		it "has no length", (ctx) -> expect(#ctx.stack)\to_be 0
		it "fails on purpose", (ctx) -> expect(ctx.stack)\never!\to_equal {}

describe "errors", ->
	it "throws", -> expect(-> error "boom")\to_throw "boom"

run_suite root
print "\n#{results.passed} passed, #{results.failed} failed"
print "  " .. f for f in *results.failures

{ :describe, :it, :before_each, :expect, :run_suite }
