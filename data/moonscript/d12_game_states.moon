-- Game state stack for LOVE: menus, gameplay and a pause overlay

class GameState
  -- overlays let the state beneath keep drawing
  transparent: false
  enter: (...) =>
  leave: =>
  update: (dt) =>
  draw: =>
  keypressed: (key) =>

class StateStack
  new: => @stack = {}

  top: => @stack[#@stack]

  push: (state, ...) =>
    table.insert @stack, state
    state\enter ...

  pop: =>
    state = table.remove @stack
    state\leave! if state
    state

  switch_to: (state, ...) =>
    while #@stack > 0
      @pop!
    @push state, ...

  update: (dt) =>
    top = @top!
    top\update dt if top

  draw: =>
    -- start from the lowest state that is still visible
    first = #@stack
    while first > 1 and @stack[first].transparent
      first -= 1
    for i = first, #@stack
      @stack[i]\draw!

  keypressed: (key) =>
    top = @top!
    top\keypressed key if top

states = StateStack!
local main_menu, pause_menu
class Menu extends GameState
  new: (@title, @items) =>
    @selected = 1

  enter: => @selected = 1
  keypressed: (key) =>
    switch key
      when "up"
        @selected = (@selected - 2) % #@items + 1
      when "down"
        @selected = @selected % #@items + 1
      when "return", "space"
        @items[@selected].action!

  draw: =>
    love.graphics.printf @title, 0, 120, 800, "center"
    for i, item in ipairs @items
      prefix = if i == @selected then "> " else "  "
      love.graphics.printf prefix .. item.label, 0, 180 + i * 30, 800, "center"

class PauseMenu extends Menu
  transparent: true

  draw: =>
    love.graphics.setColor 0, 0, 0, 0.6
    love.graphics.rectangle "fill", 0, 0, 800, 600
    love.graphics.setColor 1, 1, 1
    super!

class Play extends GameState
  enter: (level = 1) =>
    @level = level
    @time = 0
    @x = 400

  update: (dt) =>
    @time += dt
    @x += 120 * dt if love.keyboard.isDown "right"
    @x -= 120 * dt if love.keyboard.isDown "left"

  draw: =>
    love.graphics.rectangle "fill", @x, 400, 24, 24
    love.graphics.print "Level #{@level}  time #{math.floor @time}", 10, 10

  keypressed: (key) =>
    states\push pause_menu if key == "escape"

main_menu = Menu "SPACE BLOB", {
  {label: "Start", action: -> states\switch_to Play!, 1}
  {label: "Quit", action: -> love.event.quit!}
}

pause_menu = PauseMenu "Paused", {
  {label: "Resume", action: -> states\pop!}
  {label: "Main menu", action: -> states\switch_to main_menu}
}

love.load = -> states\switch_to main_menu
love.update = (dt) -> states\update dt
love.draw = -> states\draw!
love.keypressed = (key) -> states\keypressed key
