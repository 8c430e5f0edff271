-- Binary search utilities over sorted arrays, plus searching on a predicate
import floor from math

less_than = (a, b) -> a < b

-- first index whose value is not less than x (#arr + 1 if there is none)
lower_bound = (arr, x, less = less_than) ->
	lo, hi = 1, #arr + 1
	while lo < hi
		mid = floor((lo + hi) / 2)
		if less(arr[mid], x)
			lo = mid + 1
		else
			hi = mid
	lo

-- first index whose value is greater than x
upper_bound = (arr, x, less = less_than) ->
	lo, hi = 1, #arr + 1
	while lo < hi
		mid = floor((lo + hi) / 2)
		if less(x, arr[mid])
			hi = mid
		else
			lo = mid + 1
	lo

index_of = (arr, x, less = less_than) ->
	i = lower_bound arr, x, less
	if i <= #arr and not less(x, arr[i])
		return i
	nil

count_equal = (arr, x) -> upper_bound(arr, x) - lower_bound(arr, x)

insert_sorted = (arr, x, less = less_than) ->
	table.insert arr, upper_bound(arr, x, less), x
	arr

-- smallest integer n in [lo, hi] with pred(n) true; pred must be monotone
first_true = (lo, hi, pred) ->
	while lo < hi
		mid = floor((lo + hi) / 2)
		if pred mid
			hi = mid
		else
			lo = mid + 1
	lo

-- bisection on real numbers; f(lo) and f(hi) must have opposite signs
bisect = (f, lo, hi, eps = 1e-9) ->
	while hi - lo > eps
		mid = (lo + hi) / 2
		if (f(lo) < 0) == (f(mid) < 0)
			lo = mid
		else
			hi = mid
	(lo + hi) / 2


grades = {12, 25, 25, 25, 40, 58, 63, 77, 91}
print "index of 40: #{index_of grades, 40}"
print "index of 41: #{index_of(grades, 41) or 'missing'}"
print "count of 25: #{count_equal grades, 25}"
insert_sorted grades, 50
print "after insert: #{table.concat grades, ' '}"

-- the band is decided by how many cutoffs a score reaches
cutoffs = {50, 65, 80, 90}
bands = {"F", "D", "C", "B", "A"}
for score in *{42, 65, 79, 95}
	print "#{score} -> #{bands[upper_bound(cutoffs, score)]}"

-- how many 30-line pages does a 1000 line report need?
pages = first_true 1, 1000, (n) -> n * 30 >= 1000
print "pages needed: #{pages}"

root = bisect ((x) -> x * x - 2), 0, 2
print string.format "sqrt(2) ~ %.8f", root

{ :lower_bound, :upper_bound, :index_of, :first_true, :bisect }
