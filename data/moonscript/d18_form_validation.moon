-- Form validation helpers: declarative rules, input filters and readable errors

trim = (s) -> s\match "^%s*(.-)%s*$"

filters = {
  trim: trim
  lower: (s) -> s\lower!
  digits: (s) -> (s\gsub("%D", ""))
  integer: (s) -> math.floor tonumber(s) or 0
}

checks = {
  required: (v) -> v != nil and v != ""
  min: (v, n) -> v == nil or #v >= n
  max: (v, n) -> v == nil or #v <= n
  email: (v) -> v == nil or v\match("^[%w._%%+-]+@[%w.-]+%.%a+$") != nil
  number: (v) -> v == nil or tonumber(v) != nil
  matches: (v, other, form) -> v == form[other]
  one_of: (v, list) ->
    return true if v == nil
    for item in *list
      return true if item == v
    false
}

messages = {
  required: "is required"
  min: "must be at least %s characters"
  max: "must be at most %s characters"
  email: "must be a valid email address"
  number: "must be a number"
  matches: "must match %s"
  one_of: "is not one of the allowed values"
}

class Form
  new: (@schema) =>

  humanize: (field) =>
    (field\gsub("_", " ")\gsub("^%l", string.upper))

  validate: (input) =>
    clean, errors = {}, {}
    for spec in *@schema
      name = spec[1]
      value = input[name]
      value = nil if value == ""
      if value != nil
        for f in *(spec.filters or {})
          value = filters[f](value)
      clean[name] = value

    -- checks run after filtering, so "matches" compares cleaned values
    for spec in *@schema
      name = spec[1]
      for rule, arg in pairs spec
        continue if rule == 1 or rule == "filters"
        check = checks[rule]
        error "unknown rule #{rule}" unless check
        unless check clean[name], arg, clean
          msg = messages[rule]\format tostring(arg)
          errors[name] or= {}
          table.insert errors[name], "#{@humanize name} #{msg}"

    return nil, errors if next errors
    clean


signup = Form {
  {"username", required: true, min: 3, max: 20, filters: {"trim", "lower"}}
  {"email", required: true, email: true, filters: {"trim", "lower"}}
  {"age", number: true, filters: {"integer"}}
  {"password", required: true, min: 8}
  {"password_confirm", required: true, matches: "password"}
  {"plan", one_of: {"free", "pro"}}
}

data, errors = signup\validate {
  username: "  Ada "
  email: "ada@example"
  age: "36"
  password: "hunter22"
  password_confirm: "hunter2"
  plan: "gold"
}

if data
  print "welcome #{data.username}"
else
  for field, list in pairs errors
    print "#{field}: #{msg}" for msg in *list

{ :Form, :checks, :filters }
