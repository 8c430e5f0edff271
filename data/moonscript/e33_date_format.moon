-- Date formatting with moment-style tokens ("YYYY-MM-DD HH:mm") and a
-- strict parser for ISO-8601 dates, without relying on os.date.
import insert, concat from table

MONTHS = {
    "January", "February", "March", "April", "May", "June"
    "July", "August", "September", "October", "November", "December"
}
DAYS = { "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday" }
MONTH_LENGTHS = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

is_leap = (y) -> (y % 4 == 0 and y % 100 != 0) or y % 400 == 0

days_in_month = (y, m) ->
    return 29 if m == 2 and is_leap y
    MONTH_LENGTHS[m]

-- Sakamoto's method; 1 is Sunday, as in os.date
weekday = (y, m, d) ->
    t = { 0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4 }
    y -= 1 if m < 3
    (y + math.floor(y / 4) - math.floor(y / 100) + math.floor(y / 400) + t[m] + d) % 7 + 1

pad2 = (n) -> string.format "%02d", n
day_name = (d) -> DAYS[weekday d.year, d.month, d.day]

TOKENS = {
    YYYY: (d) -> tostring d.year
    YY: (d) -> pad2 d.year % 100
    MMMM: (d) -> MONTHS[d.month]
    MMM: (d) -> MONTHS[d.month]\sub 1, 3
    MM: (d) -> pad2 d.month
    DD: (d) -> pad2 d.day
    D: (d) -> tostring d.day
    dddd: (d) -> day_name d
    ddd: (d) -> day_name(d)\sub 1, 3
    HH: (d) -> pad2 d.hour or 0
    hh: (d) -> pad2(((d.hour or 0) - 1) % 12 + 1)
    mm: (d) -> pad2 d.min or 0
    ss: (d) -> pad2 d.sec or 0
    A: (d) -> (d.hour or 0) < 12 and "AM" or "PM"
}

-- longest first, so "MMMM" is not read as "MM" twice
ORDER = { "YYYY", "MMMM", "dddd", "MMM", "ddd", "YY", "MM", "DD", "HH", "hh", "mm", "ss", "D", "A" }

format = (date, fmt = "YYYY-MM-DD HH:mm:ss") ->
    out, i = {}, 1
    while i <= #fmt
        if fmt\sub(i, i) == "["
            -- text in brackets is copied literally
            close = fmt\find("]", i, true) or #fmt + 1
            insert out, fmt\sub(i + 1, close - 1)
            i = close + 1
        else
            token = nil
            for tok in *ORDER
                if fmt\sub(i, i + #tok - 1) == tok
                    token = tok
                    break
            insert out, token and TOKENS[token](date) or fmt\sub(i, i)
            i += token and #token or 1
    concat out

parse_iso = (s) ->
    y, m, d, rest = s\match "^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$"
    return nil, "not a date: #{s}" unless y
    date = { year: tonumber(y), month: tonumber(m), day: tonumber(d) }
    if rest != ""
        hh, mi, ss = rest\match "^[T ](%d%d):(%d%d):?(%d*)$"
        return nil, "bad time: #{rest}" unless hh
        date.hour, date.min, date.sec = tonumber(hh), tonumber(mi), tonumber(ss) or 0
    if date.month < 1 or date.month > 12 or date.day < 1 or date.day > days_in_month(date.year, date.month)
        return nil, "out of range: #{s}"
    date

-- demo
d = assert parse_iso "2024-02-29T13:05:09"
print format d
print format d, "dddd, MMMM D YYYY [at] hh:mm A"
print format d, "ddd DD MMM YY"
print parse_iso "2023-02-29"

{ :format, :parse_iso, :weekday, :days_in_month }
