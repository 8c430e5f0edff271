-- Grade book: weighted categories, dropped low scores and class stats

CUTOFFS = {{93, "A"}, {90, "A-"}, {87, "B+"}, {83, "B"}, {80, "B-"}, {77, "C+"}, {70, "C"}, {60, "D"}}

letter_for = (pct) ->
  for {min, letter} in *CUTOFFS
    return letter if pct >= min
  "F"

class GradeBook
  new: (@course) =>
    @categories = {}
    @assignments = {}
    @students = {}
    @scores = {}

  category: (name, weight, drop_lowest = 0) =>
    @categories[name] = {:weight, :drop_lowest}
    @

  assignment: (id, category, max_points) =>
    error "unknown category #{category}" unless @categories[category]
    table.insert @assignments, {:id, :category, :max_points}
    @

  enroll: (name) =>
    table.insert @students, name
    @scores[name] = {}
    @

  record: (name, assignment_id, points) =>
    @scores[name][assignment_id] = points

  -- percentage within a category, lowest results dropped first
  category_percent: (name, category) =>
    results = for a in *@assignments
      continue unless a.category == category
      points = @scores[name][a.id] or 0
      {ratio: points / a.max_points, max: a.max_points, :points}
    return nil if #results == 0
    table.sort results, (a, b) -> a.ratio < b.ratio
    drop = math.min @categories[category].drop_lowest, #results - 1
    earned, possible = 0, 0
    for i = drop + 1, #results
      earned += results[i].points
      possible += results[i].max
    earned / possible * 100

  final_percent: (name) =>
    total, weights = 0, 0
    for category, info in pairs @categories
      pct = @category_percent name, category
      if pct
        total += pct * info.weight
        weights += info.weight
    if weights > 0 then total / weights else 0

  statistics: =>
    finals = [@final_percent s for s in *@students]
    table.sort finals
    n = #finals
    sum = 0
    sum += f for f in *finals
    mean = sum / n
    variance = 0
    variance += (f - mean) ^ 2 for f in *finals
    mid = math.floor (n + 1) / 2
    median = if n % 2 == 1 then finals[mid] else (finals[mid] + finals[mid + 1]) / 2
    mean, median, math.sqrt(variance / n)

  report: =>
    print "== #{@course} =="
    for s in *@students
      pct = @final_percent s
      print string.format("%-10s %6.1f%%  %s", s, pct, letter_for pct)
    mean, median, sd = @statistics!
    print string.format("mean %.1f  median %.1f  sd %.1f", mean, median, sd)

book = with GradeBook "Astronomy 101"
  \category "homework", 0.3, 1
  \category "quizzes", 0.2
  \category "exams", 0.5
  \assignment "quiz1", "quizzes", 20
  \assignment "midterm", "exams", 100
  \assignment "final", "exams", 150
book\assignment "hw#{i}", "homework", 10 for i = 1, 3

data = {
  Mira: {hw1: 10, hw2: 9, hw3: 4, quiz1: 18, midterm: 91, final: 140}
  Otto: {hw1: 7, hw2: 8, hw3: 9, quiz1: 12, midterm: 74, final: 101}
  Jun: {hw1: 10, hw2: 10, quiz1: 20, midterm: 85, final: 131}
}
for name, scores in pairs data
  book\enroll name
  book\record name, id, pts for id, pts in pairs scores
book\report!
