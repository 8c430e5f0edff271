-- Undo/redo history for a text buffer, using the command pattern

class Command
  new: (@description = "command") =>

  execute: => error "execute not implemented for #{@@__name}"
  undo: => error "undo not implemented for #{@@__name}"


class InsertText extends Command
  new: (@doc, @pos, @text) =>
    super "insert '#{@text}' at #{@pos}"

  execute: =>
    @doc.text = @doc.text\sub(1, @pos - 1) .. @text .. @doc.text\sub(@pos)

  undo: =>
    @doc.text = @doc.text\sub(1, @pos - 1) .. @doc.text\sub(@pos + #@text)


class DeleteRange extends Command
  new: (@doc, @first, @last) =>
    super "delete #{@first}-#{@last}"

  execute: =>
    @removed = @doc.text\sub @first, @last
    @doc.text = @doc.text\sub(1, @first - 1) .. @doc.text\sub(@last + 1)

  undo: =>
    @doc.text = @doc.text\sub(1, @first - 1) .. @removed .. @doc.text\sub(@first)


class History
  new: (@limit = 100) =>
    @done = {}
    @undone = {}

  run: (cmd) =>
    cmd\execute!
    table.insert @done, cmd
    table.remove @done, 1 if #@done > @limit
    @undone = {}
    cmd

  undo: =>
    cmd = table.remove @done
    return false unless cmd
    cmd\undo!
    table.insert @undone, cmd
    true

  redo: =>
    cmd = table.remove @undone
    return false unless cmd
    cmd\execute!
    table.insert @done, cmd
    true

  labels: => [c.description for c in *@done]


doc = { text: "hello world" }
history = History!
history\run InsertText doc, 6, ","
history\run DeleteRange doc, 8, 12
history\run InsertText doc, 8, "moon"
print doc.text

history\undo! for _ = 1, 2
print "after undo: #{doc.text}"
history\redo!
print "after redo: #{doc.text}"
print "#{#history.done} commands: #{table.concat history\labels!, '; '}"

return { :Command, :InsertText, :DeleteRange, :History }
