-- Terminal progress bar: renders "[#####-----]  50% 5/10 2.0/s eta 3s".
-- Rendering is kept separate from output, which makes it easy to test.
import insert, concat from table

format_duration = (seconds) ->
  return "--" unless seconds and seconds == seconds and seconds < math.huge
  seconds = math.floor seconds + 0.5
  h = math.floor seconds / 3600
  m = math.floor (seconds % 3600) / 60
  s = seconds % 60
  if h > 0
    string.format "%dh%02dm", h, m
  elseif m > 0
    string.format "%dm%02ds", m, s
  else
    "#{s}s"

SPINNER = { "|", "/", "-", "\\" }

class ProgressBar
  new: (@total, opts = {}) =>
    @width = opts.width or 30
    @fill = opts.fill or "#"
    @empty = opts.empty or "-"
    @label = opts.label or ""
    @clock = opts.clock or os.clock
    @current = 0
    @started = @clock!
    @frame = 0

  tick: (n = 1) =>
    @current = math.min @total, @current + n
    @

  ratio: => @total > 0 and @current / @total or 1

  rate: =>
    elapsed = @clock! - @started
    elapsed > 0 and @current / elapsed or 0

  eta: =>
    r = @rate!
    return nil if r == 0
    (@total - @current) / r

  bar: =>
    filled = math.floor @ratio! * @width + 0.5
    @fill\rep(filled) .. @empty\rep(@width - filled)

  render: =>
    @frame += 1
    finished = @current >= @total
    parts = { finished and "*" or SPINNER[(@frame - 1) % #SPINNER + 1] }
    insert parts, @label unless @label == ""
    insert parts, "[#{@bar!}]"
    insert parts, string.format("%3d%%", math.floor(@ratio! * 100))
    insert parts, "#{@current}/#{@total}"
    insert parts, string.format("%.1f/s", @rate!)
    insert parts, finished and "done" or "eta #{format_duration @eta!}"
    concat parts, " "

  -- redraw in place on a real terminal
  draw: (out = io.stdout) =>
    out\write "\r", @render!
    out\write "\n" if @current >= @total
    out\flush!

class MultiBar
  new: => @bars = {}

  add: (bar) =>
    insert @bars, bar
    bar

  render: => concat [b\render! for b in *@bars], "\n"

  done: =>
    for b in *@bars
      return false if b.current < b.total
    true

-- demo with a fake clock, printing a frame every few steps
now = 0
fake = -> now
downloads = MultiBar!
a = downloads\add ProgressBar 120, label: "moon.tar.gz", clock: fake, width: 20
b = downloads\add ProgressBar 40, label: "docs.zip   ", clock: fake, width: 20, fill: "=", empty: " "

step = 0
while not downloads\done!
  now += 0.5
  step += 1
  a\tick 15
  b\tick 4 if step % 2 == 0
  if step % 3 == 0
    print "-- t=#{now}s"
    print downloads\render!

print "-- finished"
print downloads\render!
print format_duration(42), format_duration(754), format_duration(8000)

{ :ProgressBar, :MultiBar, :format_duration }
