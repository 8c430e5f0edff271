-- Spatial hash for broad-phase collision detection
import floor, abs from math

aabb_overlap = (a, b) ->
	a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h

class SpatialHash
	new: (@cell_size = 64) =>
		@cells = {}
		@where = {}

	cell_key: (cx, cy) => "#{cx}:#{cy}"

	cells_for: (box) =>
		s = @cell_size
		x1, y1 = floor(box.x / s), floor(box.y / s)
		x2, y2 = floor((box.x + box.w) / s), floor((box.y + box.h) / s)
		keys = {}
		for cy = y1, y2
			for cx = x1, x2
				keys[#keys + 1] = @cell_key cx, cy
		keys

	insert: (obj) =>
		keys = @cells_for obj
		for k in *keys
			bucket = @cells[k]
			unless bucket
				bucket = {}
				@cells[k] = bucket
			bucket[obj] = true
		@where[obj] = keys

	remove: (obj) =>
		keys = @where[obj]
		return unless keys
		for k in *keys
			bucket = @cells[k]
			bucket[obj] = nil if bucket
		@where[obj] = nil

	move: (obj, x, y) =>
		@remove obj
		obj.x, obj.y = x, y
		@insert obj

	query: (box) =>
		seen = {}
		for k in *@cells_for box
			for other in pairs @cells[k] or {}
				seen[other] = true if other != box and aabb_overlap box, other
		[o for o in pairs seen]

-- minimum translation vector pushing `a` out of `b`
resolve = (a, b) ->
	{x: ax, y: ay, w: aw, h: ah} = a
	{x: bx, y: by, w: bw, h: bh} = b
	dx = (ax + aw / 2) - (bx + bw / 2)
	dy = (ay + ah / 2) - (by + bh / 2)
	ox = (aw + bw) / 2 - abs dx
	oy = (ah + bh) / 2 - abs dy
	return 0, 0 if ox <= 0 or oy <= 0
	if ox < oy
		return (dx < 0 and -ox or ox), 0
	else
		return 0, (dy < 0 and -oy or oy)

return { :SpatialHash, :aabb_overlap, :resolve }
