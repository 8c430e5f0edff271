-- todo: a tiny command-line task list kept in ~/.todo.txt
-- usage: todo add buy milk +1 | todo list [--all] | todo done 3 | todo rm 3 | todo clear

DB = (os.getenv("HOME") or ".") .. "/.todo.txt"

class TodoList
  new: (@path) =>
    @items = {}

  load: =>
    f = io.open @path, "r"
    return @ unless f
    for line in f\lines!
      done, prio, text = line\match "^%[(.)%] (%d) (.*)$"
      if text
        table.insert @items, {done: done == "x", prio: tonumber(prio), :text}
    f\close!
    @

  save: =>
    f = assert io.open(@path, "w")
    for item in *@items
      mark = if item.done then "x" else " "
      f\write "[#{mark}] #{item.prio} #{item.text}\n"
    f\close!

  add: (text, prio = 2) =>
    table.insert @items, {done: false, :prio, :text}
    #@items

  get: (n) =>
    item = @items[tonumber n]
    error "no task number #{n}", 0 unless item
    item

  remove: (n) =>
    item = @get n
    table.remove @items, tonumber(n)
    item

  clear_done: =>
    before = #@items
    @items = [i for i in *@items when not i.done]
    before - #@items

  show: (show_done = false) =>
    order = [i for i = 1, #@items]
    -- urgent first, then in the order the tasks were added
    table.sort order, (a, b) ->
      pa, pb = @items[a].prio, @items[b].prio
      if pa != pb then pa < pb else a < b
    for n in *order
      item = @items[n]
      continue if item.done and not show_done
      flag = if item.done then "x" else "-"
      bangs = string.rep "!", 4 - item.prio
      io.write string.format("%3d %s %s%s\n", n, flag, bangs, item.text)


main = (args) ->
  todo = TodoList(DB)\load!
  cmd = args[1] or "list"
  switch cmd
    when "add"
      words, prio = {}, 2
      for a in *args[2,]
        if p = a\match "^%+([1-3])$"
          prio = tonumber p
        else
          table.insert words, a
      error "nothing to add", 0 if #words == 0
      n = todo\add table.concat(words, " "), prio
      print "added task #{n}"
    when "list", "ls"
      todo\show args[2] == "--all"
    when "done"
      item = todo\get args[2]
      item.done = true
      print "completed: #{item.text}"
    when "rm"
      print "removed: #{todo\remove(args[2]).text}"
    when "clear"
      print "cleared #{todo\clear_done!} finished tasks"
    else
      io.stderr\write "unknown command: #{cmd}\n"
      return 1
  todo\save!
  0

ok, result = pcall main, arg
unless ok
  io.stderr\write "todo: #{result}\n"
  os.exit 1
os.exit result
