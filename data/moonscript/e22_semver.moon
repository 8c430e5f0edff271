-- Semantic versions: parsing, precedence (with pre-release tags),
-- bumping and range checks like "^1.2.0", "~2.1" or ">=1.0 <2.0".
import concat, sort from table

-- releases sort after pre-releases; numbers before words
compare_pre = (a, b) ->
  return 0 if #a == 0 and #b == 0
  return 1 if #a == 0
  return -1 if #b == 0
  for i = 1, math.max #a, #b
    x, y = a[i], b[i]
    return -1 if x == nil
    return 1 if y == nil
    if x != y
      tx, ty = type(x), type(y)
      return (tx == "number" and -1 or 1) if tx != ty
      return x < y and -1 or 1
  0

class Version
  new: (@major, @minor = 0, @patch = 0, @pre = {}) =>

  @parse: (text) =>
    major, minor, patch, rest = text\match "^v?(%d+)%.?(%d*)%.?(%d*)(.*)$"
    return nil, "invalid version #{text}" unless major
    pre = {}
    if tag = rest\match "^%-([%w%.%-]+)"
      pre = [(tonumber(id) or id) for id in tag\gmatch "[^%.]+"]
    Version tonumber(major), tonumber(minor) or 0, tonumber(patch) or 0, pre

  compare: (other) =>
    for field in *{ "major", "minor", "patch" }
      if @[field] != other[field]
        return @[field] < other[field] and -1 or 1
    compare_pre @pre, other.pre

  __eq: (other) => @compare(other) == 0
  __lt: (other) => @compare(other) < 0
  __le: (other) => @compare(other) <= 0

  __tostring: =>
    s = "#{@major}.#{@minor}.#{@patch}"
    s ..= "-" .. concat([tostring p for p in *@pre], ".") if #@pre > 0
    s

  bump: (part) =>
    switch part
      when "major" then Version @major + 1
      when "minor" then Version @major, @minor + 1
      when "patch"
        -- a pre-release bump just drops the tag
        Version @major, @minor, @patch + (#@pre > 0 and 0 or 1)
      else error "unknown part #{part}"

v = (text) -> assert Version\parse text

satisfies = (version, range) ->
  version = v(version) if type(version) == "string"
  for clause in range\gmatch "%S+"
    op, rest = clause\match "^([%^~<>=]*)(.+)$"
    target = v rest
    ok = switch op
      when "^"
        upper = if target.major > 0 then Version(target.major + 1) else Version(0, target.minor + 1)
        version >= target and version < upper
      when "~" then version >= target and version < Version(target.major, target.minor + 1)
      when ">=" then version >= target
      when ">" then version > target
      when "<=" then version <= target
      when "<" then version < target
      when "", "=" then version == target
      else error "bad operator #{op}"
    return false unless ok
  true

-- demo
list = [v s for s in *{ "1.10.0", "1.2.0", "1.2.0-beta.2", "1.2.0-beta.11", "1.2.0-alpha", "0.9.1" }]
sort list, (a, b) -> a < b
print "sorted: " .. concat [tostring x for x in *list], " "

checks = {
  { "1.4.2", "^1.2.0" }
  { "2.0.0", "^1.2.0" }
  { "0.3.5", "^0.3.1" }
  { "2.1.9", "~2.1" }
  { "1.5.0", ">=1.0.0 <1.5.0" }
}
for c in *checks
  print "#{c[1]} in #{c[2]}? #{satisfies c[1], c[2]}"
print "bump:", v("1.2.3")\bump("minor"), v("2.0.0-rc.1")\bump("patch")

{ :Version, :satisfies }
