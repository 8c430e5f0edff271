-- In-place quicksort and stable merge sort, with a small verification harness
import floor, random, min from math

default_less = (a, b) -> a < b

insertion_sort = (arr, lo, hi, less) ->
    for i = lo + 1, hi
        v = arr[i]
        j = i - 1
        while j >= lo and less(v, arr[j])
            arr[j + 1] = arr[j]
            j -= 1
        arr[j + 1] = v

-- median-of-three pivot keeps already sorted input from going quadratic
choose_pivot = (arr, lo, hi, less) ->
    mid = floor((lo + hi) / 2)
    if less(arr[mid], arr[lo])
        arr[lo], arr[mid] = arr[mid], arr[lo]
    if less(arr[hi], arr[lo])
        arr[lo], arr[hi] = arr[hi], arr[lo]
    if less(arr[hi], arr[mid])
        arr[mid], arr[hi] = arr[hi], arr[mid]
    arr[mid]

-- Hoare partition; returns the boundaries of the two halves
partition = (arr, lo, hi, less) ->
    pivot = choose_pivot arr, lo, hi, less
    i, j = lo, hi
    while i <= j
        while less(arr[i], pivot)
            i += 1
        while less(pivot, arr[j])
            j -= 1
        if i <= j
            arr[i], arr[j] = arr[j], arr[i]
            i += 1
            j -= 1
    i, j

quicksort = (arr, less = default_less, lo = 1, hi = #arr) ->
    while hi - lo > 10
        i, j = partition arr, lo, hi, less
        -- recurse into the smaller side and loop on the larger one
        if j - lo < hi - i
            quicksort arr, less, lo, j
            lo = i
        else
            quicksort arr, less, i, hi
            hi = j
    insertion_sort arr, lo, hi, less
    arr

-- bottom-up merge sort that returns a new sorted array
merge_sort = (arr, less = default_less) ->
    n = #arr
    src, dst = [v for v in *arr], {}
    width = 1
    while width < n
        lo = 1
        while lo <= n
            mid = min lo + width, n + 1
            hi = min lo + 2 * width, n + 1
            i, j = lo, mid
            for k = lo, hi - 1
                -- take from the right only when strictly smaller: keeps it stable
                if j < hi and (i >= mid or less(src[j], src[i]))
                    dst[k] = src[j]
                    j += 1
                else
                    dst[k] = src[i]
                    i += 1
            lo += 2 * width
        src, dst = dst, src
        width *= 2
    src

is_sorted = (arr, less = default_less) ->
    for i = 2, #arr
        return false if less(arr[i], arr[i - 1])
    true


math.randomseed 7
data = [random(1, 1000) for _ = 1, 200]
q = quicksort [v for v in *data]
m = merge_sort data
print "quicksort sorted: #{is_sorted q}, merge sort sorted: #{is_sorted m}"

-- stability check: equal ages keep their original relative order
people = {
    {name: "ada", age: 36}, {name: "bo", age: 25}
    {name: "cy", age: 36}, {name: "di", age: 25}
}
by_age = merge_sort people, (a, b) -> a.age < b.age
print table.concat ["#{p.name}(#{p.age})" for p in *by_age], " "
print table.concat quicksort({5, 2, 9, 1, 7}, (a, b) -> a > b), ","
