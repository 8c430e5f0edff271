-- Hotel booking: room types, seasonal prices, availability search and cancellation

DAY = 86400

-- dates are "YYYY-MM-DD"; converted to whole days for easy arithmetic
to_day = (date) ->
  y, m, d = date\match "^(%d+)-(%d+)-(%d+)$"
  error "bad date #{date}" unless y
  math.floor os.time({year: tonumber(y), month: tonumber(m), day: tonumber(d), hour: 12}) / DAY

from_day = (day) -> os.date "%Y-%m-%d", day * DAY

SEASONS = {
  {months: {6, 7, 8}, factor: 1.4, name: "summer"}
  {months: {12}, factor: 1.25, name: "holidays"}
}

season_factor = (day) ->
  month = tonumber os.date("%m", day * DAY)
  for s in *SEASONS
    for m in *s.months
      return s.factor if m == month
  1

class Room
  new: (@number, @kind, @rate, @beds = 2) =>
    @bookings = {}

  free_between: (first, last) =>
    for b in *@bookings
      -- half-open ranges: checkout day is free for the next guest
      return false if first < b.last and b.first < last
    true

  price: (first, last) =>
    total = 0
    total += @rate * season_factor(d) for d = first, last - 1
    math.floor total + 0.5

class Hotel
  new: (@name) =>
    @rooms = {}
    @reservations = {}
    @next_ref = 1000

  add_room: (...) =>
    table.insert @rooms, Room(...)
    @

  search: (check_in, check_out, guests = 1, kind) =>
    first, last = to_day(check_in), to_day(check_out)
    return nil, "check-out must be after check-in" if last <= first
    matches = for room in *@rooms
      continue if kind and room.kind != kind
      continue unless room.beds >= guests and room\free_between first, last
      {:room, price: room\price(first, last), nights: last - first}
    table.sort matches, (a, b) -> a.price < b.price
    matches

  book: (guest, check_in, check_out, opts = {}) =>
    options = @search check_in, check_out, opts.guests, opts.kind
    return nil, "no rooms available" unless options and #options > 0
    pick = options[1]
    @next_ref += 1
    ref = "R#{@next_ref}"
    booking = {:ref, :guest, first: to_day(check_in), last: to_day(check_out), price: pick.price}
    table.insert pick.room.bookings, booking
    @reservations[ref] = {room: pick.room, :booking}
    ref, pick.room.number, pick.price

  cancel: (ref) =>
    entry = @reservations[ref]
    return false unless entry
    entry.room.bookings = [b for b in *entry.room.bookings when b.ref != ref]
    @reservations[ref] = nil
    true

hotel = with Hotel "Seaside"
  \add_room 101, "single", 80, 1
  \add_room 102, "double", 120
  \add_room 201, "suite", 260, 4

print hotel\book "Kim", "2024-07-01", "2024-07-04"
print hotel\book "Lee", "2024-07-02", "2024-07-05", guests: 2
ref = hotel\book "Ray", "2024-12-20", "2024-12-27", kind: "suite"
print "cancelled #{ref}: #{hotel\cancel ref}"
night = to_day "2024-07-02"
print "still free on #{from_day night}:"
for m in *hotel\search "2024-07-02", "2024-07-03"
  print "  room #{m.room.number} (#{m.room.kind}) at #{m.price}"
