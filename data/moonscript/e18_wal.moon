-- Write-ahead log for a tiny key-value state. Every change is appended
-- as a checksummed line before it is applied, so the state can be rebuilt
-- by replaying the log after a crash.
import insert, concat from table

checksum = (s) ->
  sum = 0
  for i = 1, #s
    sum = (sum * 31 + s\byte i) % 65521
  sum

escape = (s) -> (tostring(s)\gsub "[%%|\n]", (c) -> string.format("%%%02X", c\byte!))
unescape = (s) -> (s\gsub "%%(%x%x)", (h) -> string.char(tonumber h, 16))

encode = (seq, op, key, value = "") ->
  body = concat { seq, op, escape(key), escape(value) }, "|"
  "#{body}|#{checksum body}"

decode = (line) ->
  body, sum = line\match "^(.*)|(%d+)$"
  return nil, "malformed" unless body
  return nil, "checksum mismatch" unless tonumber(sum) == checksum body
  seq, op, key, value = body\match "^(%d+)|(%a+)|([^|]*)|([^|]*)$"
  return nil, "bad fields" unless seq
  { seq: tonumber(seq), :op, key: unescape(key), value: unescape(value) }

-- stands in for an append-only file
class MemoryFile
  new: => @lines = {}
  append: (line) => insert @lines, line
  reset: (lines = {}) => @lines = lines
  each_line: =>
    i = 0
    ->
      i += 1
      @lines[i]

class WAL
  new: (@file = MemoryFile!) =>
    @seq = 0
    @state = {}

  apply: (rec) =>
    switch rec.op
      when "set" then @state[rec.key] = rec.value
      when "del" then @state[rec.key] = nil
      else error "unknown op #{rec.op}"

  write: (op, key, value) =>
    @seq += 1
    @file\append encode(@seq, op, key, value)
    @apply { :op, :key, :value }
    @seq

  set: (key, value) => @write "set", key, value
  del: (key) => @write "del", key

  recover: =>
    @state, @seq = {}, 0
    for line in @file\each_line!
      rec, err = decode line
      -- a torn write can only be at the tail, so stop replaying there
      return @seq, "stopped at record #{@seq + 1}: #{err}" unless rec
      @seq = rec.seq
      @apply rec
    @seq

  -- rewrite the log as one "set" per live key
  checkpoint: =>
    keys = [k for k in pairs @state]
    table.sort keys
    lines = [encode(i, "set", k, @state[k]) for i, k in ipairs keys]
    @file\reset lines
    @seq = #keys
    @seq

-- demo
log = WAL!
log\set "user:1", "ada"
log\set "user:2", "grace"
log\set "motd", "hello | world\nsecond line"
log\del "user:2"
log\set "user:1", "ada lovelace"

-- simulate a crash that left half a record at the end of the file
insert log.file.lines, "6|set|user:3|lin"

restored = WAL log.file
seq, warning = restored\recover!
print "recovered up to seq #{seq}", warning or ""
print k, v for k, v in pairs restored.state
print "compacted to #{restored\checkpoint!} records:"
print "  " .. line for line in *restored.file.lines

{ :WAL, :MemoryFile, :encode, :decode }
