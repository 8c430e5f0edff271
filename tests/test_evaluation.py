"""Evaluation (notebook 07) on a tiny synthetic run: report completeness, viewer, bench command."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from datasets import Dataset, DatasetDict

from utils import evaluation as E
from utils import metrics as M
from utils.config import HOLE, load_config
from utils.artifacts import save_stage
from utils.data import SAMPLE_DIR
from utils.fim import fim_prompt, load_files
from utils.parser import load_parser
from utils.student import UNTRAINED, load_system
from utils.training import train_variant

SPANS = ("single_line", "multi_line", "random_span")


def _synthetic_rows(n_files: int = 4, per_file: int = 3) -> list[dict]:
    """FIM rows cut by hand from the sample corpus: the contract's columns, no model needed."""
    rows = []
    for f, path in enumerate(sorted(SAMPLE_DIR.glob("*.moon"))[:n_files]):
        lines = path.read_text().splitlines(keepends=True)
        for k in range(per_file):
            span = SPANS[(f + k) % 3]
            start = 3 + 4 * k
            stop = start + (1 if span == "single_line" else 2)
            prefix, middle, suffix = "".join(lines[:start]), "".join(lines[start:stop]), "".join(lines[stop:stop + 6])
            if span == "random_span":
                middle, suffix = middle[: len(middle) // 2], middle[len(middle) // 2 :] + suffix
            rows.append(dict(
                id=f"{path.name}:{k}:{span}", source=f"sample/{path.name}", split="test", segment_start=0,
                prefix=prefix, middle=middle, suffix=suffix, span_type=span,
                teacher_input=fim_prompt(prefix, suffix),
                student_input=prefix[-300:] + HOLE + suffix[:300],
            ))
    return rows


def _write_files(cfg, rows: list[dict]) -> None:
    """notebook 02's files.parquet for the synthetic rows: the whole source of each file."""
    names = sorted({r["source"] for r in rows})
    content = [(SAMPLE_DIR / n.split("/", 1)[1]).read_text() for n in names]
    pd.DataFrame({"source": names, "split": "test", "content": content}).to_parquet(cfg.run_dir / "fim" / "files.parquet")


needs_parser = pytest.mark.skipif(load_parser(fetch=False) is None, reason="no MoonScript parser (../shared/tools/moonscript-parser)")


@pytest.fixture(scope="module")
def run_cfg(tmp_path_factory):
    """A tiny run with fim + teacher stages and one 'trained' variant (the untrained student saved)."""
    root = tmp_path_factory.mktemp("artifacts")
    cfg = load_config("tiny", artifacts_dir=str(root), run_name="synthetic", bootstrap_samples=200,
                      bench_examples=3, max_new_tokens=8, max_target_tokens=8, eval_batch_size=4, device="cpu")
    rows = _synthetic_rows()
    test = Dataset.from_list(rows)
    save_stage(DatasetDict(test=test), cfg.run_dir / "fim")
    _write_files(cfg, rows)
    # the 'teacher': right on every third example, a truncated answer elsewhere
    answers = [r["middle"] if i % 3 == 0 else r["middle"][: len(r["middle"]) // 2] for i, r in enumerate(rows)]
    save_stage(DatasetDict(test=test.add_column("teacher_middle", answers)), cfg.run_dir / "teacher")
    model, tok = load_system(cfg, UNTRAINED)
    model.save_pretrained(cfg.run_dir / "models" / "step_by_step")
    tok.save_pretrained(cfg.run_dir / "models" / "step_by_step")
    return cfg


@pytest.fixture(scope="module")
def evaluation(run_cfg):
    return E.evaluate(run_cfg, progress=False)


def test_systems_found(run_cfg):
    assert E.list_systems(run_cfg) == ["teacher", "untrained", "step_by_step"]


def test_report_is_complete(evaluation, run_cfg):
    out = run_cfg.run_dir / "report"
    for name in ("results.csv", "results.json", "results.md", "efficiency.csv", "paired.csv", "predictions.parquet",
                 "metric_bars.png", "by_span_type.png", "quality_vs_latency.png"):
        assert (out / name).stat().st_size > 0, name
    results = pd.read_csv(out / "results.csv")
    systems = ["teacher", "untrained", "step_by_step"]
    # every system x quality metric x span type ('all' included) has a value and an interval around it
    for system in systems:
        for metric in M.METRICS:
            for span in ("all", *SPANS):
                row = results[(results.system == system) & (results.metric == metric) & (results.span_type == span)]
                assert len(row) == 1, (system, metric, span)
                r = row.iloc[0]
                if metric == "parses" and math.isnan(r.value):
                    assert load_parser(fetch=False) is None  # n/a only without a parser
                    continue
                assert r.ci_low - 1e-9 <= r.value <= r.ci_high + 1e-9, (system, metric, span)
        for metric in E.EFFICIENCY_METRICS:
            assert len(results[(results.system == system) & (results.metric == metric)]) == 1, (system, metric)
    data = json.loads((out / "results.json").read_text())
    assert len(data["rows"]) == len(results) and data["n_test_examples"] == 12
    preds = pd.read_parquet(out / "predictions.parquet")
    assert len(preds) == 12 * 3 and set(preds.system) == set(systems)


def test_teacher_scores_match_hand_count(evaluation):
    res = evaluation.results
    em = res[(res.system == "teacher") & (res.metric == "exact_match") & (res.span_type == "all")].value.iloc[0]
    assert em == pytest.approx(4 / 12)  # right on examples 0, 3, 6, 9

def test_speedup_is_teacher_latency_over_the_students(evaluation):
    eff = evaluation.efficiency.set_index("system")
    student = eff.loc["step_by_step"]
    assert math.isfinite(student.speedup) and student.speedup > 0
    assert student.speedup == pytest.approx(eff.loc["teacher", "latency_p50_ms"] / student.latency_p50_ms)
    assert (eff.dtype == eff.dtype.iloc[0]).all()  # every system timed in the same dtype


def test_headline_table_and_paired(evaluation):
    table = evaluation.table()
    lines = table.splitlines()
    assert lines[0].startswith("| system | EM |") and len(lines) == 2 + 3
    assert "step_by_step" in table and "[" in table
    pairs = evaluation.paired
    assert {(a, b) for a, b in zip(pairs.system_a, pairs.system_b)} == {
        ("untrained", "teacher"), ("step_by_step", "teacher"), ("step_by_step", "untrained")}  # every pair, the teacher included
    assert set(pairs.metric) == set(E.PAIRED_METRICS)
    same = pairs[(pairs.system_a == "step_by_step") & (pairs.system_b == "untrained") & (pairs.metric == "edit_similarity")].iloc[0]
    assert same["diff"] == pytest.approx(0.0)  # the saved variant is the untrained student: identical outputs
    assert same.n_groups == 4 and same.n == 12
    assert ("step_by_step vs untrained on edit sim: +0.000 [+0.000, +0.000], no difference detected at this size "
            "(4 files, 12 examples)") in E.paired_summary(pairs)


def test_error_analysis_and_viewer(evaluation):
    preds = evaluation.predictions
    table = E.error_analysis(preds, "teacher")
    assert table["n"].sum() == 12
    modes = E.failure_modes(preds, "teacher")
    assert modes.loc["exact", "total"] == 4 and modes.loc["total", "total"] == 12
    assert "parses" in table.columns
    example = preds.id.iloc[0]
    page = E.example_html(preds, example, "step_by_step")
    assert "true middle" in page and "step_by_step" in page and "edit sim" in page
    viewer = E.side_by_side_viewer(preds, "step_by_step")
    assert "true middle" in viewer.children[-1].value


def test_bench_student_prints_speedup(run_cfg, capsys, monkeypatch):
    monkeypatch.setenv("DISTIL_ARTIFACTS", run_cfg.artifacts_dir)
    cfg = load_config("tiny", run_name="synthetic", max_new_tokens=8, max_target_tokens=8, device="cpu")
    E.bench_student(cfg, examples=2)
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("speedup (step_by_step over the teacher") and out[-1].endswith("x")
    assert float(out[-1].split()[-1].rstrip("x")) > 0
    assert "dtype" in out[1] and "max_new_tokens" in out[1]  # both systems' dtype and token budget are shown
    assert any("teacher" in line for line in out) and any("step_by_step" in line for line in out)


def test_timing_uses_each_systems_quality_token_budget(run_cfg, tmp_path):
    stats = run_cfg.run_dir / "teacher" / "stats.json"
    stats.write_text(json.dumps({"settings": {"max_new_tokens": 5}}))  # what notebook 03 generated the answers with
    try:
        examples = E.test_examples(run_cfg)
        eff = E.measure_efficiency(run_cfg, examples, ["teacher", "untrained"], n=2, progress=False).set_index("system")
    finally:
        stats.unlink()
    assert eff.loc["teacher", "max_new_tokens"] == 5
    assert eff.loc["untrained", "max_new_tokens"] == run_cfg.max_target_tokens
    assert eff.loc["teacher", "dtype"] == eff.loc["untrained", "dtype"]


def test_paired_summary_of_nothing_is_a_sentence(run_cfg):
    empty = E.paired_comparisons(pd.DataFrame(), [], run_cfg)
    assert "no paired comparison" in E.paired_summary(empty)
    assert "no paired comparison" in E.paired_summary(pd.DataFrame())


def test_run_with_only_finetune_reports_what_exists(tmp_path, fim_dataset, capsys):
    cfg = load_config("tiny", artifacts_dir=str(tmp_path), run_name="partial", bootstrap_samples=50, max_target_tokens=8,
                      eval_batch_size=8, device="cpu", max_steps=2, eval_steps=2, logging_steps=2, train_batch_size=4,
                      student_max_input_tokens=128)
    test = Dataset.from_list(_synthetic_rows(2, 2))
    save_stage(DatasetDict(test=test), cfg.run_dir / "fim")
    save_stage(DatasetDict(test=test.add_column("teacher_middle", list(test["middle"]))), cfg.run_dir / "teacher")
    train_variant(cfg, "finetune", data=DatasetDict(train=fim_dataset["train"].select(range(8)), valid=fim_dataset["valid"].select(range(2))))
    assert E.list_systems(cfg) == ["teacher", "untrained", "finetune"]
    note = E.missing_variants_note(cfg)
    assert "finetune_explain, distill, step_by_step" in note
    assert "python -m utils train --variants finetune_explain distill step_by_step" in note
    capsys.readouterr()
    result = E.evaluate(cfg, efficiency=False, progress=False)
    assert "not evaluated: finetune_explain, distill, step_by_step" in capsys.readouterr().out
    assert set(result.predictions.system) == {"teacher", "untrained", "finetune"}
    assert set(zip(result.paired.system_a, result.paired.system_b)) == {("untrained", "teacher"), ("finetune", "teacher"),
                                                                        ("finetune", "untrained")}
    pairs = [(a, b) for a, b in [("step_by_step", "untrained")] if a in E.list_systems(cfg)]  # notebook 07's pairs
    assert "no paired comparison" in E.paired_summary(E.paired_comparisons(result.predictions, pairs, cfg))


@needs_parser
def test_the_true_middle_parses_everywhere_and_a_broken_one_does_not(run_cfg):
    examples = E.test_examples(run_cfg)
    files, parser = load_files(run_cfg), load_parser()
    assert E.true_middle_parses(examples, files, parser) == 1.0  # every sample file parses, so every true middle does
    broken = ["(((\n" if i % 2 == 0 else m for i, m in enumerate(examples["middle"])]
    values = E.parse_values(examples, broken, files, parser)
    assert values == [0.0 if i % 2 == 0 else 1.0 for i in range(len(examples))]
    preds = pd.concat([examples.assign(system=name, prediction=middles) for name, middles in
                       (("truth", list(examples["middle"])), ("broken", broken))], ignore_index=True)
    scored = pd.concat([preds, pd.DataFrame(M.per_example_scores(preds["prediction"].tolist(), preds["middle"].tolist()))], axis=1)
    scored["parses"] = E.parse_values(examples, examples["middle"].tolist(), files, parser) + values
    results = E.score_predictions(scored, run_cfg, metrics=("parses",)).set_index(["system", "span_type"])
    assert results.loc[("truth", "all"), "value"] == 1.0 and results.loc[("broken", "all"), "value"] == 0.5
    assert results.loc[("broken", "all"), "ci_low"] < 0.5 < results.loc[("broken", "all"), "ci_high"]
    outcomes = E.parse_outcomes(scored)
    assert outcomes.loc["truth", "exact"] == 12 and outcomes.loc["broken", "breaks the file"] == 6
    assert E.failure_modes(scored, "broken").loc["breaks the file", "total"] == 6
    contrast = E.parse_contrast(scored, files, parser, ["broken"])
    assert not contrast["breaks the file"]["result"].ok and "line " in E.parse_contrast_html(contrast)


@needs_parser
def test_parses_is_in_the_report(evaluation, run_cfg):
    results = pd.read_csv(run_cfg.run_dir / "report" / "results.csv")
    teacher = results[(results.system == "teacher") & (results.metric == "parses") & (results.span_type == "all")].value.iloc[0]
    assert 0 <= teacher <= 1 and "parses" in evaluation.table().splitlines()[0]


def test_without_a_parser_parses_reads_na_and_the_rest_is_unchanged(run_cfg, evaluation, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr("utils.fim.load_parser", lambda *a, **k: None)
    examples = E.test_examples(run_cfg)
    preds = E.collect_predictions(run_cfg, examples, ["teacher"], progress=False)
    assert "no MoonScript parser" in capsys.readouterr().out and preds["parses"].isna().all()
    results = E.score_predictions(preds, run_cfg)
    parses = results[results.metric == "parses"]
    assert len(parses) == 4 and parses.value.isna().all()
    before = evaluation.results
    for metric in ("exact_match", "edit_similarity", "chrf"):
        a = results[(results.metric == metric)].set_index("span_type").value
        b = before[(before.system == "teacher") & (before.metric == metric)].set_index("span_type").value
        assert (a == b).all(), metric
    table = E.headline_table(results)
    header, _, teacher = table.splitlines()
    cells = dict(zip(header.strip("| ").split(" | "), teacher.strip("| ").split(" | ")))
    assert cells["parses"] == "n/a"
    assert set(E.parse_outcomes(preds).columns) <= {"exact", "differs (not judged)"}
    assert E.parse_contrast(preds, None, None) == {} and "no parser" in E.parse_contrast_html({})


def _paired_row(low: float, high: float, diff: float) -> dict:
    return dict(system_a="distill", system_b="finetune", metric="edit_similarity", diff=diff, ci_low=low, ci_high=high,
                n=40, n_groups=4)


def test_paired_verdict_names_a_difference_only_when_the_interval_excludes_zero():
    assert E.paired_verdict(_paired_row(0.02, 0.10, 0.06)) == "distill scores higher than finetune on edit sim by 0.060 [0.020, 0.100]"
    assert E.paired_verdict(_paired_row(-0.10, -0.02, -0.06)) == "finetune scores higher than distill on edit sim by 0.060 [0.020, 0.100]"
    spans = E.paired_verdict(_paired_row(-0.01, 0.10, 0.05))
    assert spans == ("distill vs finetune on edit sim: +0.050 [-0.010, +0.100], no difference detected at this size "
                     "(4 files, 40 examples)")
    assert "higher" not in spans and "better" not in spans


def _curve_results() -> pd.DataFrame:
    rows = [("teacher", 0.9), ("untrained", 0.1), ("distill@25", 0.2), ("distill@50", 0.3), ("distill", 0.5), ("step_by_step", 0.4)]
    return pd.DataFrame([dict(system=s, kind="quality", metric="edit_similarity", span_type="all", n=12, value=v,
                              ci_low=v - 0.05, ci_high=v + 0.05) for s, v in rows])


def test_data_curve_plots_what_exists_and_names_what_is_missing(tmp_path):
    results = _curve_results()
    points = E.curve_points(results)
    assert points[points.variant == "distill"].percent.tolist() == [25, 50, 100]
    cfg = load_config("tiny")
    assert E.missing_curve_points(results, cfg) == [
        "finetune", "finetune_explain", "finetune@50", "finetune_explain@50", "step_by_step@50",
        "finetune@25", "finetune_explain@25", "step_by_step@25"]
    assert E.data_curve_note(results, cfg).startswith("8 of 12 data-curve points are not trained")
    fig = E.plot_data_curve(results, "edit_similarity", tmp_path / "curve.png")
    assert (tmp_path / "curve.png").stat().st_size > 0 and len(fig.axes[0].get_lines()) >= 2
    summary = E.data_curve_summary(results)
    assert "- distill: edit sim 0.200 [0.150, 0.250] with 25% of the data, 0.500 [0.450, 0.550] with 100%: the intervals do not overlap" in summary
    assert "- step_by_step: one point only" in summary
    empty = E.plot_data_curve(results[results.system == "teacher"], "edit_similarity", tmp_path / "none.png")
    assert "no trained model" in empty.axes[0].texts[0].get_text()


def test_wrong_task_column_and_failure_mode(evaluation):
    preds = evaluation.predictions
    assert "wrong_task" in preds and preds["wrong_task"].isin([0.0, 1.0]).all()
    wide = E.results_wide(evaluation.results)
    assert "wrong_task" in wide.columns and "[" in wide.loc["teacher", "wrong_task"]
    assert "wrong task" in evaluation.table().splitlines()[0]
    prose = preds[preds.system == "teacher"].head(2).assign(prediction="This loop adds every price to the total.",
                                                            exact_match=0.0, wrong_task=1.0)
    assert E.failure_modes(prose, "teacher").loc["answers with prose", "total"] == 2
    examples = pd.DataFrame({"rationale": ["The loop sums the prices of the items in the cart.", None]})
    assert E.wrong_task_values(["sums the prices of the items", "x = 1"], examples) == [1.0, 0.0]


def test_headline_without_timings_and_sentences_from_results(evaluation):
    quality = E.headline_table(evaluation.results, timings=False)
    assert "p50 ms" not in quality and "speedup" not in quality and "params" in quality
    lines = E.span_type_summary(evaluation.results).splitlines()
    assert len(lines) == 3 and lines[0].startswith("- teacher: ")
    assert "teacher" in E.size_note(evaluation.efficiency) and "parameters" in E.size_note(evaluation.efficiency)
