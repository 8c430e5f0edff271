-- Roman numerals: conversion both ways, strict validation, and a small
-- value type that supports addition and comparison
import insert, concat from table

NUMERALS = {
    {1000, "M"}, {900, "CM"}, {500, "D"}, {400, "CD"}
    {100, "C"}, {90, "XC"}, {50, "L"}, {40, "XL"}
    {10, "X"}, {9, "IX"}, {5, "V"}, {4, "IV"}, {1, "I"}
}

VALUES = {I: 1, V: 5, X: 10, L: 50, C: 100, D: 500, M: 1000}

to_roman = (n) ->
    assert n >= 1 and n <= 3999 and n == math.floor(n), "out of range: #{n}"
    out = {}
    for {value, symbol} in *NUMERALS
        while n >= value
            insert out, symbol
            n -= value
    concat out

-- lenient parse: a symbol followed by a larger one is subtracted
parse_roman = (s) ->
    s = s\upper!
    total = 0
    for i = 1, #s
        ch = s\sub i, i
        v = VALUES[ch]
        return nil, "bad symbol '#{ch}'" unless v
        nxt = VALUES[s\sub(i + 1, i + 1)]
        if nxt and nxt > v
            total -= v
        else
            total += v
    total

-- strict parse: only the canonical spelling is accepted ("IIII", "IC" are not)
from_roman = (s) ->
    value, err = parse_roman s
    return nil, err unless value
    return nil, "out of range" if value < 1 or value > 3999
    canonical = to_roman value
    return nil, "non-canonical, expected #{canonical}" if canonical != s\upper!
    value

class Roman
    new: (value) =>
        if type(value) == "string"
            parsed, err = from_roman value
            error err unless parsed
            value = parsed
        @value = value
        @text = to_roman value

    __tostring: => @text
    __add: (a, b) -> Roman a.value + b.value
    __sub: (a, b) -> Roman a.value - b.value
    __eq: (a, b) -> a.value == b.value
    __lt: (a, b) -> a.value < b.value


for year in *{1987, 2024, 3999, 444}
    print "#{year} -> #{to_roman year}"

for text in *{"MCMXCIV", "mmxxiv", "IIII", "IC", "XLII", "ABC"}
    value, err = from_roman text
    if value
        print "#{text} = #{value}"
    else
        print "#{text}: #{err}"

a, b = Roman("XIV"), Roman(28)
print "#{a} + #{b} = #{a + b}"
print "#{b} - #{a} = #{b - a}"
print "#{a} < #{b}? #{a < b}, XIV == 14? #{a == Roman(14)}"
ok, err = pcall Roman, "MMMM"
print "MMMM rejected: #{not ok}"

{ :to_roman, :from_roman, :Roman }
