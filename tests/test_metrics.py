"""Metrics against values worked out by hand; bootstrap intervals and paired comparisons behave."""

from __future__ import annotations

import numpy as np
import pytest

from utils import metrics as M


def test_exact_match_raw_and_whitespace_normalised():
    assert M.exact_match("x = 1\n", "x = 1\n") == 1.0
    assert M.exact_match("x = 1", "x = 1\n") == 0.0  # raw EM sees the missing newline
    assert M.exact_match_ws("x  =\t1", " x = 1\n") == 1.0  # runs of whitespace collapse, ends strip
    assert M.exact_match_ws("x = 1", "x = 2") == 0.0
    assert M.exact_match_ws("xy", "x y") == 0.0  # collapsing is not deleting


def test_edit_similarity_by_hand():
    assert M.edit_similarity("abcd", "abcd") == 1.0
    assert M.edit_similarity("abcd", "abce") == pytest.approx(1 - 1 / 4)  # one substitution in 4
    assert M.edit_similarity("ab", "abcd") == pytest.approx(1 - 2 / 4)  # two insertions, max len 4
    assert M.edit_similarity("", "abc") == 0.0
    assert M.edit_similarity("", "") == 1.0


def test_first_line_and_empty():
    assert M.first_line("\n\n  local x = 1  \ny") == "  local x = 1"  # blank lines skipped, indent kept
    assert M.first_line_em("  a = 1\nwrong", "\n  a = 1\nb") == 1.0
    assert M.first_line_em("a = 1", "  a = 1") == 0.0  # indentation matters in MoonScript
    assert [M.is_empty(p) for p in ("", " \n\t", "x")] == [1.0, 1.0, 0.0]


def test_corpus_scores_by_hand():
    preds, refs = ["a = 1\n", "b  = 2", "", "xyzw"], ["a = 1\n", "b = 2", "c = 3", "xyzq"]
    assert M.corpus_score("exact_match", preds, refs) == pytest.approx(1 / 4)
    assert M.corpus_score("exact_match_ws", preds, refs) == pytest.approx(2 / 4)
    assert M.corpus_score("empty_rate", preds, refs) == pytest.approx(1 / 4)
    # edit sims: 1, 1 - 1/6 (one extra space), 0, 1 - 1/4
    assert M.corpus_score("edit_similarity", preds, refs) == pytest.approx((1 + 5 / 6 + 0 + 0.75) / 4)
    # characters: (6 + 6 + 0 + 4) / (6 + 5 + 5 + 4)
    assert M.corpus_score("length_ratio", preds, refs) == pytest.approx(16 / 20)
    assert M.corpus_score("chrf", refs, refs) == pytest.approx(100.0)
    assert M.corpus_score("bleu", ["a b c d e"], ["a b c d e"]) == pytest.approx(100.0)
    assert M.corpus_score("bleu", ["q r s t"], ["a b c d"]) == pytest.approx(0.0)


def test_chrf_and_bleu_match_sacrebleu():
    import sacrebleu

    preds = ["local x = 1", "for i = 1, 10", "print 'hi'"]
    refs = ["local x = 2", "for i = 1, 10 do", "print \"hi\""]
    assert M.corpus_score("chrf", preds, refs) == pytest.approx(sacrebleu.corpus_chrf(preds, [refs]).score)
    assert M.corpus_score("bleu", preds, refs) == pytest.approx(sacrebleu.corpus_bleu(preds, [refs]).score)


def test_unknown_metric_and_mismatched_lengths():
    with pytest.raises(ValueError, match="unknown metric"):
        M.corpus_score("rouge", ["a"], ["a"])
    with pytest.raises(ValueError, match="pair up"):
        M.corpus_score("exact_match", ["a", "b"], ["a"])


