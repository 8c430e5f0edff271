-- Feature flags with targeting rules and percentage rollouts.
-- Rollouts hash the flag name plus user id, so a user keeps the same
-- bucket between requests without anything being stored.

-- djb2 string hash, kept within 32 bits
hash = (s) ->
  h = 5381
  for i = 1, #s
    h = (h * 33 + s\byte i) % 4294967296
  h

bucket = (flag, user_id) -> hash("#{flag}:#{user_id}") % 100

class Flag
  new: (@name, opts = {}) =>
    @enabled = opts.enabled != false
    @rollout = opts.rollout or 100
    @allow, @deny = {}, {}
    @allow[tostring id] = true for id in *(opts.allow or {})
    @deny[tostring id] = true for id in *(opts.deny or {})
    @rules = opts.rules or {}

  evaluate: (user = {}) =>
    return false, "disabled" unless @enabled
    id = user.id and tostring user.id
    if id
      return false, "denied" if @deny[id]
      return true, "allowed" if @allow[id]
    for rule in *@rules
      value = user[rule.attr]
      hit = switch rule.op
        when "eq" then value == rule.value
        when "in" then value != nil and rule.value[value] == true
        when "gte" then value != nil and value >= rule.value
        else false
      return rule.result, "rule #{rule.attr} #{rule.op}" if hit
    return false, "anonymous" unless id
    bucket(@name, id) < @rollout, "rollout #{@rollout}%"

class FlagService
  new: =>
    @flags = {}
    @overrides = {}

  define: (name, opts) =>
    @flags[name] = Flag name, opts
    @

  override: (name, value) =>
    @overrides[name] = value
    @

  is_enabled: (name, user) =>
    return @overrides[name], "override" if @overrides[name] != nil
    flag = @flags[name]
    return false, "unknown flag" unless flag
    flag\evaluate user

  snapshot: (user) =>
    {name, (@is_enabled(name, user)) for name in pairs @flags}

-- demo
flags = with FlagService!
  \define "new_checkout", rollout: 30
  \define "dark_mode", allow: { 7 }, deny: { 13 }, rollout: 0
  \define "legacy_export", enabled: false
  \define "beta_reports", {
    rollout: 0
    rules: {
      { attr: "plan", op: "in", value: { pro: true, team: true }, result: true }
      { attr: "age_days", op: "gte", value: 365, result: true }
    }
  }

users = [{ id: i, plan: (i % 3 == 0 and "pro" or "free"), age_days: i * 40 } for i = 1, 200]

on = 0
for u in *users
  on += 1 if flags\is_enabled "new_checkout", u
print "new_checkout enabled for #{on}/#{#users} users (target 30%)"

for id in *{ 7, 13, 3, 10 }
  for name in *{ "dark_mode", "beta_reports", "legacy_export" }
    value, reason = flags\is_enabled name, users[id]
    print "user #{id} #{name}: #{value} (#{reason})"

flags\override "legacy_export", true
print "legacy_export forced:", flags\is_enabled "legacy_export"
for name, value in pairs flags\snapshot users[7]
  print "  snapshot #{name} = #{value}"

{ :FlagService, :Flag, :bucket }
