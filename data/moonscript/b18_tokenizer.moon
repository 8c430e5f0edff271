-- Word tokenizer, n-grams and frequency counts for plain text
import lower, gmatch, rep from string
import insert, sort, concat from table

STOP_WORDS = {w, true for w in *{"a", "an", "the", "and", "or", "of", "to", "in", "is", "it"}}

tokenize = (text, opts = {}) ->
	tokens = {}
	for word in gmatch text, "[%w']+"
		word = lower word unless opts.keep_case
		continue if opts.skip_stop and STOP_WORDS[lower word]
		insert tokens, word
	tokens

frequencies = (tokens) ->
	counts = {}
	counts[t] = (counts[t] or 0) + 1 for t in *tokens
	counts

top_n = (counts, n = 10) ->
	list = [{word, count} for word, count in pairs counts]
	sort list, (a, b) ->
		if a[2] == b[2] then a[1] < b[1] else a[2] > b[2]
	limit = math.min n, #list
	[list[i] for i = 1, limit]

ngrams = (tokens, n = 2) ->
	return {} if #tokens < n
	for i = 1, #tokens - n + 1
		window = [tokens[j] for j = i, i + n - 1]
		concat window, " "

histogram = (counts, width = 30) ->
	rows = top_n counts, 5
	max = rows[1] and rows[1][2] or 1
	lines = for {word, count} in *rows
		bar = rep "#", math.floor count / max * width
		string.format "%-10s %s %d", word, bar, count
	concat lines, "\n"

-- summary line used by the CLI wrapper
summarize = (text) ->
	tokens = tokenize text, skip_stop: true
	counts = frequencies tokens
	unique = 0
	unique += 1 for _ in pairs counts
	out = "#{#tokens} tokens, #{unique} unique"
	out ..= ", top: #{top_n(counts, 1)[1][1]}" if unique > 0
	out

SAMPLE = [[
The quick brown fox jumps over the lazy dog.
The dog sleeps; the fox runs away, and the quick fox is gone.
]]

return { :tokenize, :frequencies, :top_n, :ngrams, :histogram, :summarize, :SAMPLE }
