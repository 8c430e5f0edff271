-- Fluent builder for HTTP/1.1 requests. It only produces the raw request
-- text; sending it is left to whatever socket library is at hand.
import insert, concat, sort from table

url_encode = (s) ->
	(tostring(s)\gsub "[^%w%-_%.~]", (c) -> string.format("%%%02X", c\byte!))

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

base64 = (data) ->
	out = {}
	for i = 1, #data, 3
		a, b, c = data\byte i, i + 2
		n = a * 65536 + (b or 0) * 256 + (c or 0)
		chars = for shift in *{ 18, 12, 6, 0 }
			idx = math.floor(n / 2 ^ shift) % 64
			B64\sub idx + 1, idx + 1
		chars[3] = "=" unless b
		chars[4] = "=" unless c
		insert out, concat(chars)
	concat out

class Request
	new: (@method = "GET", url = "/") =>
		@host, @path = url\match "^https?://([^/]+)(.*)$"
		@path = url unless @host
		@path = "/" if @path == ""
		@headers = {}
		@query = {}

	header: (name, value) =>
		@headers[name] = value
		@

	param: (key, value) =>
		insert @query, { key, value }
		@

	auth: (user, pass) =>
		@header "Authorization", "Basic " .. base64("#{user}:#{pass}")

	form: (fields) =>
		keys = [k for k in pairs fields]
		sort keys
		@body = concat ["#{url_encode k}=#{url_encode fields[k]}" for k in *keys], "&"
		@header "Content-Type", "application/x-www-form-urlencoded"

	json: (raw) =>
		@body = raw
		@header "Content-Type", "application/json"

	target: =>
		return @path if #@query == 0
		encoded = ["#{url_encode kv[1]}=#{url_encode kv[2]}" for kv in *@query]
		sep = @path\find("?", 1, true) and "&" or "?"
		@path .. sep .. concat(encoded, "&")

	build: =>
		lines = { "#{@method} #{@target!} HTTP/1.1" }
		insert lines, "Host: #{@host}" if @host
		@headers["Content-Length"] = tostring(#@body) if @body
		names = [name for name in pairs @headers]
		sort names
		insert lines, "#{name}: #{@headers[name]}" for name in *names
		concat(lines, "\r\n") .. "\r\n\r\n" .. (@body or "")

http = {}
for verb in *{ "GET", "POST", "PUT", "DELETE" }
	http[verb\lower!] = (url) -> Request verb, url

-- demo: print with visible line endings
show = (text) -> print (text\gsub "\r\n", "\\r\\n\n")

req = with http.post "https://api.example.com/v1/notes?lang=en"
	\param "draft", "yes"
	\param "tag", "moon & lua"
	\auth "moon", "s3cret"
	\form title: "Hello", body: "first note"
show req\build!

show http.get("http://localhost:8080")\header("Accept", "text/plain")\build!
show http.put("/items/7")\json('{"done":true}')\build!
print base64("Man"), base64("Ma"), base64("M")

{ :Request, :http, :url_encode, :base64 }
