-- Recipe scaling: change the servings, convert units and print friendly fractions

UNITS = {
    tsp: {kind: "volume", ml: 5}
    tbsp: {kind: "volume", ml: 15}
    cup: {kind: "volume", ml: 240}
    ml: {kind: "volume", ml: 1}
    g: {kind: "mass", g: 1}
    kg: {kind: "mass", g: 1000}
    oz: {kind: "mass", g: 28.35}
}

FRACTIONS = {{1/8, "1/8"}, {1/4, "1/4"}, {1/3, "1/3"}, {1/2, "1/2"}, {2/3, "2/3"}, {3/4, "3/4"}}

-- 1.5 -> "1 1/2", 0.33 -> "1/3", 2.9 -> "3"
friendly = (n) ->
    whole = math.floor n
    rest = n - whole
    best, label = 0.07, nil
    for {value, text} in *FRACTIONS
        diff = math.abs rest - value
        if diff < best
            best, label = diff, text
    whole += 1 if not label and rest > 0.5
    if label and whole > 0
        "#{whole} #{label}"
    elseif label
        label
    else
        tostring whole

class Ingredient
    new: (@name, @amount, @unit) =>

    scaled: (factor) => Ingredient @name, @amount and @amount * factor, @unit

    -- step up to a bigger unit when the number gets unwieldy
    tidy: =>
        switch @unit
            when "tsp"
                return Ingredient(@name, @amount / 3, "tbsp")\tidy! if @amount >= 3
            when "tbsp"
                return Ingredient(@name, @amount / 16, "cup") if @amount >= 8
            when "g"
                return Ingredient(@name, @amount / 1000, "kg") if @amount >= 1000
        @

    convert: (target) =>
        src, dst = UNITS[@unit], UNITS[target]
        assert src and dst and src.kind == dst.kind, "cannot convert #{@unit} to #{target}"
        base = if src.kind == "volume" then src.ml * @amount / dst.ml else src.g * @amount / dst.g
        Ingredient @name, base, target

    __tostring: =>
        return @name unless @amount
        qty = if @unit == "g" or @unit == "ml" then tostring(math.floor @amount + 0.5) else friendly @amount
        unit = @unit and " #{@unit}" or ""
        "#{qty}#{unit} #{@name}"

class Recipe
    new: (@title, @servings, @ingredients = {}) =>

    add: (name, amount, unit) =>
        table.insert @ingredients, Ingredient(name, amount, unit)
        @

    for_servings: (n) =>
        factor = n / @servings
        Recipe @title, n, [(i\scaled factor)\tidy! for i in *@ingredients]

    show: =>
        print "#{@title} (serves #{@servings})"
        print "  - #{tostring i}" for i in *@ingredients

pancakes = with Recipe "Pancakes", 4
    \add "flour", 200, "g"
    \add "milk", 1.25, "cup"
    \add "eggs", 2
    \add "sugar", 2, "tbsp"
    \add "baking powder", 2, "tsp"
    \add "salt"

pancakes\show!
pancakes\for_servings(10)\show!
print "milk in ml: #{pancakes.ingredients[2]\convert 'ml'}"
