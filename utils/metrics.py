"""Quality metrics for fill-in-the-middle, with bootstrap intervals and paired comparisons.

Every metric is computed the same way: each example contributes a row of *sufficient
statistics* and the score is a function of their column sums. For a mean metric (exact
match, edit similarity, ...) the row is `[value, 1]`; for the length ratio it is
`[len(prediction), len(reference)]`; for chrF and BLEU it is sacrebleu's own statistics
(n-gram matches and totals), so corpus chrF / BLEU are exactly sacrebleu's numbers. A
bootstrap resample is then just a reweighting of rows, which makes confidence intervals
and paired tests cheap and identical in method for every metric (this is also how
sacrebleu's own `--paired-bs` works).

`parses` is the one metric not computed from the two strings: whether the whole source file, with
the prediction in place of the true middle, still parses (MoonScript's parser, `utils.fim.files_parse`).
Its per-example values are passed in (`score_system(..., precomputed=...)`); a missing value (no parser)
counts as no example, so the score is NaN ("n/a") rather than a made-up 0.

Scales: exact matches, edit similarity, first-line EM and empty rate are shares in
[0, 1]; chrF and BLEU are on sacrebleu's 0-100 scale; the length ratio is
sum(len(prediction)) / sum(len(reference)) in characters (1.0 = as long as the truth).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
from rapidfuzz.distance import Levenshtein

# name -> (short label for tables, higher is better?)
METRICS: dict[str, tuple[str, bool]] = {
    "exact_match": ("EM", True),
    "exact_match_ws": ("EM (ws-norm)", True),
    "edit_similarity": ("edit sim", True),
    "chrf": ("chrF", True),
    "bleu": ("BLEU", True),
    "first_line_em": ("first-line EM", True),
    "empty_rate": ("empty", False),
    "length_ratio": ("len ratio", False),  # neither: 1.0 is best; False keeps it out of "better" claims
    "parses": ("parses", True),  # the whole file, with the prediction in place, still parses (needs the parser)
    "wrong_task": ("wrong task", False),  # the prediction answers with prose (`is_prose`), not with code
}
# metrics whose per-example values come from outside (not from prediction and reference alone): the caller passes them
PRECOMPUTED = ("parses", "wrong_task")
PER_EXAMPLE = ("exact_match", "exact_match_ws", "edit_similarity", "chrf", "first_line_em", "empty_rate")


# --------------------------------------------------------------------------- single examples


def normalize_whitespace(text: str) -> str:
    """`text` with every run of whitespace (spaces, tabs, newlines) made one space, ends stripped."""
    return " ".join(text.split())


def first_line(text: str) -> str:
    """The first non-blank line of `text`, indentation kept, trailing whitespace dropped."""
    for line in text.splitlines():
        if line.strip():
            return line.rstrip()
    return ""


def exact_match(prediction: str, reference: str) -> float:
    """1.0 when the prediction equals the reference byte for byte, else 0.0."""
    return float(prediction == reference)


def exact_match_ws(prediction: str, reference: str) -> float:
    """1.0 when both are equal once whitespace runs are collapsed and ends stripped."""
    return float(normalize_whitespace(prediction) == normalize_whitespace(reference))


def edit_similarity(prediction: str, reference: str) -> float:
    """1 - Levenshtein distance / max(len); 1.0 for identical strings (two empty ones included)."""
    return float(Levenshtein.normalized_similarity(prediction, reference))


def first_line_em(prediction: str, reference: str) -> float:
    """1.0 when the first non-blank lines agree (what a one-line completion UI would show)."""
    return float(first_line(prediction) == first_line(reference))


def is_empty(prediction: str) -> float:
    """1.0 when the prediction is empty or only whitespace."""
    return float(not prediction.strip())


def is_degenerate(prediction: str, min_pieces: int = 8) -> bool:
    """True for a collapsed answer: one or two pieces repeated (`= = = = ...`, `@ @ @ ...`) or one letter run on (`ssss...`)."""
    pieces = prediction.split()
    if len(pieces) >= min_pieces and len(set(pieces)) <= 2:
        return True
    return re.search(r"([A-Za-z])\1{15,}", prediction) is not None


def sentence_chrf(prediction: str, reference: str) -> float:
    """sacrebleu's sentence-level chrF (0-100)."""
    from sacrebleu.metrics import CHRF

    return float(CHRF().sentence_score(prediction, [reference]).score)


