-- Database migration runner. Migrations are applied in id order and
-- recorded as applied; a failed migration is undone from a snapshot so
-- the schema is never left half-changed.
import insert, sort from table

-- fake database that only knows about tables and their columns
class FakeDB
	new: =>
		@tables = {}

	create_table: (name, columns) =>
		error "table #{name} already exists", 0 if @tables[name]
		@tables[name] = { columns: [c for c in *columns] }

	drop_table: (name) =>
		error "no table #{name}", 0 unless @tables[name]
		@tables[name] = nil

	add_column: (name, column) =>
		t = @tables[name] or error "no table #{name}", 0
		insert t.columns, column

	snapshot: =>
		{name, { columns: [c for c in *t.columns] } for name, t in pairs @tables}

	restore: (snap) => @tables = snap

class Migrator
	new: (@db) =>
		@migrations = {}
		@applied = {}

	add: (m) =>
		error "migration needs id, name and up", 0 unless m.id and m.name and m.up
		insert @migrations, m
		sort @migrations, (a, b) -> a.id < b.id
		@

	pending: => [m for m in *@migrations when not @applied[m.id]]

	run_step: (m, direction) =>
		step = m[direction]
		return false, "#{m.name} has no #{direction} step" unless step
		snap = @db\snapshot!
		ok, err = pcall step, @db
		unless ok
			@db\restore snap
			return false, "#{direction} #{m.id}_#{m.name} failed: #{err}"
		@applied[m.id] = direction == "up" or nil
		true

	migrate: (target = math.huge) =>
		count = 0
		for m in *@pending!
			break if m.id > target
			ok, err = @run_step m, "up"
			return count, err unless ok
			count += 1
		count

	rollback: (steps = 1) =>
		done = [m for m in *@migrations when @applied[m.id]]
		count = 0
		for i = #done, math.max(1, #done - steps + 1), -1
			ok, err = @run_step done[i], "down"
			return count, err unless ok
			count += 1
		count

	status: =>
		for m in *@migrations
			mark = @applied[m.id] and "up  " or "down"
			print "  [#{mark}] #{m.id} #{m.name}"

-- demo
db = FakeDB!
runner = with Migrator db
	\add {
		id: 1, name: "create_users"
		up: (db) -> db\create_table "users", { "id", "email" }
		down: (db) -> db\drop_table "users"
	}
	\add {
		id: 2, name: "add_user_names"
		up: (db) -> db\add_column "users", "name"
		down: (db) -> table.remove db.tables.users.columns
	}
	\add {
		id: 3, name: "create_posts"
		up: (db) ->
			db\create_table "posts", { "id", "user_id" }
			db\add_column "comments", "post_id"   -- oops: no such table yet
		down: (db) -> db\drop_table "posts"
	}

count, err = runner\migrate!
print "applied #{count} migration(s)", err or ""
print "posts table exists? #{db.tables.posts != nil}"
runner\status!
print "rolled back #{runner\rollback 2}"
print "users table exists? #{db.tables.users != nil}"
runner\status!

{ :Migrator, :FakeDB }
