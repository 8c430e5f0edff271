-- URL parsing and building, plus relative reference resolution with
-- dot-segment removal (a practical subset of RFC 3986)
import insert, remove, concat from table

DEFAULT_PORTS = {http: 80, https: 443, ws: 80}

-- "/a/b/../c/./d" -> "/a/c/d"
remove_dots = (path) ->
  absolute = path\sub(1, 1) == "/"
  trailing = path\match("/%.?%.?$") != nil
  out = {}
  for seg in path\gmatch "[^/]+"
    if seg == ".."
      remove out
    elseif seg != "."
      insert out, seg
  result = concat out, "/"
  result = "/" .. result if absolute
  result ..= "/" if trailing and #out > 0
  result

class URL
  new: (parts = {}) =>
    @[k] = parts[k] for k in *{"scheme", "user", "host", "port", "query", "fragment"}
    @path = parts.path or ""

  @parse: (s) =>
    parts = {}
    if i = s\find "#", 1, true
      parts.fragment = s\sub i + 1
      s = s\sub 1, i - 1
    if i = s\find "?", 1, true
      parts.query = s\sub i + 1
      s = s\sub 1, i - 1
    scheme, rest = s\match "^(%a[%w+.-]*):(.*)$"
    if scheme
      parts.scheme = scheme\lower!
      s = rest
    authority, path = s\match "^//([^/]*)(.*)$"
    if authority
      user, hostport = authority\match "^(.*)@(.*)$"
      parts.user = user
      hostport or= authority
      host, port = hostport\match "^(.-):(%d+)$"
      parts.host = (host or hostport)\lower!
      parts.port = tonumber port
      s = path
    parts.path = s
    URL parts

  origin: =>
    port = if @port and @port != DEFAULT_PORTS[@scheme] then ":#{@port}" else ""
    "#{@scheme}://#{@host}#{port}"

  -- resolve a relative reference using this URL as the base
  resolve: (ref) =>
    r = URL\parse ref
    return r if r.scheme
    out = URL scheme: @scheme, user: @user, host: @host, port: @port
    if r.host
      out.host, out.port, out.user, out.path = r.host, r.port, r.user, remove_dots r.path
    elseif r.path == ""
      out.path = @path
      out.query = r.query or @query
    elseif r.path\sub(1, 1) == "/"
      out.path = remove_dots r.path
    else
      base_dir = @path\match("^(.*/)") or "/"
      out.path = remove_dots base_dir .. r.path
    out.query or= r.query
    out.fragment = r.fragment
    out

  __tostring: =>
    out = {}
    insert out, @scheme .. ":" if @scheme
    if @host
      insert out, "//"
      insert out, @user .. "@" if @user
      insert out, @host
      insert out, ":" .. @port if @port
    insert out, @path
    insert out, "?" .. @query if @query
    insert out, "#" .. @fragment if @fragment
    concat out


u = URL\parse "HTTPS://alice@Example.com:8443/docs/guide/intro.html?lang=en#setup"
print "scheme=#{u.scheme} user=#{u.user} host=#{u.host} port=#{u.port}"
print "path=#{u.path} query=#{u.query} fragment=#{u.fragment}"
print "origin: #{u\origin!}, round trip: #{u}"

refs = {"../api/index.html", "/about", "?lang=fr", "ch2.html#top", "//cdn.example.com/x.js", "mailto:a@b.org"}
for ref in *refs
  print "  #{ref} -> #{u\resolve ref}"

{ :URL, :remove_dots }
