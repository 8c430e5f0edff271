-- Glob matching for file paths: *, ?, [a-z], [!x], ** and {a,b} braces.
-- Globs are translated to Lua patterns; braces and "**/" are expanded
-- into several patterns first, because Lua patterns lack alternation.
import insert, concat from table

expand_braces = (glob) ->
    pre, body, post = glob\match "^(.-){([^{}]*)}(.*)$"
    return { glob } unless pre
    results = {}
    for alt in (body .. ",")\gmatch "([^,]*),"
        for expanded in *expand_braces(pre .. alt .. post)
            insert results, expanded
    results

-- "a/**/b" matches both "a/b" and "a/x/y/b"; "\1" marks "any dirs"
expand_globstar = (glob) ->
    s, e = glob\find "**/", 1, true
    return { glob } unless s
    head, tail = glob\sub(1, s - 1), glob\sub(e + 1)
    results = {}
    for rest in *expand_globstar tail
        insert results, head .. rest
        insert results, head .. "\1" .. rest
    results

MAGIC = "[%^%$%(%)%%%.%+%-]"

to_pattern = (glob) ->
    out = { "^" }
    i = 1
    while i <= #glob
        c = glob\sub i, i
        if c == "\1"
            insert out, ".*/"
        elseif c == "*"
            if glob\sub(i + 1, i + 1) == "*"
                insert out, ".*"
                i += 1
            else
                insert out, "[^/]*"
        elseif c == "?"
            insert out, "[^/]"
        elseif c == "["
            close = glob\find "]", i + 2, true
            error "unterminated class in #{glob}" unless close
            body = glob\sub i + 1, close - 1
            negate = body\sub(1, 1) == "!"
            body = body\sub 2 if negate
            body = body\gsub "%%", "%%%%"
            insert out, "[#{negate and '^' or ''}#{body}]"
            i = close
        elseif c\match MAGIC
            insert out, "%" .. c
        else
            insert out, c
        i += 1
    insert out, "$"
    concat out

class Glob
    new: (@source) =>
        @patterns = {}
        for braced in *expand_braces @source
            for variant in *expand_globstar braced
                insert @patterns, to_pattern(variant)

    matches: (path) =>
        for pat in *@patterns
            return true if path\match pat
        false

    filter: (paths) =>
        [p for p in *paths when @matches p]

-- demo
files = {
    "src/main.moon", "src/util/strings.moon", "src/util/strings.lua"
    "spec/main_spec.moon", "README.md", "docs/a.md", "build/out.lua"
}

for g in *{ "src/*.moon", "**/*.moon", "*.{md,txt}", "src/**/[!m]*.moon", "docs/?.md", "{src,build}/**/*.lua" }
    matched = Glob(g)\filter files
    print string.format("%-24s %s", g, concat(matched, " "))

print Glob("a+b (1).txt")\matches "a+b (1).txt"

{ :Glob, :to_pattern }