def sentence_bleu(prediction: str, reference: str) -> float:
    """sacrebleu's sentence-level BLEU with effective order (0-100); noisy on short middles."""
    from sacrebleu.metrics import BLEU

    return float(BLEU(effective_order=True).sentence_score(prediction, [reference]).score)


# --------------------------------------------------------------------------- sufficient statistics

_ELEMENTWISE: dict[str, Callable[[str, str], float]] = {
    "exact_match": exact_match,
    "exact_match_ws": exact_match_ws,
    "edit_similarity": edit_similarity,
    "first_line_em": first_line_em,
    "empty_rate": lambda p, r: is_empty(p),
}


def _sacrebleu_metric(name: str):
    from sacrebleu.metrics import BLEU, CHRF

    return CHRF() if name == "chrf" else BLEU()


def _check(predictions: Sequence[str], references: Sequence[str]) -> None:
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references: they must pair up")


def sufficient_stats(metric: str, predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
    """Per-example statistics (n x k) whose column sums determine `metric` (see `aggregate`)."""
    _check(predictions, references)
    if metric in _ELEMENTWISE:
        fn = _ELEMENTWISE[metric]
        values = [fn(p, r) for p, r in zip(predictions, references)]
        return np.column_stack([np.asarray(values, dtype=float), np.ones(len(values))]).reshape(len(values), 2)
    if metric == "length_ratio":
        return np.array([[len(p), len(r)] for p, r in zip(predictions, references)], dtype=float).reshape(-1, 2)
    if metric in ("chrf", "bleu"):
        m = _sacrebleu_metric(metric)
        stats = m._extract_corpus_statistics(list(predictions), [list(references)])
        return np.asarray(stats, dtype=float).reshape(len(predictions), -1)
    raise ValueError(f"unknown metric {metric!r}: choose from {', '.join(METRICS)}")


def value_stats(values: Sequence[float | None]) -> np.ndarray:
    """Sufficient statistics (n x 2) of precomputed per-example values: [value, 1], or [0, 0] for a missing one."""
    vals = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
    present = ~np.isnan(vals)
    return np.column_stack([np.where(present, vals, 0.0), present.astype(float)]).reshape(len(vals), 2)


def mean_ci(values: Sequence[float | None], n_samples: int = 1000, seed: int = 42,
            confidence: float = 0.95, groups: Sequence | None = None) -> tuple[float, float, float]:
    """(mean, ci_low, ci_high) of precomputed per-example values (missing ones left out; all missing: NaN)."""
    stats = value_stats(values)
    value = float(aggregate("parses", stats.sum(0))[0]) if len(stats) else float("nan")
    return (value, *_interval(bootstrap_scores(stats, "parses", n_samples, seed, groups), confidence))


def aggregate(metric: str, summed: np.ndarray) -> np.ndarray:
    """Scores from summed statistics; `summed` is (k,) or (b, k) for b resamples at once."""
    summed = np.atleast_2d(np.asarray(summed, dtype=float))
    if metric in _ELEMENTWISE or metric == "length_ratio" or metric in PRECOMPUTED:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(summed[:, 1] > 0, summed[:, 0] / np.maximum(summed[:, 1], 1e-12), np.nan)
    m = _sacrebleu_metric(metric)
    scores = np.array([m._compute_score_from_stats(list(row)).score for row in summed], dtype=float)
    return np.clip(scores, 0.0, 100.0)  # float noise can give 100.00000000000004


def corpus_score(metric: str, predictions: Sequence[str], references: Sequence[str]) -> float:
    """The metric over a whole set (mean for per-example metrics; corpus-level chrF/BLEU/length ratio)."""
    return float(aggregate(metric, sufficient_stats(metric, predictions, references).sum(0))[0])


def cluster_codes(groups: Sequence | None, n: int) -> np.ndarray:
    """Integer cluster of each of `n` examples, numbered by first appearance (None: every example its own cluster)."""
    if groups is None:
        return np.arange(n)
    groups = np.asarray(groups)
    if len(groups) != n:
        raise ValueError(f"{len(groups)} groups for {n} examples: give one group (source file) per example")
    _, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
    return np.argsort(np.argsort(first))[inverse.ravel()]


def _resample_weights(n: int, n_samples: int, seed: int, groups: Sequence | None = None, chunk: int = 250):
    """Yield (b, n) count matrices: how often each example is drawn in each bootstrap resample.

    With `groups` (e.g. the source file of each example) whole groups are drawn with replacement and every
    example weighs as often as its group was drawn: a cluster bootstrap, for examples that are not independent.
    Without it (or with one group per example, in order) it is the plain bootstrap of examples, draw for draw.
    """
    codes = cluster_codes(groups, n)
    k = int(codes.max()) + 1 if n else 0
    rng = np.random.default_rng(seed)
    done = 0
    while done < n_samples:
        b = min(chunk, n_samples - done)
        idx = rng.integers(0, k, size=(b, k))
        flat = (idx + np.arange(b)[:, None] * k).ravel()
        yield np.bincount(flat, minlength=b * k).reshape(b, k).astype(float)[:, codes]
        done += b


def bootstrap_scores(stats: np.ndarray, metric: str, n_samples: int = 1000, seed: int = 42,
                     groups: Sequence | None = None) -> np.ndarray:
    """The metric on `n_samples` bootstrap resamples (seeded): of the examples, or of whole `groups` when given."""
    if len(stats) == 0:
        return np.full(n_samples, np.nan)
    weights = _resample_weights(len(stats), n_samples, seed, groups)
    return np.concatenate([aggregate(metric, w @ stats) for w in weights])


def _interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    samples = samples[~np.isnan(samples)]
    if not len(samples):
        return float("nan"), float("nan")
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_ci(
    metric: str,
    predictions: Sequence[str],
    references: Sequence[str],
    n_samples: int = 1000,
    seed: int = 42,
    confidence: float = 0.95,
    groups: Sequence | None = None,
) -> tuple[float, float, float]:
    """(value, ci_low, ci_high): the score on all examples and its percentile bootstrap interval (by `groups` if given)."""
    stats = sufficient_stats(metric, predictions, references)
    value = float(aggregate(metric, stats.sum(0))[0]) if len(stats) else float("nan")
    return (value, *_interval(bootstrap_scores(stats, metric, n_samples, seed, groups), confidence))


def per_example_scores(predictions: Sequence[str], references: Sequence[str]) -> dict[str, np.ndarray]:
    """Per-example values of the metrics that have one (for viewers and error analysis)."""
    _check(predictions, references)
    out = {m: sufficient_stats(m, predictions, references)[:, 0] for m in _ELEMENTWISE}
    out["chrf"] = np.array([sentence_chrf(p, r) for p, r in zip(predictions, references)], dtype=float)
    return {m: out[m] for m in PER_EXAMPLE}


def score_system(
    predictions: Sequence[str],
    references: Sequence[str],
    span_types: Sequence[str] | None = None,
    metrics: Sequence[str] = tuple(METRICS),
    n_samples: int = 1000,
    seed: int = 42,
    confidence: float = 0.95,
    precomputed: dict[str, Sequence[float | None]] | None = None,
    groups: Sequence | None = None,
) -> list[dict]:
    """Rows {metric, span_type, n, n_groups, value, ci_low, ci_high} for 'all' and each span type present.

    `precomputed` gives the per-example values of metrics in PRECOMPUTED (e.g. `parses`); such a metric
    without values is left out. `groups` (the source file of each example) makes every interval a cluster
    bootstrap over files. `n` counts the examples of the subset, `n_groups` its files.
    """
    _check(predictions, references)
    precomputed = precomputed or {}
    codes = cluster_codes(groups, len(predictions))
    span_types = list(span_types) if span_types is not None else ["all"] * len(predictions)
    subsets = {"all": np.arange(len(predictions))}
    for st in sorted(set(span_types) - {"all"}):
        subsets[st] = np.array([i for i, s in enumerate(span_types) if s == st])
    rows = []
    for metric in metrics:
        if metric in PRECOMPUTED:
            if metric not in precomputed:
                continue
            stats = value_stats(precomputed[metric])
            _check(stats, references)
        else:
            stats = sufficient_stats(metric, predictions, references)
        for span, idx in subsets.items():
            part = stats[idx] if len(idx) else stats[:0]
            value = float(aggregate(metric, part.sum(0))[0]) if len(part) else float("nan")
            low, high = _interval(bootstrap_scores(part, metric, n_samples, seed, codes[idx]), confidence)
            rows.append(dict(metric=metric, span_type=span, n=int(len(idx)), n_groups=int(len(set(codes[idx]))),
                             value=value, ci_low=low, ci_high=high))
    return rows


def paired_bootstrap(
    metric: str,
    predictions_a: Sequence[str],
    predictions_b: Sequence[str],
    references: Sequence[str],
    n_samples: int = 1000,
    seed: int = 42,
    confidence: float = 0.95,
    groups: Sequence | None = None,
) -> dict:
    """Paired bootstrap of A - B on the same examples: difference, its interval, and how often A wins.

    Both systems are scored on the *same* resamples, so the interval is that of the
    difference itself (much tighter than comparing two separate intervals); with `groups`
    the resamples draw whole files. `share_a_better` is the share of resamples where A
    scores above B (Koehn, 2004); `p_value` is sacrebleu's estimate for "no difference"
    (resampled differences centred on their mean, compared with the observed one;
    two-sided, +1 smoothed).
    """
    _check(predictions_a, references)
    _check(predictions_b, references)
    sa = sufficient_stats(metric, predictions_a, references)
    sb = sufficient_stats(metric, predictions_b, references)
    return paired_bootstrap_stats(metric, sa, sb, n_samples, seed, confidence, groups)


def _p_value(diffs: np.ndarray, diff: float) -> float:
    """sacrebleu's paired p-value: resampled differences centred on their mean against the observed one (NaN: no values)."""
    if np.isnan(diff) or not len(diffs):
        return float("nan")
    if diff == 0:
        return 1.0
    centred = np.abs(diffs - np.nanmean(diffs))
    return float((np.sum(centred >= abs(diff)) + 1) / (len(diffs) + 1))


def paired_bootstrap_stats(metric: str, sa: np.ndarray, sb: np.ndarray, n_samples: int = 1000, seed: int = 42,
                           confidence: float = 0.95, groups: Sequence | None = None) -> dict:
    """`paired_bootstrap` on sufficient statistics (also those of precomputed values: `value_stats`)."""
    _check(sa, sb)
    codes = cluster_codes(groups, len(sa))
    a = float(aggregate(metric, sa.sum(0))[0])
    b = float(aggregate(metric, sb.sum(0))[0])
    diffs = [aggregate(metric, w @ sa) - aggregate(metric, w @ sb) for w in _resample_weights(len(sa), n_samples, seed, codes)]
    diffs = np.concatenate(diffs) if diffs else np.array([])
    diff = a - b
    low, high = _interval(diffs, confidence)
    p = _p_value(diffs, diff)
    out = dict(metric=metric, n=len(sa), n_groups=int(len(set(codes))), a=a, b=b, diff=diff, ci_low=low, ci_high=high,
               share_a_better=float(np.mean(diffs > 0)) if len(diffs) else float("nan"), p_value=p)
    if metric in _ELEMENTWISE or metric in PRECOMPUTED:
        va, vb = sa[:, 0], sb[:, 0]
        out.update(wins=int(np.sum(va > vb)), ties=int(np.sum(va == vb)), losses=int(np.sum(va < vb)))
    return out


# --------------------------------------------------------------------------- prose where code belongs

# string literals ("...", '...' not after a letter, [[...]] / [=[...]=]) and `--` comments: words there are code's, not prose
_STRINGS_AND_COMMENTS = re.compile(r'"(?:\\.|[^"\\\n])*"|(?<![A-Za-z])\'(?:\\.|[^\'\\\n])*\'|\[(=*)\[.*?\]\1\]|--[^\n]*', re.S)
# MoonScript's marks that English sentences do not use: assignment, arrows, `f(` calls, tables, \method, `@x.y` / `@x\y`
# self access, :key (a sentence may say "(1 line)" or "calls @find_slot", so a lone `(` or `@name` is no mark)
_CODE_MARKS = re.compile(r"=|->|=>|\w\(|\{|\\|@\w*[.\\[]\w|@\s|:[A-Za-z_]")
# English function words that are not MoonScript keywords: a sentence has some, code almost never
_ENGLISH = frozenset("the an is are was were be been it its this that these those of to by which so must has have "
                     "what should would".split())
_PLAIN_WORD = re.compile(r"[(\"'“]?[A-Za-z0-9][a-z0-9'’-]*[)\"'”]?[.,;:!?]?")  # "line)", "(1", "“Loads", "dog."


def is_prose(prediction: str, rationale: str | None = None) -> bool:
    """True when a predicted middle answers the predict task with English prose instead of code.

    The rule, after string literals and `--` comments are removed (a sentence inside them is code's business):
    at least 4 word tokens (whitespace-separated, holding a letter), at least one English function word that is
    no MoonScript keyword ("the", "is", "of", ...), and either
    (a) it echoes the rationale: at least 60% of its pairs of consecutive words occur as such in `rationale`
    (pairs, not single words: a line of code names the identifiers its rationale names), or
    (b) it reads as a sentence: no MoonScript marks (`=`, `->`, `=>`, `f(`, `{`, `\\`, `@a.b`, `:name`), words separated
        by single spaces, at least 75% of its tokens plain words (a word or number, lowercase after its first letter, maybe
        in brackets or quotes, with at most one punctuation mark after it), and it starts with a capital letter or one of the English words.
    It can miss prose without function words ("Returns sum plus one") and flag a code line made of English words
    ("x is the sum of it" is not MoonScript, so that case is rare).
    """
    text = _STRINGS_AND_COMMENTS.sub(" ", prediction)
    tokens = text.split()
    words = [w.lower() for w in re.findall(r"[A-Za-z]+", text)]
    if sum(any(c.isalpha() for c in t) for t in tokens) < 4 or not _ENGLISH.intersection(words):
        return False
    if rationale:
        said = [w.lower() for w in re.findall(r"[A-Za-z]+", rationale)]
        pairs, known = list(zip(words, words[1:])), set(zip(said, said[1:]))
        if sum(p in known for p in pairs) >= 0.6 * len(pairs):
            return True
    single_spaced = all("  " not in line.strip() and "\t" not in line.strip() for line in text.splitlines())
    plain = sum(bool(_PLAIN_WORD.fullmatch(t)) for t in tokens) >= 0.75 * len(tokens)
    opening = tokens[0][0].isupper() or tokens[0].lower() in _ENGLISH
    return single_spaced and plain and opening and not _CODE_MARKS.search(text)

