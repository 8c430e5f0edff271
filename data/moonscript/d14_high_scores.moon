-- High score table for LOVE: ranking, name entry and a plain-text save file

FILE = "highscores.txt"

class HighScores
  new: (@limit = 10) =>
    @entries = {}

  qualifies: (score) =>
    #@entries < @limit or score > @entries[#@entries].score

  -- returns the rank the score landed on, or nil if it did not make it
  add: (name, score) =>
    return nil unless @qualifies score
    entry = {name: name\sub(1, 12), :score, date: os.date("%Y-%m-%d")}
    rank = #@entries + 1
    for i, e in ipairs @entries
      if score > e.score
        rank = i
        break
    table.insert @entries, rank, entry
    @entries[@limit + 1] = nil
    rank

  load: =>
    @entries = {}
    return @ unless love.filesystem.getInfo FILE
    for line in love.filesystem.lines FILE
      name, score, date = line\match "^(.-)\t(%d+)\t(.*)$"
      if name
        table.insert @entries, {:name, score: tonumber(score), :date}
    table.sort @entries, (a, b) -> a.score > b.score
    @

  save: =>
    lines = ["#{e.name}\t#{e.score}\t#{e.date}" for e in *@entries]
    love.filesystem.write FILE, table.concat(lines, "\n") .. "\n"


scores = nil
local final_score, typed, highlight

love.load = ->
  love.keyboard.setKeyRepeat true
  scores = HighScores!\load!
  final_score = tonumber(arg[2]) or 4200 -- normally handed over by the game
  typed = if scores\qualifies final_score then "" else nil

love.textinput = (t) ->
  return unless typed
  typed ..= t if #typed < 12 and t\match "^[%w_]$"

love.keypressed = (key) ->
  love.event.quit! if key == "escape"
  return unless typed
  switch key
    when "backspace"
      typed = typed\sub 1, -2
    when "return"
      name = if #typed > 0 then typed else "???"
      highlight = scores\add name, final_score
      scores\save!
      typed = nil

love.draw = ->
  g = love.graphics
  if typed
    g.print "New high score: #{final_score}!  Enter your name: #{typed}_", 40, 40
  else
    g.print "HIGH SCORES", 40, 40
  for i, e in ipairs scores.entries
    color = if i == highlight then {1, 0.8, 0.2} else {1, 1, 1}
    g.setColor color
    line = string.format "%2d. %-12s %8d  %s", i, e.name, e.score, e.date
    g.print line, 40, 80 + i * 22
  g.setColor 1, 1, 1