def _half_right(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    refs = [f"x{i} = {i}" for i in range(n)]
    preds = [r if rng.random() < 0.5 else "nil" for r in refs]
    return preds, refs


def test_bootstrap_ci_contains_value_and_narrows():
    widths = []
    for n in (20, 400):
        preds, refs = _half_right(n)
        for metric in ("exact_match", "edit_similarity", "chrf", "length_ratio"):
            value, low, high = M.bootstrap_ci(metric, preds, refs, n_samples=500, seed=1)
            assert low <= value <= high, (metric, n)
            assert low < high
        value, low, high = M.bootstrap_ci("exact_match", preds, refs, n_samples=500, seed=1)
        widths.append(high - low)
    assert widths[1] < widths[0] / 2  # 20x the data: about sqrt(20) ~ 4.5x narrower
    # seeded: the same call gives the same interval
    assert M.bootstrap_ci("exact_match", *_half_right(50), n_samples=200, seed=3) == M.bootstrap_ci(
        "exact_match", *_half_right(50), n_samples=200, seed=3)


def test_score_system_rows_by_span_type():
    preds, refs = ["a", "b", "c", "d"], ["a", "x", "c", "c"]
    rows = M.score_system(preds, refs, ["s", "s", "m", "m"], metrics=("exact_match",), n_samples=100)
    by_span = {r["span_type"]: r for r in rows}
    assert set(by_span) == {"all", "m", "s"}
    assert by_span["all"]["value"] == 0.5 and by_span["s"]["value"] == 0.5 and by_span["m"]["n"] == 2


def test_paired_comparison_sign_and_identity():
    preds_b, refs = _half_right(200)
    preds_a = list(refs)  # A is always right, B half the time
    res = M.paired_bootstrap("exact_match", preds_a, preds_b, refs, n_samples=500, seed=0)
    assert res["diff"] > 0 and res["ci_low"] > 0 and res["share_a_better"] == 1.0 and res["p_value"] < 0.01
    assert res["losses"] == 0 and res["wins"] + res["ties"] == 200
    flipped = M.paired_bootstrap("exact_match", preds_b, preds_a, refs, n_samples=500, seed=0)
    assert flipped["diff"] == pytest.approx(-res["diff"]) and flipped["ci_high"] < 0 and flipped["share_a_better"] == 0.0
    same = M.paired_bootstrap("edit_similarity", preds_b, preds_b, refs, n_samples=200, seed=0)
    assert same["diff"] == 0 and same["ci_low"] == same["ci_high"] == 0 and same["p_value"] == 1.0


# --------------------------------------------------------------------------- is_prose

RATIONALE = "The missing code (1 line) calls table.remove. It uses i and slot.count, defined before the gap."


def test_is_prose_flags_english_answers():
    assert M.is_prose("The missing code has to call print and return the value.")
    assert M.is_prose("The missing code (1 line) calls table.remove.")  # a rationale's sentence, no rationale given
    echo, said = "It uses @slots.count defined before the gap", "It uses @slots.count, defined before the gap."
    assert M.is_prose(echo, said) and not M.is_prose(echo)  # rule (a): an echo of the rationale, with a code mark in it


def test_is_prose_leaves_code_comments_and_strings_alone():
    assert not M.is_prose('print "Hello world, this is fine"')
    assert not M.is_prose("-- returns the sum of the values in the list")
    assert not M.is_prose('error "the value of this field is not a number"')
    assert not M.is_prose("table.remove @slots, i if slot.count == 0", RATIONALE)  # names what the rationale names
    assert not M.is_prose("for slot in *@slots", "The missing code (1 line) loops over each slot in @slots.")
    assert not M.is_prose("is: (state) => @current == state", "It checks whether the state is the current state.")
    assert not M.is_prose("sum")  # fewer than 4 words
    assert not M.is_prose("import insert, sort from table")  # plain words, but no English function word


def test_is_prose_has_almost_no_false_positives_on_the_sample_corpus():
    from utils.config import REPO_ROOT

    lines = [line for path in sorted((REPO_ROOT / "data" / "moonscript").glob("*.moon"))
             for line in path.read_text().splitlines() if len(line.split()) > 3]
    flagged = [line for line in lines if M.is_prose(line)]
    assert len(lines) > 1000 and len(flagged) < 0.01 * len(lines), flagged  # the few: English inside multi-line [[ ]] strings


def _clustered(n_files: int = 4, per_file: int = 10) -> tuple[np.ndarray, list[str]]:
    """Scores that depend mostly on their file (as holes from the same file do), and each example's file."""
    rng = np.random.default_rng(0)
    means = np.linspace(0.1, 0.9, n_files)
    values = np.repeat(means, per_file) + rng.normal(0, 0.02, n_files * per_file)
    return values, [f"file{i}" for i in range(n_files) for _ in range(per_file)]


def test_cluster_bootstrap_is_wider_on_clustered_scores():
    values, files = _clustered()
    _, lo, hi = M.mean_ci(values)
    _, clo, chi = M.mean_ci(values, groups=files)
    assert chi - clo > 2 * (hi - lo)  # 4 files are far fewer independent draws than 40 examples


def test_cluster_bootstrap_with_one_file_per_example_is_the_example_bootstrap():
    values, _ = _clustered()
    own = [f"f{i}" for i in range(len(values))]
    assert M.mean_ci(values, groups=own) == M.mean_ci(values)
    preds, refs = ["a", "ab", "abc", "x"] * 3, ["a", "abc", "abc", "y"] * 3
    assert M.bootstrap_ci("chrf", preds, refs, 200, groups=list(range(12))) == M.bootstrap_ci("chrf", preds, refs, 200)


def test_paired_bootstrap_by_file_is_wider_and_counts_files():
    values, files = _clustered()
    sa, sb = M.value_stats(values), M.value_stats(np.clip(values - 0.05 + np.repeat([0.1, -0.1, 0.1, -0.1], 10), 0, 1))
    flat = M.paired_bootstrap_stats("parses", sa, sb)
    by_file = M.paired_bootstrap_stats("parses", sa, sb, groups=files)
    assert by_file["n_groups"] == 4 and flat["n_groups"] == 40 and by_file["n"] == 40
    assert by_file["ci_high"] - by_file["ci_low"] > flat["ci_high"] - flat["ci_low"]
    assert by_file["diff"] == pytest.approx(flat["diff"])


def test_score_system_intervals_by_file():
    values, files = _clustered()
    preds = refs = ["x"] * len(values)
    rows = M.score_system(preds, refs, metrics=("parses",), precomputed={"parses": values}, groups=files)
    assert rows[0]["n_groups"] == 4 and rows[0]["ci_high"] - rows[0]["ci_low"] > 0.3


def test_is_prose_and_wrong_task_metric():
    assert M.is_prose("This function adds the price of each item to the total.")
    assert not M.is_prose("  total += item.price\n") and not M.is_prose("")
    assert "wrong_task" in M.PRECOMPUTED and M.METRICS["wrong_task"][1] is False


def test_a_collapsed_answer_is_degenerate_and_code_is_not():
    from utils.artifacts import read_moon_texts
    from utils.config import REPO_ROOT
    from utils.metrics import is_degenerate

    for collapsed in (" = = = = = = = = = = = =", " call @ @ @ @ @ @ @ @ @ @", " (ssssssssssssssssssssssss"):
        assert is_degenerate(collapsed), collapsed
    for short in (" = = =", "@x = @y", "\t\t\t\t\t\t\t\t\n", "-- ----------------------------\n"):
        assert not is_degenerate(short), short
    # no real code is: every 8-line window of every sample file reads as code
    for text in read_moon_texts(REPO_ROOT / "data" / "moonscript").values():
        lines = text.splitlines(keepends=True)
        for i in range(0, max(1, len(lines) - 7), 4):
            assert not is_degenerate("".join(lines[i:i + 8])), "".join(lines[i:i + 8])
