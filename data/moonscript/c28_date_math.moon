-- Calendar arithmetic without os.time: proleptic Gregorian dates are turned
-- into a day count (days since 1970-01-01) and back again.
import floor, min from math

is_leap = (y) -> (y % 4 == 0 and y % 100 != 0) or y % 400 == 0

DAYS_IN = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

days_in_month = (y, m) ->
  if m == 2 and is_leap(y) then 29 else DAYS_IN[m]

-- the year is shifted to start in March so the leap day comes last
days_from_civil = (y, m, d) ->
  y -= 1 if m <= 2
  era = floor y / 400
  yoe = y - era * 400
  mp = (m + 9) % 12   -- March = 0 ... February = 11
  doy = floor((153 * mp + 2) / 5) + d - 1
  doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  era * 146097 + doe - 719468

civil_from_days = (z) ->
  z += 719468
  era = floor z / 146097
  doe = z - era * 146097
  yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) - floor(doe / 146096)) / 365)
  doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
  mp = floor((5 * doy + 2) / 153)
  d = doy - floor((153 * mp + 2) / 5) + 1
  m = if mp < 10 then mp + 3 else mp - 9
  y = yoe + era * 400
  y += 1 if m <= 2
  y, m, d

WEEKDAYS = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"}   -- 1970-01-01 was a Thursday

class Date
  new: (y, m, d) =>
    assert m >= 1 and m <= 12, "bad month #{m}"
    assert d >= 1 and d <= days_in_month(y, m), "bad day #{d} for #{y}-#{m}"
    @year, @month, @day = y, m, d

  @parse: (s) =>
    y, m, d = s\match "^(%d%d%d%d)-(%d%d)-(%d%d)$"
    return nil, "expected YYYY-MM-DD, got #{s}" unless y
    Date tonumber(y), tonumber(m), tonumber(d)

  @from_days: (n) => Date civil_from_days n

  to_days: => days_from_civil @year, @month, @day

  weekday: => WEEKDAYS[@to_days! % 7 + 1]

  add_days: (n) => Date\from_days @to_days! + n

  -- month arithmetic clamps the day, so Jan 31 + 1 month = Feb 28 or 29
  add_months: (n) =>
    total = @year * 12 + (@month - 1) + n
    y, m = floor(total / 12), total % 12 + 1
    Date y, m, min(@day, days_in_month(y, m))

  __sub: (a, b) -> a\to_days! - b\to_days!
  __eq: (a, b) -> a\to_days! == b\to_days!
  __lt: (a, b) -> a\to_days! < b\to_days!
  __tostring: => string.format "%04d-%02d-%02d", @year, @month, @day


launch = Date\parse "2024-01-31"
print "launch: #{launch} (#{launch\weekday!})"
print "+1 month: #{launch\add_months 1}, +13 months: #{launch\add_months 13}"
print "+100 days: #{launch\add_days 100}, -31 days: #{launch\add_days -31}"

deadline = Date 2024, 12, 25
print "days until #{deadline}: #{deadline - launch} (a #{deadline\weekday!})"
print "launch before deadline? #{launch < deadline}"
print "leap years: " .. table.concat([y for y = 1896, 1912 when is_leap y], ", ")
print "epoch day of 2000-03-01: #{Date(2000, 3, 1)\to_days!}"

_, err = Date\parse "31/01/2024"
print err

{ :Date, :is_leap, :days_from_civil, :civil_from_days }
