-- POSIX-style path helpers: join, normalize, dirname, basename, relative.
-- Pure string manipulation; nothing here touches the file system.
import insert, remove, concat from table

path = { sep: "/" }

path.is_absolute = (p) -> p\sub(1, 1) == "/"

path.split = (p) -> [seg for seg in p\gmatch "[^/]+"]

path.normalize = (p) ->
  return "." if p == ""
  absolute = path.is_absolute p
  out = {}
  for seg in *path.split p
    if seg == ".."
      if #out > 0 and out[#out] != ".."
        remove out
      elseif not absolute
        -- relative paths may climb above their starting point
        insert out, ".."
    elseif seg != "."
      insert out, seg
  result = concat out, "/"
  if absolute
    "/" .. result
  elseif result == ""
    "."
  else
    result

path.join = (...) ->
  parts = {}
  for p in *{...}
    continue if p == ""
    if path.is_absolute p
      parts = { p }
    else
      insert parts, p
  path.normalize concat(parts, "/")

path.dirname = (p) ->
  p = path.normalize p
  dir = p\match "^(.*)/[^/]*$"
  return "." unless dir
  dir == "" and "/" or dir

path.basename = (p, ext) ->
  base = p\match("([^/]*)/*$") or ""
  if ext and base != ext and base\sub(-#ext) == ext
    base = base\sub 1, -#ext - 1
  base

path.extname = (p) ->
  path.basename(p)\match("^.+(%.[^%.]+)$") or ""

path.with_ext = (p, ext) ->
  current = path.extname p
  stem = current != "" and p\sub(1, -#current - 1) or p
  stem .. ext

path.relative = (source, target) ->
  a = path.split path.normalize(source)
  b = path.split path.normalize(target)
  i = 1
  while a[i] and a[i] == b[i]
    i += 1
  parts = [".." for _ = i, #a]
  insert parts, b[j] for j = i, #b
  #parts == 0 and "." or concat(parts, "/")

path.common = (paths) ->
  lists = [path.split(path.normalize p) for p in *paths]
  common = {}
  for i, seg in ipairs lists[1]
    same = true
    for other in *lists
      same = false if other[i] != seg
    break unless same
    insert common, seg
  prefix = path.is_absolute(paths[1]) and "/" or ""
  prefix .. concat(common, "/")

-- demo
print path.join "/usr/local", "lib", "../share", "./moon"
print path.join "src", "/etc", "hosts"
print path.normalize "a/b/../../../c/./d/"
print path.dirname("/srv/app/main.moon"), path.basename("/srv/app/main.moon", ".moon")
print path.extname("archive.tar.gz"), path.extname(".bashrc"), path.with_ext("notes.txt", ".md")
print path.relative "/srv/app/src/models", "/srv/app/static/css"
print path.common { "/srv/app/src/a.moon", "/srv/app/src/lib/b.moon", "/srv/app/spec" }

return path
