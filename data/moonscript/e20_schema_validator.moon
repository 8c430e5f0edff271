-- Declarative schema validation that reports every problem with a path,
-- e.g. "user.tags[2]: expected string, got number".
import insert, concat, sort from table

class Schema
  new: (@check_fn, @label) =>
    @is_optional = false

  clone: =>
    s = Schema @check_fn, @label
    s.is_optional = @is_optional
    s

  optional: =>
    s = @clone!
    s.is_optional = true
    s

  validate: (value, path = "value", errors = {}) =>
    if value == nil
      insert errors, "#{path}: is required" unless @is_optional
    else
      @check_fn value, path, errors
    errors

  -- add a constraint that only runs when the base checks passed
  where: (pred, message) =>
    base = @check_fn
    s = @clone!
    s.check_fn = (v, path, errors) ->
      before = #errors
      base v, path, errors
      if #errors == before and not pred v
        insert errors, "#{path}: #{message}"
    s

primitive = (name) ->
  check = (v, path, errors) ->
    actual = type v
    insert errors, "#{path}: expected #{name}, got #{actual}" unless actual == name
  -> Schema check, name

S = {
  string: primitive "string"
  number: primitive "number"
  boolean: primitive "boolean"
}

S.enum = (...) ->
  allowed = {...}
  check = (v, path, errors) ->
    for a in *allowed
      return if a == v
    insert errors, "#{path}: must be one of #{concat allowed, ', '}"
  Schema check, "enum"

S.array = (item) ->
  check = (v, path, errors) ->
    return insert errors, "#{path}: expected array" unless type(v) == "table"
    item\validate x, "#{path}[#{i}]", errors for i, x in ipairs v
  Schema check, "array"

S.shape = (fields) ->
  keys = [k for k in pairs fields]
  sort keys
  check = (v, path, errors) ->
    return insert errors, "#{path}: expected object" unless type(v) == "table"
    fields[k]\validate v[k], "#{path}.#{k}", errors for k in *keys
  Schema check, "shape"

-- demo
is_email = (s) -> s\match("^[^@%s]+@[^@%s]+%.%a+$") != nil
whole = (n) -> n >= 0 and n % 1 == 0

user_schema = S.shape {
  name: S.string!\where ((s) -> #s >= 2), "must have at least 2 characters"
  email: S.string!\where is_email, "is not an email address"
  age: S.number!\where(whole, "must be a whole number")\optional!
  role: S.enum "admin", "editor", "viewer"
  tags: S.array(S.string!)\optional!
}

check = (label, value) ->
  errors = user_schema\validate value, "user"
  if #errors == 0
    print "#{label}: ok"
  else
    print "#{label}: #{#errors} problem(s)"
    print "  - " .. e for e in *errors

check "valid", { name: "Ada", email: "ada@example.org", role: "admin", tags: { "math" } }
check "broken", { name: "A", email: "nope", age: 3.5, role: "owner", tags: { "ok", 7 } }
check "empty", {}

{ :Schema, :S }
