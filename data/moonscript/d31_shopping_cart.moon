-- Shopping cart with pluggable discount rules; all amounts are in cents

class Cart
  new: (@tax_rate = 0.08) =>
    @lines = {}
    @rules = {}
    @coupon = nil

  add: (sku, name, price, qty = 1) =>
    if line = @lines[sku]
      line.qty += qty
    else
      @lines[sku] = {:sku, :name, :price, :qty}
    @

  remove: (sku, qty) =>
    line = @lines[sku]
    return @ unless line
    line.qty -= qty or line.qty
    @lines[sku] = nil if line.qty <= 0
    @

  add_rule: (rule) =>
    table.insert @rules, rule
    @

  subtotal: =>
    total = 0
    total += l.price * l.qty for _, l in pairs @lines
    total

  discounts: =>
    found = {}
    for rule in *@rules
      amount, label = rule\apply @
      table.insert found, {:amount, :label} if amount and amount > 0
    found

  totals: =>
    sub = @subtotal!
    off = 0
    off += d.amount for d in *@discounts!
    off = math.min off, sub
    taxed = sub - off
    tax = math.floor taxed * @tax_rate + 0.5
    {subtotal: sub, discount: off, tax: tax, total: taxed + tax}


-- 3 for 2 style deals: every nth item of a sku is free
class BuyXGetOne
  new: (@sku, @every = 3) =>
  apply: (cart) =>
    line = cart.lines[@sku]
    return unless line
    free = math.floor line.qty / @every
    free * line.price, "#{line.name}: buy #{@every - 1} get 1 free"

class PercentOff
  new: (@percent, @minimum = 0) =>
  apply: (cart) =>
    sub = cart\subtotal!
    return if sub < @minimum
    math.floor(sub * @percent / 100), "#{@percent}% off orders over #{@minimum / 100}"

class Coupon extends PercentOff
  new: (@code, percent, @expires) =>
    super percent
  apply: (cart) =>
    return if cart.coupon != @code or os.time! > @expires
    amount, _ = super cart
    amount, "coupon #{@code}"


money = (c) -> string.format "%d.%02d", math.floor(c / 100), c % 100

cart = with Cart!
  \add "tea", "Green tea", 650, 4
  \add "mug", "Stoneware mug", 1800
  \add "honey", "Honey jar", 900, 2
  \add_rule BuyXGetOne("tea", 3)
  \add_rule PercentOff(10, 5000)
  \add_rule Coupon("SPRING5", 5, os.time! + 3600)
  .coupon = "SPRING5"

for d in *cart\discounts!
  print "  -#{money d.amount}  #{d.label}"
t = cart\totals!
print "subtotal #{money t.subtotal}, discount #{money t.discount}, tax #{money t.tax}"
print "total    #{money t.total}"
