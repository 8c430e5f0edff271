-- Tic-tac-toe with an unbeatable minimax player (alpha-beta pruned)

LINES = {
  {1, 2, 3}, {4, 5, 6}, {7, 8, 9}
  {1, 4, 7}, {2, 5, 8}, {3, 6, 9}
  {1, 5, 9}, {3, 5, 7}
}

class Board
  new: (cells) =>
    @cells = cells or [" " for i = 1, 9]

  copy: => Board [c for c in *@cells]

  free: => [i for i = 1, 9 when @cells[i] == " "]

  play: (i, mark) =>
    assert @cells[i] == " ", "square #{i} is taken"
    @cells[i] = mark
    @

  winner: =>
    for {a, b, c} in *LINES
      mark = @cells[a]
      return mark if mark != " " and mark == @cells[b] and mark == @cells[c]
    return "draw" if #@free! == 0
    nil

  show: =>
    for row = 0, 2
      print " " .. table.concat([@cells[row * 3 + i] for i = 1, 3], " | ")
      print "---+---+---" if row < 2

other = (mark) -> if mark == "X" then "O" else "X"

-- scores favour quick wins and slow losses
minimax = (board, mark, me, depth, alpha, beta) ->
  result = board\winner!
  if result
    return 0 if result == "draw"
    return if result == me then 10 - depth else depth - 10
  maximizing = mark == me
  best = if maximizing then -math.huge else math.huge
  for i in *board\free!
    board.cells[i] = mark
    score = minimax board, other(mark), me, depth + 1, alpha, beta
    board.cells[i] = " "
    if maximizing
      best = math.max best, score
      alpha = math.max alpha, best
    else
      best = math.min best, score
      beta = math.min beta, best
    break if beta <= alpha
  best

best_move = (board, mark) ->
  choice, best = nil, -math.huge
  for i in *board\free!
    trial = board\copy!\play i, mark
    score = minimax trial, other(mark), mark, 1, -math.huge, math.huge
    if score > best
      choice, best = i, score
  choice

ask_human = (board) ->
  while true
    io.write "your move (1-9): "
    n = tonumber io.read!
    return n if n and board.cells[n] == " "
    print "that square is not available"

play_game = (human = "X") ->
  board, turn = Board!, "X"
  while not board\winner!
    board\show!
    move = if turn == human then ask_human board else best_move board, turn
    print "#{turn} plays #{move}" unless turn == human
    board\play move, turn
    turn = other turn
  board\show!
  result = board\winner!
  print if result == "draw" then "It's a draw." else "#{result} wins!"

-- with no terminal attached, let two AIs fight it out: always a draw
if arg and arg[1] == "--selfplay"
  b, turn = Board!, "X"
  while not b\winner!
    b\play best_move(b, turn), turn
    turn = other turn
  b\show!
  print "result: #{b\winner!}"
else
  play_game!
