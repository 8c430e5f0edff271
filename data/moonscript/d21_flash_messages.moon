-- Flash messages for Lapis: queue notices in the session, show them exactly once

lapis = require "lapis"
import Widget from require "lapis.html"

LEVELS = {info: true, success: true, warning: true, error: true}

class Flash
  new: (@req) =>
    @session = @req.session
    -- what we read now was written by the previous request
    @incoming = @session.flash or {}
    @session.flash = nil
    @outgoing = {}

  add: (level, text) =>
    error "unknown flash level: #{level}" unless LEVELS[level]
    table.insert @outgoing, {:level, :text}
    @session.flash = @outgoing

  -- show on this very render, without waiting for a redirect
  now: (level, text) =>
    table.insert @incoming, {:level, :text}

  keep: =>
    table.insert @outgoing, m for m in *@incoming
    @session.flash = @outgoing

  messages: (level) =>
    return @incoming unless level
    [m for m in *@incoming when m.level == level]

  has_any: => #@incoming > 0

-- shortcuts: flash\info "...", flash\error "..." and so on
for level in pairs LEVELS
  Flash.__base[level] = (text) => @add level, text


class FlashMessages extends Widget
  content: =>
    return unless @flash\has_any!
    messages = @flash\messages!
    div class: "flash-list", ->
      for m in *messages
        div class: "flash flash-#{m.level}", role: "alert", ->
          text m.text
          button class: "close", type: "button", "x"


class App extends lapis.Application
  @before_filter =>
    @flash = Flash @

  [home: "/"]: =>
    @html ->
      widget FlashMessages flash: @flash
      h1 "Dashboard"

  [settings: "/settings"]: =>
    if @req.method == "POST"
      email = @params.email or ""
      if email\match "^[^@%s]+@[^@%s]+$"
        @flash\success "Settings saved"
        return redirect_to: @url_for "home"
      @flash\now "error", "Please enter a valid email address"
    render: true

  [delete_account: "/account/delete"]: =>
    @flash\warning "Your account is scheduled for deletion"
    @flash\info "You can undo this within 7 days"
    redirect_to: @url_for "home"

  [wizard_step: "/wizard/:step"]: =>
    -- intermediate steps redirect again, so carry messages along
    @flash\keep! if @params.step != "done"
    render: "wizard"
