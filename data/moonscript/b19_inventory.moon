-- Items, stacks and a weight-limited inventory for an RPG
class Item
	@registry = {}

	@define: (id, props) =>
		item = self id, props
		Item.registry[id] = item
		item

	@lookup: (id) => Item.registry[id] or error "no such item: #{id}"

	new: (@id, props = {}) =>
		@name = props.name or @id
		@weight = props.weight or 1
		@max_stack = props.max_stack or 1
		@kind = props.kind or "misc"

	__tostring: => "#{@@__name}<#{@id}>"

class Weapon extends Item
	new: (id, props = {}) =>
		super id, props
		@damage = props.damage or 1
		@kind = "weapon"

	describe: => "#{@name} (#{@damage} dmg)"

class Inventory
	new: (@capacity = 20, @max_weight = 50) =>
		@slots = {}

	weight: =>
		total = 0
		for {:item, :count} in *@slots
			total += item.weight * count
		total

	add: (item, count = 1) =>
		if @weight! + item.weight * count > @max_weight
			return false, "too heavy"
		for slot in *@slots
			if slot.item == item and slot.count < item.max_stack
				moved = math.min item.max_stack - slot.count, count
				slot.count += moved
				count -= moved
				return true if count == 0
		while count > 0
			return false, "no free slot" if #@slots >= @capacity
			moved = math.min item.max_stack, count
			table.insert @slots, {:item, count: moved}
			count -= moved
		true

	remove: (item, count = 1) =>
		for i = #@slots, 1, -1
			slot = @slots[i]
			if slot.item == item
				taken = math.min slot.count, count
				slot.count -= taken
				count -= taken
				table.remove @slots, i if slot.count == 0
				break if count == 0
		count == 0

	sort_by_kind: =>
		rank = (kind) ->
			switch kind
				when "weapon" then 1
				when "armor" then 2
				when "potion" then 3
				else 4
		table.sort @slots, (a, b) -> rank(a.item.kind) < rank(b.item.kind)

	summary: =>
		lines = ["#{s.item.name} x#{s.count}" for s in *@slots]
		table.concat lines, ", "

Item\define "potion", name: "Healing Potion", max_stack: 10, kind: "potion", weight: 0.5
Weapon\define "sword", name: "Iron Sword", damage: 7, weight: 6

return { :Item, :Weapon, :Inventory }
