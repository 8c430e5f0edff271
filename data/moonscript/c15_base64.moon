-- Base64 encoding and decoding (RFC 4648) using only arithmetic, no bit library
import floor from math
import char, byte from string
import insert, concat from table

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

ENCODE = {}
DECODE = {}
for i = 1, #ALPHABET
  c = ALPHABET\sub i, i
  ENCODE[i - 1] = c
  DECODE[c] = i - 1

-- every 3 input bytes become 4 output characters of 6 bits each
encode = (data, url_safe = false) ->
  out = {}
  for i = 1, #data, 3
    a, b, c = byte data, i, i + 2
    n = a * 65536 + (b or 0) * 256 + (c or 0)
    insert out, ENCODE[floor(n / 262144) % 64]
    insert out, ENCODE[floor(n / 4096) % 64]
    third = if b then ENCODE[floor(n / 64) % 64] else "="
    fourth = if c then ENCODE[n % 64] else "="
    insert out, third .. fourth
  result = concat out
  if url_safe
    result = result\gsub("%+", "-")\gsub("/", "_")\gsub("=", "")
  result

decode = (text) ->
  text = text\gsub("%-", "+")\gsub("_", "/")\gsub("%s", "")
  text ..= "=" for _ = 1, (4 - #text % 4) % 4
  out = {}
  for i = 1, #text, 4
    chunk = text\sub i, i + 3
    n, pad = 0, 0
    for j = 1, 4
      c = chunk\sub j, j
      if c == "="
        pad += 1
        n = n * 64
      else
        v = DECODE[c]
        return nil, "invalid character '#{c}' at #{i + j - 1}" unless v
        n = n * 64 + v
    insert out, char(floor(n / 65536) % 256)
    insert out, char(floor(n / 256) % 256) if pad < 2
    insert out, char(n % 256) if pad < 1
  concat out


for sample in *{"", "f", "fo", "foo", "foob", "fooba", "foobar"}
  encoded = encode sample
  assert decode(encoded) == sample, "round trip failed for #{sample}"
  print "'#{sample}' -> #{encoded}"

print encode "Many hands make light work."

token = encode "user:42?admin=true", true
print "url-safe: #{token}"
print "decoded: #{decode token}"
print select 2, decode "ab$d"

{ :encode, :decode }
