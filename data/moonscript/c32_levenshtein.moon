-- Edit distance between strings: a memory-light Levenshtein, a full-table
-- version that recovers the edit script, and "did you mean?" suggestions
import min from math
import insert, concat, sort from table

distance = (a, b) ->
    return #b if #a == 0
    return #a if #b == 0
    -- only the previous row of the DP table is kept
    prev = {}
    prev[j] = j for j = 0, #b
    for i = 1, #a
        cur = {[0]: i}
        ca = a\byte i
        for j = 1, #b
            cost = if ca == b\byte(j) then 0 else 1
            cur[j] = min prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost
        prev = cur
    prev[#b]

edit_script = (a, b) ->
    n, m = #a, #b
    d = {}
    for i = 0, n
        d[i] = {[0]: i}
    d[0][j] = j for j = 1, m
    for i = 1, n
        for j = 1, m
            cost = if a\sub(i, i) == b\sub(j, j) then 0 else 1
            d[i][j] = min d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost
    -- walk back from the bottom-right corner choosing any optimal move
    ops = {}
    i, j = n, m
    while i > 0 or j > 0
        if i > 0 and j > 0 and d[i][j] == d[i - 1][j - 1] and a\sub(i, i) == b\sub(j, j)
            insert ops, 1, "=#{a\sub i, i}"
            i, j = i - 1, j - 1
        elseif i > 0 and j > 0 and d[i][j] == d[i - 1][j - 1] + 1
            insert ops, 1, "~#{a\sub i, i}>#{b\sub j, j}"
            i, j = i - 1, j - 1
        elseif i > 0 and d[i][j] == d[i - 1][j] + 1
            insert ops, 1, "-#{a\sub i, i}"
            i -= 1
        else
            insert ops, 1, "+#{b\sub j, j}"
            j -= 1
    ops, d[n][m]

similarity = (a, b) ->
    longest = math.max #a, #b
    return 1 if longest == 0
    1 - distance(a, b) / longest

suggest = (word, dictionary, max_distance = 2) ->
    scored = {}
    for candidate in *dictionary
        dist = distance word\lower!, candidate\lower!
        insert scored, {:candidate, :dist} if dist <= max_distance
    sort scored, (x, y) ->
        return x.dist < y.dist if x.dist != y.dist
        x.candidate < y.candidate
    [s.candidate for s in *scored]


samples = {{"kitten", "sitting"}, {"flaw", "lawn"}, {"moon", "moon"}, {"", "abc"}}
for {a, b} in *samples
    print string.format "%-8s %-8s distance %d  similarity %.2f", a, b, distance(a, b), similarity(a, b)

ops, cost = edit_script "sunday", "saturday"
print "sunday -> saturday (#{cost}): #{concat ops, ' '}"

commands = {"install", "uninstall", "list", "search", "update", "upgrade", "info"}
for typo in *{"instal", "updte", "serch", "xyz"}
    hits = suggest typo, commands
    msg = if #hits > 0 then "did you mean #{concat hits, ' or '}?" else "no suggestions"
    print "#{typo}: #{msg}"

{ :distance, :edit_script, :similarity, :suggest }
