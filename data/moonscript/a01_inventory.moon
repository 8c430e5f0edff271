-- Simple inventory system with stacking and weight limits

import insert, sort from table


class Item
	new: (@name, @weight = 1, @max_stack = 20) =>

	__tostring: => "Item(#{@name}, #{@weight}kg)"


class Inventory
	@instances: 0

	new: (@capacity = 50) =>
		@@instances += 1
		@id = @@instances
		@slots = {}

	total_weight: =>
		sum = 0
		for slot in *@slots
			sum += slot.item.weight * slot.count
		sum

	find_slot: (name) =>
		for i, slot in ipairs @slots
			return slot, i if slot.item.name == name and slot.count < slot.item.max_stack
		nil

	add: (item, count = 1) =>
		if @total_weight! + item.weight * count > @capacity
			return false, "too heavy"
		while count > 0
			slot = @find_slot item.name
			unless slot
				slot = { :item, count: 0 }
				insert @slots, slot
			moved = math.min item.max_stack - slot.count, count
			slot.count += moved
			count -= moved
		true

	remove: (name, count = 1) =>
		for i = #@slots, 1, -1
			slot = @slots[i]
			continue unless slot.item.name == name
			taken = math.min slot.count, count
			slot.count -= taken
			count -= taken
			table.remove @slots, i if slot.count == 0
			break if count == 0
		count == 0

	counts: =>
		totals = {}
		for slot in *@slots
			name = slot.item.name
			totals[name] = (totals[name] or 0) + slot.count
		totals

	summary: =>
		counts = @counts!
		names = [name for name in pairs counts]
		sort names
		lines = ["#{name} x#{counts[name]}" for name in *names]
		"Inventory ##{@id} (#{@total_weight!}/#{@capacity}): " .. table.concat lines, ", "


bag = Inventory 30
arrow = Item "arrow", 0.1, 50
bag\add arrow, 120
bag\add Item("potion", 0.5, 5), 7
ok, err = bag\add Item("anvil", 40)
print "could not add anvil: #{err}" unless ok
bag\remove "arrow", 30
print bag\summary!

{ :Item, :Inventory }
