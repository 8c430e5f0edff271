-- Input mapping for LOVE: named actions bound to keys and gamepad buttons

DEFAULT_BINDINGS = {
  jump: {"space", "w", "pad:a"}
  attack: {"j", "pad:x"}
  left: {"a", "left", "pad:dpleft"}
  right: {"d", "right", "pad:dpright"}
  pause: {"escape", "pad:start"}
}

class Input
  new: (bindings = DEFAULT_BINDINGS) =>
    -- copy the lists so rebinding never mutates the defaults
    @bindings = {}
    for action, keys in pairs bindings
      @bindings[action] = [k for k in *keys]
    @down = {}
    @was_down = {}
    @joystick = nil

  attach_joystick: (joystick) =>
    @joystick = joystick

  source_down: (source) =>
    button = source\match "^pad:(.+)$"
    if button
      @joystick != nil and @joystick\isGamepadDown button
    else
      love.keyboard.isDown source

  update: =>
    -- remember last frame's state so we can detect edges
    for action, sources in pairs @bindings
      @was_down[action] = @down[action]
      @down[action] = false
      for source in *sources
        if @source_down source
          @down[action] = true
          break

  held: (action) => @down[action] == true
  pressed: (action) => @down[action] and not @was_down[action]
  released: (action) => @was_down[action] and not @down[action]

  axis: (negative, positive) =>
    value = 0
    value -= 1 if @held negative
    value += 1 if @held positive
    value

  rebind: (action, source, slot = 1) =>
    return false, "unknown action #{action}" unless @bindings[action]
    -- a key may only drive one action at a time
    for other, sources in pairs @bindings
      @bindings[other] = [s for s in *sources when s != source]
    table.insert @bindings[action], math.min(slot, #@bindings[action] + 1), source
    true

  serialize: =>
    lines = {}
    for action, sources in pairs @bindings
      joined = table.concat sources, ","
      table.insert lines, "#{action}=#{joined}"
    table.sort lines
    table.concat lines, "\n"

  @parse: (text) =>
    bindings = {}
    for action, list in text\gmatch "(%w+)=([^\n]*)"
      bindings[action] = [s for s in list\gmatch "[^,]+"]
    Input bindings


input = Input!
player = {x: 100, y: 300, vy: 0}

love.load = ->
  if love.filesystem.getInfo "controls.txt"
    input = Input\parse love.filesystem.read("controls.txt")

love.joystickadded = (j) -> input\attach_joystick j

love.update = (dt) ->
  input\update!
  player.x += input\axis("left", "right") * 200 * dt
  player.vy = -400 if input\pressed("jump") and player.y >= 300
  player.vy += 900 * dt
  player.y = math.min 300, player.y + player.vy * dt
  love.event.quit! if input\pressed "pause"

love.draw = ->
  love.graphics.rectangle "fill", player.x, player.y, 20, 20
  love.graphics.print input\serialize!, 10, 10
