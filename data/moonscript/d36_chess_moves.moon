-- Chess board with pseudo-legal move generation and algebraic notation

FILES = "abcdefgh"

KNIGHT = {{1, 2}, {2, 1}, {2, -1}, {1, -2}, {-1, -2}, {-2, -1}, {-2, 1}, {-1, 2}}
KING = {{1, 0}, {1, 1}, {0, 1}, {-1, 1}, {-1, 0}, {-1, -1}, {0, -1}, {1, -1}}
SLIDES = {
	B: {{1, 1}, {1, -1}, {-1, 1}, {-1, -1}}
	R: {{1, 0}, {-1, 0}, {0, 1}, {0, -1}}
}
SLIDES.Q = [d for d in *SLIDES.B]
table.insert SLIDES.Q, d for d in *SLIDES.R

square_name = (f, r) -> FILES\sub(f, f) .. r

class Board
	new: =>
		@squares = {}
		@turn = "w"
		back = {"R", "N", "B", "Q", "K", "B", "N", "R"}
		for f = 1, 8
			@put f, 1, "w", back[f]
			@put f, 2, "w", "P"
			@put f, 7, "b", "P"
			@put f, 8, "b", back[f]

	put: (f, r, color, kind) => @squares[r * 8 + f] = {:color, :kind}
	at: (f, r) => @squares[r * 8 + f]
	on_board: (f, r) => f >= 1 and f <= 8 and r >= 1 and r <= 8

	moves_from: (f, r) =>
		piece = @at f, r
		return {} unless piece
		moves = {}
		add = (tf, tr) ->
			return false unless @on_board tf, tr
			target = @at tf, tr
			return false if target and target.color == piece.color
			table.insert moves, {src: {f, r}, dst: {tf, tr}, capture: target != nil, :piece}
			target == nil
		switch piece.kind
			when "N"
				add f + dx, r + dy for {dx, dy} in *KNIGHT
			when "K"
				add f + dx, r + dy for {dx, dy} in *KING
			when "P"
				dir = if piece.color == "w" then 1 else -1
				start = if piece.color == "w" then 2 else 7
				unless @at f, r + dir
					add f, r + dir
					add f, r + 2 * dir if r == start and not @at(f, r + 2 * dir)
				for df in *{-1, 1}
					target = @at f + df, r + dir
					add f + df, r + dir if target and target.color != piece.color
			else
				-- sliding pieces keep going until they hit something
				for {dx, dy} in *SLIDES[piece.kind]
					step = 1
					while add f + dx * step, r + dy * step
						step += 1
		moves

	all_moves: =>
		list = {}
		for r = 1, 8
			for f = 1, 8
				p = @at f, r
				if p and p.color == @turn
					table.insert list, m for m in *@moves_from f, r
		list

	notation: (m) =>
		prefix = if m.piece.kind == "P" then "" else m.piece.kind
		prefix = FILES\sub(m.src[1], m.src[1]) if m.piece.kind == "P" and m.capture
		sep = if m.capture then "x" else ""
		prefix .. sep .. square_name(m.dst[1], m.dst[2])

	play: (m) =>
		@squares[m.dst[2] * 8 + m.dst[1]] = m.piece
		@squares[m.src[2] * 8 + m.src[1]] = nil
		@turn = if @turn == "w" then "b" else "w"

	show: =>
		for r = 8, 1, -1
			row = for f = 1, 8
				p = @at f, r
				if p == nil then "." elseif p.color == "w" then p.kind else p.kind\lower!
			print r .. " " .. table.concat(row, " ")
		print "  a b c d e f g h"

board = Board!
opening = [board\notation m for m in *board\all_moves!]
print "#{#opening} opening moves: #{table.concat opening, ' '}"
board\play m for m in *board\all_moves! when board\notation(m) == "e4"
board\show!
