"""Notebook 06: every system on the test split, quality beside speed and size, and the report.

Systems: `teacher` (its answers from notebook 03, `teacher_middle`), `untrained` (the
student before any training, with the code-safe tokenizer so that it is at least able to
write code), and every trained variant found under `artifacts/<run>/models/` (05).

Report (artifacts/<run>/report/): results.csv and results.json (one row per system x
metric x span type, 'all' included, with a 95% interval from a bootstrap over source files), efficiency.csv,
paired.csv, predictions.parquet (one row per example x system with per-example scores),
results.md (the headline table) and PNG charts.

`parses` is the share of test rows whose whole file, with the system's middle in place of the true
one, still parses (MoonScript's own parser through `utils.fim.files_parse`); without a parser it is
NaN in the CSV and "n/a" in the tables, and everything else is unchanged.
"""

from __future__ import annotations

import dataclasses
import gc
import html
import itertools
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import psutil
import torch
from huggingface_hub import snapshot_download
from tqdm.auto import tqdm

from . import metrics as M
from .artifacts import load_merged, load_stage, relative, save_figure, stage_dir, write_json
from .config import VARIANTS, Config, UserError
from .fim import files_parse, parse_context
from .models import load_teacher, pick_device, pick_dtype, resolve, sync, torch_threads
from .parser import NO_PARSER_HINT, Parser
from .student import UNTRAINED, generate_middles, load_system, variant_dir
from .teacher import generate_middles as teacher_generate_middles
from .training import parse_variant_name, variant_names

if TYPE_CHECKING:
    import ipywidgets
    from matplotlib.figure import Figure

TEACHER = "teacher"

QUALITY_METRICS = tuple(M.METRICS)
EFFICIENCY_METRICS = (
    "params_m", "size_on_disk_mb", "peak_memory_mb", "latency_p50_ms", "latency_p95_ms", "throughput_per_s", "speedup",
    "max_new_tokens",
)
HEADLINE_METRICS = ("exact_match", "exact_match_ws", "edit_similarity", "chrf", "bleu", "first_line_em", "empty_rate", "parses",
                    "wrong_task")
TIMING_METRICS = ("latency_p50_ms", "speedup")  # the headline's timing columns: never beside quality in a compared cell
REBUILD_FIELDS = ("source", "segment_start", "prefix", "middle", "suffix")  # what `fim.rebuild` needs of a row
PAIRED_METRICS = ("edit_similarity", "exact_match", "chrf", "parses")
LENGTH_BUCKETS = ((1, 1, "1 line"), (2, 3, "2-3 lines"), (4, 10**9, "4+ lines"))


# --------------------------------------------------------------------------- systems and data


def test_examples(cfg: Config, split: str = "test") -> pd.DataFrame:
    """The test split with the teacher's answers (03), plus middle length columns for error analysis."""
    ds = load_merged(cfg, require=("teacher_middle",))
    if split not in ds:
        raise UserError(f"the FIM dataset has no {split!r} split: re-run notebook 02_fim_segmentation.ipynb")
    df = ds[split].to_pandas()
    if not len(df):
        raise UserError(f"the {split!r} split is empty: use a larger corpus or max_examples in notebook 02")
    df["teacher_middle"] = df["teacher_middle"].fillna("").astype(str)
    df["middle_lines"] = df["middle"].map(lambda m: len(m.rstrip("\n").split("\n")))
    df["middle_chars"] = df["middle"].str.len()
    df["length_bucket"] = df["middle_lines"].map(length_bucket)
    return df.reset_index(drop=True)


def length_bucket(lines: int) -> str:
    """The bucket label ('1 line', '2-3 lines', '4+ lines') of a middle of `lines` lines."""
    return next(label for low, high, label in LENGTH_BUCKETS if low <= lines <= high)


def find_variants(cfg: Config) -> list[str]:
    """Trained student variants under artifacts/<run>/models/ (those of `training.variant_names(cfg)` first, in order)."""
    root = stage_dir(cfg, "models")
    found = sorted(p.name for p in root.glob("*") if (p / "config.json").exists()) if root.exists() else []
    expected = variant_names(cfg)
    return [v for v in expected if v in found] + [v for v in found if v not in expected]


def is_curve_point(system: str) -> bool:
    """True for a data-curve point (`distill@25`): a variant trained on part of the training data."""
    return system not in (TEACHER, UNTRAINED) and parse_variant_name(system)[1] < 1.0


def timed_systems(systems: Sequence[str]) -> list[str]:
    """The systems whose speed is measured: all but the data-curve points (they have their variant's architecture and size)."""
    return [s for s in systems if not is_curve_point(s)]


def list_systems(cfg: Config) -> list[str]:
    """Every system this run can evaluate: teacher, untrained student, the trained variants that exist."""
    return [TEACHER, UNTRAINED, *find_variants(cfg)]


def missing_variants_note(cfg: Config) -> str:
    """A sentence naming the variants of `cfg.variants` not trained in this run, and how to train them ('' when none)."""
    missing = [v for v in cfg.variants if v not in find_variants(cfg)]
    if not missing:
        return ""
    where = relative(stage_dir(cfg, "models"))
    return (f"not evaluated: {', '.join(missing)} (no trained model under {where}/): run notebook 05_step_by_step_training.ipynb "
            f"or `python -m utils train --variants {' '.join(missing)}` (same profile and run_name), then this notebook again")


def predict_system(cfg: Config, system: str, examples: pd.DataFrame) -> list[str]:
    """Middles predicted by `system` for every row of `examples` (the teacher's come from 03)."""
    if system == TEACHER:
        return examples["teacher_middle"].tolist()
    model, tok = load_system(cfg, system)
    try:
        return generate_middles(model, tok, examples["student_input"].tolist(), cfg)
    finally:
        del model
        gc.collect()


def parse_values(examples: pd.DataFrame, middles: Sequence[str], files: dict[str, str] | None,
                 parser: Parser | None) -> list[float]:
    """Per example: 1.0 if its whole file, with `middles[i]` in place of the true middle, parses, else 0.0 (NaN: not judged)."""
    if not set(REBUILD_FIELDS) <= set(examples.columns):
        return [float("nan")] * len(examples)
    rows = examples[list(REBUILD_FIELDS)].to_dict("records")
    return [float("nan") if r is None else float(r.ok) for r in files_parse(rows, list(middles), files, parser)]


def true_middle_parses(examples: pd.DataFrame, files: dict[str, str] | None, parser: Parser | None) -> float:
    """The parse rate of the true middles themselves: 1.0 when every test file parses (NaN: not judged)."""
    values = [v for v in parse_values(examples, examples["middle"].tolist(), files, parser) if not np.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


def wrong_task_values(middles: Sequence[str], examples: pd.DataFrame) -> list[float]:
    """Per example: 1.0 when the middle answers with prose (`metrics.is_prose`, given the example's rationale from 04 if any)."""
    rationales = examples["rationale"].tolist() if "rationale" in examples else [None] * len(middles)
    return [float(M.is_prose(m, r if isinstance(r, str) else None)) for m, r in zip(middles, rationales)]


def collect_predictions(cfg: Config, examples: pd.DataFrame, systems: Sequence[str] | None = None, progress: bool = True) -> pd.DataFrame:
    """Long table: one row per example x system with the prediction and its per-example scores (`parses` included)."""
    systems = list(systems or list_systems(cfg))
    files, parser = parse_context(cfg)
    if parser is None:
        print(NO_PARSER_HINT)
    parts = [scored_predictions(examples, system, predict_system(cfg, system, examples), files, parser)
             for system in tqdm(systems, desc="predicting", unit="system", disable=not progress)]
    return pd.concat(parts, ignore_index=True)


def scored_predictions(examples: pd.DataFrame, system: str, preds: Sequence[str], files: dict[str, str] | None,
                       parser: Parser | None) -> pd.DataFrame:
    """One system's part of `collect_predictions`: a row per example with `preds` and its per-example scores (`parses` included)."""
    keep = [c for c in ("id", "source", "span_type", "segment_start", "prefix", "middle", "suffix", "middle_lines", "middle_chars",
                        "length_bucket") if c in examples]
    part = examples[keep].copy()
    part.insert(0, "system", system)
    part["prediction"] = list(preds)
    for name, values in M.per_example_scores(list(preds), examples["middle"].tolist()).items():
        part[name] = values
    part["parses"] = parse_values(examples, preds, files, parser)
    part["wrong_task"] = wrong_task_values(preds, examples)
    return part


# --------------------------------------------------------------------------- quality


def score_predictions(predictions: pd.DataFrame, cfg: Config, metrics: Sequence[str] = QUALITY_METRICS) -> pd.DataFrame:
    """One row per system x metric x span type ('all' included): value and 95% interval, bootstrapped by source file."""
    rows = []
    for system, part in predictions.groupby("system", sort=False):
        precomputed = {m: part[m].tolist() for m in M.PRECOMPUTED if m in part}
        for row in M.score_system(part["prediction"].tolist(), part["middle"].tolist(), part["span_type"].tolist(),
                                  metrics, n_samples=cfg.bootstrap_samples, seed=cfg.seed, precomputed=precomputed,
                                  groups=_files(part)):
            rows.append({"system": system, "kind": "quality", **row})
    return pd.DataFrame(rows)


def _files(part: pd.DataFrame) -> list[str] | None:
    """The source file of each row: the bootstrap's clusters (None without a source column: examples as independent)."""
    return part["source"].tolist() if "source" in part else None


def default_pairs(systems: Sequence[str]) -> list[tuple[str, str]]:
    """Every pair of the compared systems (teacher included, data-curve points left out), the later one first: (A, B) for A - B."""
    main = [s for s in systems if not is_curve_point(s)]
    return [(a, b) for b, a in itertools.combinations(main, 2)]


def _paired_stats(wide: pd.DataFrame, system: str, metric: str, refs: list[str]) -> np.ndarray:
    """Sufficient statistics of `system` on `metric`, from its predictions or its precomputed per-example values."""
    if metric in M.PRECOMPUTED:
        return M.value_stats(wide[(metric, system)].tolist())
    return M.sufficient_stats(metric, wide[("prediction", system)].tolist(), refs)


def paired_comparisons(predictions: pd.DataFrame, pairs: Sequence[tuple[str, str]], cfg: Config,
                       metrics: Sequence[str] = PAIRED_METRICS) -> pd.DataFrame:
    """Paired bootstrap A - B over source files (whole files resampled) for each pair and metric, with a verdict."""
    if not len(pairs) or not len(predictions):
        return pd.DataFrame(columns=["system_a", "system_b", "metric", "diff", "ci_low", "ci_high", "p_value", "verdict"])
    metrics = [m for m in metrics if m not in M.PRECOMPUTED or m in predictions]
    values = ["prediction", *[m for m in metrics if m in M.PRECOMPUTED]]
    wide = predictions.pivot(index="id", columns="system", values=values)
    first = predictions.drop_duplicates("id").set_index("id").loc[wide.index]
    refs, files = first["middle"].tolist(), _files(first)
    rows = []
    for a, b in pairs:
        for metric in metrics:
            res = M.paired_bootstrap_stats(metric, _paired_stats(wide, a, metric, refs), _paired_stats(wide, b, metric, refs),
                                           cfg.bootstrap_samples, cfg.seed, groups=files)
            row = {"system_a": a, "system_b": b, **res}
            rows.append({**row, "verdict": paired_verdict(row)})
    return pd.DataFrame(rows)


def _signed(value: float, metric: str) -> str:
    """A difference in its metric's format with its sign (chrF on 0-100: one decimal; shares: three, or two significant
    digits when a non-zero share would round to 0.000)."""
    if metric in ("chrf", "bleu"):
        return f"{value:+.1f}"
    return f"{value:+.2g}" if 0 < abs(value) < 0.0005 else f"{value:+.3f}"


def paired_verdict(row: dict | pd.Series) -> str:
    """The sentence a paired difference allows: a named difference only when its interval excludes zero."""
    a, b, metric, d, low, high = (row[k] for k in ("system_a", "system_b", "metric", "diff", "ci_low", "ci_high"))
    label = M.METRICS[metric][0]
    if pd.isna(d) or pd.isna(low):
        return f"{a} vs {b} on {label}: not measured (no values)"
    if low > 0 or high < 0:
        hi, lo, d, low, high = (a, b, d, low, high) if low > 0 else (b, a, -d, -high, -low)
        return f"{hi} scores higher than {lo} on {label} by {_signed(d, metric)[1:]} [{_signed(low, metric)[1:]}, {_signed(high, metric)[1:]}]"
    n_files = row["n_groups"] if "n_groups" in row and not pd.isna(row["n_groups"]) else "?"
    return (f"{a} vs {b} on {label}: {_signed(d, metric)} [{_signed(low, metric)}, {_signed(high, metric)}], "
            f"no difference detected at this size ({n_files} files, {row['n']} examples)")


def paired_summary(paired: pd.DataFrame, metric: str = "edit_similarity") -> str:
    """One plain sentence per compared pair on `metric` (`paired_verdict`): a difference only where the interval excludes zero."""
    if "metric" not in paired or not (paired.metric == metric).any():
        return f"no paired comparison on {M.METRICS[metric][0]}: fewer than two of the compared systems were evaluated"
    return "\n".join(paired_verdict(r) for _, r in paired[paired.metric == metric].iterrows())


# --------------------------------------------------------------------------- efficiency


class _PeakRSS:
    """Peak resident memory of this process above a baseline, sampled by a background thread."""

    def __init__(self, interval: float = 0.002):
        self._proc = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self.baseline = self.peak = self._proc.memory_info().rss

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            self._stop.wait(self._interval)

    def __enter__(self) -> "_PeakRSS":
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)

    @property
    def delta(self) -> int:
        """Peak bytes above the baseline."""
        return self.peak - self.baseline


def size_on_disk(name_or_path: str) -> int | None:
    """Bytes of a model's weight files (local folder, tiny model, or a hub model in the local cache)."""
    try:
        path = Path(resolve(name_or_path))
    except UserError:
        return None
    if not path.exists():
        try:
            path = Path(snapshot_download(name_or_path, local_files_only=True))
        except Exception:  # not cached: unknown rather than wrong
            return None
    files = [f for f in path.rglob("*") if f.suffix in (".safetensors", ".bin", ".pt", ".pth", ".gguf")]
    return sum(f.stat().st_size for f in files) or None


def time_generation(generate: Callable[[list[str]], list[str]], inputs: Sequence[str], device: torch.device,
                    batch_size: int) -> dict:
    """Latency of each completion alone (batch of 1, after one warm-up) and batched throughput."""
    inputs = list(inputs)
    generate(inputs[:1])  # warm-up: first-call allocations and kernels
    latencies = []
    for text in inputs:
        sync(device)
        start = time.perf_counter()
        generate([text])
        sync(device)
        latencies.append(time.perf_counter() - start)
    sync(device)
    start = time.perf_counter()
    for i in range(0, len(inputs), batch_size):
        generate(inputs[i : i + batch_size])
    sync(device)
    total = time.perf_counter() - start
    return {"latencies_s": latencies, "throughput_per_s": len(inputs) / total if total > 0 else float("nan")}


def teacher_token_budget(cfg: Config) -> int:
    """max_new_tokens the teacher had when notebook 03 wrote the answers scored here (its stats.json), else cfg's."""
    stats = stage_dir(cfg, "teacher") / "stats.json"
    try:
        return int(json.loads(stats.read_text())["settings"]["max_new_tokens"])
    except (OSError, ValueError, KeyError, TypeError):
        return cfg.max_new_tokens


def measure_system(cfg: Config, system: str, examples: pd.DataFrame, n: int | None = None) -> dict:
    """Parameters, size on disk, peak memory, latency p50/p95 and throughput of one system, like for like.

    Every system is timed in the same dtype (cfg.dtype, as the teacher is loaded), at the same batch
    size for throughput, with the token budget its quality numbers had: the teacher's from notebook
    03's settings, a student's from its generation config (cfg.max_target_tokens).
    Peak memory is torch.cuda.max_memory_allocated on a GPU; on CPU it is the peak
    resident set size (RSS, psutil, sampled every 2 ms) above the level before loading
    the model, so it includes weights, activations and allocator overhead, and is an
    estimate (freed memory the allocator kept from earlier models can make it lower).
    """
    device = pick_device(cfg.device)
    n = min(n or cfg.bench_examples, len(examples))
    rows = examples.iloc[:n]
    is_teacher = system == TEACHER
    inputs = rows["teacher_input" if is_teacher else "student_input"].tolist()
    threads = cfg.bench_threads if device.type == "cpu" else None
    # the teacher's throughput is taken at the students' batch size, so that both are timed the same way
    run_cfg = dataclasses.replace(cfg, teacher_batch_size=cfg.eval_batch_size, torch_threads=threads,
                                  max_new_tokens=teacher_token_budget(cfg) if is_teacher else cfg.max_new_tokens)
    source = cfg.teacher if is_teacher else cfg.student if system == UNTRAINED else str(variant_dir(cfg, system))
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        base_alloc = torch.cuda.memory_allocated()
    with _PeakRSS() as rss:
        if is_teacher:
            model, tok = load_teacher(cfg.teacher, device=str(device), dtype=cfg.dtype)
            fn, budget = teacher_generate_middles, run_cfg.max_new_tokens
        else:
            model, tok = load_system(cfg, system, device=str(device), dtype=cfg.dtype)
            fn, budget = generate_middles, model.generation_config.max_new_tokens
        with torch_threads(threads):
            timing = time_generation(lambda batch: fn(model, tok, batch, run_cfg), inputs, device, cfg.eval_batch_size)
    if device.type == "cuda":
        peak, method = torch.cuda.max_memory_allocated() - base_alloc, "torch.cuda.max_memory_allocated"
    else:
        peak, method = rss.delta, "RSS delta (psutil, sampled)"
    params = sum(p.numel() for p in model.parameters())
    dtype = str(next(model.parameters()).dtype).replace("torch.", "")
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    disk = size_on_disk(source)
    del model
    gc.collect()
    lat = np.asarray(timing["latencies_s"]) * 1000
    return {
        "system": system,
        "device": str(device),
        "dtype": dtype,
        "threads": threads or torch.get_num_threads(),
        "max_new_tokens": int(budget),
        "n": n,
        "params_m": params / 1e6,
        "weights_mb": weight_bytes / 2**20,
        "size_on_disk_mb": disk / 2**20 if disk else float("nan"),
        "peak_memory_mb": peak / 2**20,
        "memory_method": method,
        "latency_p50_ms": float(np.percentile(lat, 50)),
        "latency_p95_ms": float(np.percentile(lat, 95)),
        "throughput_per_s": timing["throughput_per_s"],
        "latencies_ms": lat.tolist(),
    }


def measure_efficiency(cfg: Config, examples: pd.DataFrame, systems: Sequence[str] | None = None,
                       n: int | None = None, progress: bool = True) -> pd.DataFrame:
    """`measure_system` for each system on the same examples and hardware; speedup = teacher p50 / system p50 (>1: faster than the teacher)."""
    systems = list(systems or list_systems(cfg))
    rows = [measure_system(cfg, s, examples, n) for s in tqdm(systems, desc="timing", unit="system", disable=not progress)]
    eff = pd.DataFrame(rows)
    teacher_p50 = eff.loc[eff.system == TEACHER, "latency_p50_ms"]
    eff["speedup"] = teacher_p50.iloc[0] / eff["latency_p50_ms"] if len(teacher_p50) else float("nan")
    return eff


def efficiency_rows(eff: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """Efficiency figures as results rows (span 'all'); latency percentiles get bootstrap intervals."""
    rows = []
    rng_seed = cfg.seed
    for _, r in eff.iterrows():
        lat = np.asarray(r["latencies_ms"], dtype=float)
        for metric in EFFICIENCY_METRICS:
            low = high = float("nan")
            if metric in ("latency_p50_ms", "latency_p95_ms") and len(lat):
                q = 50 if metric == "latency_p50_ms" else 95
                rng = np.random.default_rng(rng_seed)
                boot = np.percentile(lat[rng.integers(0, len(lat), (cfg.bootstrap_samples, len(lat)))], q, axis=1)
                low, high = (float(x) for x in np.percentile(boot, [2.5, 97.5]))
            rows.append(dict(system=r["system"], kind="efficiency", metric=metric, span_type="all", n=int(r["n"]),
                             value=float(r[metric]), ci_low=low, ci_high=high))
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- tables and charts


def _fmt(value: float, metric: str) -> str:
    """A table cell: the value in its metric's format; "n/a" for a parse rate nobody could judge, "-" otherwise."""
    if pd.isna(value):
        return "n/a" if metric in M.PRECOMPUTED else "-"
    if metric in ("chrf", "bleu"):
        return f"{value:.1f}"
    if metric.endswith("_ms") or metric in ("size_on_disk_mb", "peak_memory_mb"):
        return f"{value:.1f}"
    if metric == "speedup":
        return f"{value:.2f}x"
    if metric == "params_m":
        return f"{value:.1f}M" if value >= 1 else f"{value:.2f}M"
    return f"{value:.3f}"


def results_wide(results: pd.DataFrame, span_type: str = "all", with_ci: bool = True) -> pd.DataFrame:
    """Systems as rows, metrics as columns, cells 'value [low, high]' (as strings, for display)."""
    part = results[results.span_type == span_type]
    systems = list(dict.fromkeys(part.system))
    metrics = list(dict.fromkeys(part.metric))
    table = pd.DataFrame(index=systems, columns=metrics, dtype=object)
    for _, r in part.iterrows():
        cell = _fmt(r.value, r.metric)
        if with_ci and not pd.isna(r.ci_low) and r.metric in M.METRICS:
            cell += f" [{_fmt(r.ci_low, r.metric)}, {_fmt(r.ci_high, r.metric)}]"
        table.loc[r.system, r.metric] = cell
    table.index.name = "system"
    return table.fillna("-")


def headline_table(results: pd.DataFrame, timings: bool = True) -> str:
    """Markdown table of the headline results (for the README): quality with 95% CIs by file beside size (and speed)."""
    wanted = (*HEADLINE_METRICS, "params_m", *(TIMING_METRICS if timings else ()))
    metrics = [m for m in wanted if m in set(results.metric)]
    wide = results_wide(results[results.metric.isin(metrics)], with_ci=True)
    labels = {**{m: M.METRICS[m][0] for m in M.METRICS}, "params_m": "params", "latency_p50_ms": "p50 ms", "speedup": "speedup"}
    wide = wide[metrics]
    header = "| system | " + " | ".join(labels[m] for m in metrics) + " |"
    lines = [header, "|" + " --- |" * (len(metrics) + 1)]
    for system, row in wide.iterrows():
        lines.append(f"| {system} | " + " | ".join(str(row[m]) for m in metrics) + " |")
    return "\n".join(lines)


def plot_metric_bars(results: pd.DataFrame, metrics: Sequence[str] = HEADLINE_METRICS, span_type: str = "all", path: str | Path | None = None) -> "Figure":
    """One panel per metric: a bar per system with its 95% interval as an error bar."""
    import matplotlib.pyplot as plt

    part = results[(results.span_type == span_type) & results.metric.isin(metrics)]
    metrics = [m for m in metrics if m in set(part.metric)]
    cols = min(4, len(metrics))
    nrows = -(-len(metrics) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.6 * cols, 3.0 * nrows), squeeze=False)
    for ax, metric in zip(axes.ravel(), metrics):
        m = part[part.metric == metric]
        x = np.arange(len(m))
        err = np.vstack([(m.value - m.ci_low).clip(lower=0), (m.ci_high - m.value).clip(lower=0)])
        ax.bar(x, m.value, yerr=err, capsize=3, color=[f"C{i}" for i in range(len(m))])
        ax.set_xticks(x, m.system, rotation=35, ha="right", fontsize=8)
        top = np.nanmax(np.r_[m.value.to_numpy(float), m.ci_high.to_numpy(float), 0.0])
        ax.set_ylim(0, top * 1.15 if top > 0 else (100 if metric in ("chrf", "bleu") else 1))  # all-zero panels: full scale
        ax.set_title(M.METRICS[metric][0] + ("" if M.METRICS[metric][1] else " (lower is better)" if metric == "empty_rate" else ""), fontsize=10)
    for ax in axes.ravel()[len(metrics):]:
        ax.axis("off")
    fig.suptitle(f"Test set, span type: {span_type} (bars: 95% intervals, bootstrap over files)", fontsize=11)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    return fig


def plot_by_span_type(results: pd.DataFrame, metric: str = "edit_similarity", path: str | Path | None = None) -> "Figure":
    """Grouped bars: `metric` per span type, one bar per system, with 95% intervals."""
    import matplotlib.pyplot as plt

    part = results[(results.metric == metric) & (results.span_type != "all")]
    spans = sorted(set(part.span_type))
    systems = list(dict.fromkeys(part.system))
    fig, ax = plt.subplots(figsize=(1.6 + 1.6 * len(spans) * max(1, len(systems)) / 3, 3.4))
    width = 0.8 / max(len(systems), 1)
    for i, system in enumerate(systems):
        m = part[part.system == system].set_index("span_type").reindex(spans)
        err = np.vstack([(m.value - m.ci_low).clip(lower=0), (m.ci_high - m.value).clip(lower=0)])
        ax.bar(np.arange(len(spans)) + i * width, m.value, width, yerr=err, capsize=2, label=system, color=f"C{i}")
    ax.set_xticks(np.arange(len(spans)) + width * (len(systems) - 1) / 2, spans)
    ax.set_ylabel(M.METRICS[metric][0])
    ax.set_title(f"{M.METRICS[metric][0]} by span type (95% intervals)", fontsize=10)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    return fig


def plot_quality_vs_latency(results: pd.DataFrame, metric: str = "edit_similarity", path: str | Path | None = None) -> "Figure":
    """Scatter: quality (with its interval) against median latency per completion, one point per system."""
    import matplotlib.pyplot as plt

    allr = results[results.span_type == "all"]
    q = allr[allr.metric == metric].set_index("system")
    lat = allr[allr.metric == "latency_p50_ms"].set_index("system")
    systems = [s for s in q.index if s in lat.index]
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for i, s in enumerate(systems):
        y, lo, hi = q.loc[s, "value"], q.loc[s, "ci_low"], q.loc[s, "ci_high"]
        x, xlo, xhi = lat.loc[s, "value"], lat.loc[s, "ci_low"], lat.loc[s, "ci_high"]
        xerr = None if pd.isna(xlo) else [[max(x - xlo, 0)], [max(xhi - x, 0)]]
        ax.errorbar(x, y, yerr=[[max(y - lo, 0)], [max(hi - y, 0)]], xerr=xerr, fmt="o", capsize=3, color=f"C{i}", label=s)
        ax.annotate(s, (x, y), textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.set_xscale("log")
    from matplotlib.ticker import FuncFormatter

    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # 20, 50, 100 rather than 2x10^1
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if f"{v:g}"[0] in "25" else ""))
    ax.set_xlabel("median latency per completion (ms, log scale)")
    ax.set_ylabel(M.METRICS[metric][0])
    ax.set_title("Quality against latency (same examples, same hardware)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    return fig


# --------------------------------------------------------------------------- the data curve


def curve_points(results: pd.DataFrame, metric: str = "edit_similarity") -> pd.DataFrame:
    """Rows {variant, percent, system, value, ci_low, ci_high}: `metric` of every trained model by share of training data."""
    part = results[(results.metric == metric) & (results.span_type == "all") & ~results.system.isin([TEACHER, UNTRAINED])]
    rows = []
    for _, r in part.iterrows():
        variant, fraction = parse_variant_name(r.system)
        rows.append(dict(variant=variant, percent=round(fraction * 100), system=r.system, value=r.value, ci_low=r.ci_low, ci_high=r.ci_high))
    columns = ["variant", "percent", "system", "value", "ci_low", "ci_high"]
    return pd.DataFrame(rows, columns=columns).sort_values(["variant", "percent"], kind="stable").reset_index(drop=True)


def missing_curve_points(results: pd.DataFrame, cfg: Config) -> list[str]:
    """The points notebook 05 trains (`training.variant_names`: each variant, then `<variant>@<percent>`) with no results."""
    present = set(results.system)
    return [name for name in variant_names(cfg) if name not in present]


def data_curve_note(results: pd.DataFrame, cfg: Config) -> str:
    """A sentence naming the missing data-curve points ('' when the curve is complete)."""
    missing = missing_curve_points(results, cfg)
    if not missing:
        return ""
    return (f"{len(missing)} of {len(variant_names(cfg))} data-curve points are not trained in this run "
            f"({', '.join(missing)}): the curve shows the points that exist")


def plot_data_curve(results: pd.DataFrame, metric: str = "edit_similarity", path: str | Path | None = None) -> "Figure":
    """`metric` against the share of training data, one line per variant, 95% intervals by file as error bars."""
    import matplotlib.pyplot as plt

    points = curve_points(results, metric)
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for i, (variant, part) in enumerate(points.groupby("variant", sort=False)):
        err = np.vstack([(part.value - part.ci_low).clip(lower=0), (part.ci_high - part.value).clip(lower=0)])
        ax.errorbar(part.percent, part.value, yerr=err, fmt="o-", capsize=3, color=f"C{i}", label=variant)
    if not len(points):
        ax.text(0.5, 0.5, "no trained model in this run", ha="center", va="center", transform=ax.transAxes)
    percents = sorted(set(points.percent)) or [100]
    ax.set_xticks(percents, [f"{p}%" for p in percents])
    ax.set_xlim(0, 110)
    ax.set_xlabel("training examples used (% of the train split)")
    ax.set_ylabel(M.METRICS[metric][0])
    ax.set_title(f"{M.METRICS[metric][0]} against training data (95% intervals by file)", fontsize=10)
    if len(points):
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    return fig


def _ci(value: float, low: float, high: float, metric: str) -> str:
    """'value [low, high]' in the metric's format."""
    return f"{_fmt(value, metric)} [{_fmt(low, metric)}, {_fmt(high, metric)}]"


def data_curve_summary(results: pd.DataFrame, metric: str = "edit_similarity") -> str:
    """One sentence per variant read from the curve: its score at the smallest and the largest share of data, and whether the intervals overlap."""
    points = curve_points(results, metric)
    label = M.METRICS[metric][0]
    lines = []
    for variant, part in points.groupby("variant", sort=False):
        lo, hi = part.iloc[0], part.iloc[-1]
        if len(part) < 2:
            lines.append(f"- {variant}: one point only ({lo.percent}% of the data, {label} {_ci(lo.value, lo.ci_low, lo.ci_high, metric)})")
            continue
        apart = lo.ci_high < hi.ci_low or hi.ci_high < lo.ci_low
        verdict = ("the intervals do not overlap" if apart else
                   "the intervals overlap, so this test set does not show the change")
        lines.append(f"- {variant}: {label} {_ci(lo.value, lo.ci_low, lo.ci_high, metric)} with {lo.percent}% of the data, "
                     f"{_ci(hi.value, hi.ci_low, hi.ci_high, metric)} with {hi.percent}%: {verdict}")
    return "\n".join(lines) or f"no trained model in this run: no data curve on {label}"


# --------------------------------------------------------------------------- sentences read from the results


def span_type_summary(results: pd.DataFrame, metric: str = "edit_similarity") -> str:
    """One line per system: its span types from highest to lowest `metric` (point estimates with 95% intervals by file)."""
    part = results[(results.metric == metric) & (results.span_type != "all")]
    lines = []
    for system, rows in part.groupby("system", sort=False):
        rows = rows.dropna(subset=["value"]).sort_values("value", ascending=False, kind="stable")
        cells = ", ".join(f"{r.span_type} {_ci(r.value, r.ci_low, r.ci_high, metric)}" for r in rows.itertuples())
        lines.append(f"- {system}: {cells}")
    return "\n".join(lines)


def size_note(efficiency: pd.DataFrame) -> str:
    """The tiny-profile caveat, with the parameter counts of this run's teacher and untrained student."""
    params = efficiency.set_index("system")["params_m"] if len(efficiency) else pd.Series(dtype=float)
    sizes = ", ".join(f"{s} {_fmt(params[s], 'params_m')} parameters" for s in (TEACHER, UNTRAINED) if s in params)
    return (f"The models measured here ({sizes or 'sizes not measured'}) are not santacoder (1.1B) and flan-t5-small (77M): "
            "their relative speed says nothing about the real pair. Run with `profile=\"colab\"` for the real figures; the code is the same.")


# --------------------------------------------------------------------------- error analysis and viewer


def failure_mode(row: pd.Series) -> str:
    """One label per prediction: exact, answers with prose, repeats one token, breaks the file, empty, whitespace only, first line right, close, runs on, or wrong.

    Every label after "breaks the file" is a prediction that parses but differs (or was not judged: no parser).
    """
    if row["exact_match"]:
        return "exact"
    if row.get("wrong_task") == 1:
        return "answers with prose"
    if M.is_degenerate(row["prediction"]):
        return "repeats one token"
    if row.get("parses") == 0:
        return "breaks the file"
    if row["empty_rate"]:
        return "empty"
    if row["exact_match_ws"]:
        return "whitespace only"
    if row["first_line_em"]:
        return "first line right"
    if row["edit_similarity"] >= 0.7:
        return "close (edit sim >= 0.7)"
    if len(row["prediction"]) > 2 * max(len(row["middle"]), 1):
        return "runs on (> 2x too long)"
    return "wrong"


def parse_outcome(row: pd.Series) -> str:
    """exact, breaks the file, parses but differs, or differs (not judged: no parser)."""
    if row["exact_match"]:
        return "exact"
    parses = row.get("parses")
    if parses is None or pd.isna(parses):
        return "differs (not judged)"
    return "parses but differs" if parses else "breaks the file"


PARSE_OUTCOMES = ("exact", "parses but differs", "breaks the file", "differs (not judged)")


def parse_outcomes(predictions: pd.DataFrame) -> pd.DataFrame:
    """Per system: how many predictions are exact, parse but differ, or break their file."""
    outcome = predictions.apply(parse_outcome, axis=1).rename("outcome")
    table = pd.crosstab(predictions["system"], outcome).reindex(list(dict.fromkeys(predictions["system"])))
    return table[[o for o in PARSE_OUTCOMES if o in table.columns]]


def error_analysis(predictions: pd.DataFrame, system: str, by: Sequence[str] = ("span_type", "length_bucket")) -> pd.DataFrame:
    """Mean scores of `system` per group (span type x middle length by default), with the count and the parse rate."""
    part = predictions[predictions.system == system]
    for column in ("parses", "wrong_task"):
        if column not in part:
            part = part.assign(**{column: float("nan")})
    out = part.groupby(list(by), observed=True).agg(
        n=("id", "size"),
        exact_match=("exact_match", "mean"),
        edit_similarity=("edit_similarity", "mean"),
        chrf=("chrf", "mean"),
        empty_rate=("empty_rate", "mean"),
        parses=("parses", "mean"),
        wrong_task=("wrong_task", "mean"),
    )
    return out.round(3)


def failure_modes(predictions: pd.DataFrame, system: str) -> pd.DataFrame:
    """Counts of each failure mode of `system`, per span type (columns) with totals."""
    part = predictions[predictions.system == system].copy()
    part["failure_mode"] = part.apply(failure_mode, axis=1)
    table = pd.crosstab(part["failure_mode"], part["span_type"], margins=True, margins_name="total")
    order = ["exact", "answers with prose", "repeats one token", "breaks the file", "whitespace only", "first line right", "close (edit sim >= 0.7)", "runs on (> 2x too long)", "wrong", "empty", "total"]
    return table.reindex([o for o in order if o in table.index])


def parse_contrast(predictions: pd.DataFrame, files: dict[str, str] | None, parser: Parser | None,
                   systems: Sequence[str] | None = None) -> dict[str, dict]:
    """One prediction that breaks its file and one that parses but differs (students first), with the parser's verdicts."""
    order = list(systems or [s for s in dict.fromkeys(predictions.system) if s != TEACHER] + [TEACHER])
    found: dict[str, dict] = {}
    if parser is None or files is None or "parses" not in predictions:
        return found
    for system in order:
        part = predictions[predictions.system == system]
        for outcome in ("breaks the file", "parses but differs"):
            hits = part[part.apply(parse_outcome, axis=1) == outcome]
            if outcome not in found and len(hits):
                row = hits.iloc[0].to_dict()
                [result] = files_parse([row], [row["prediction"]], files, parser)
                found[outcome] = {"system": system, "row": row, "result": result}
    return found


def parse_contrast_html(contrast: dict[str, dict]) -> str:
    """HTML of `parse_contrast`: each prediction beside the true middle, with what the parser said of its file."""
    if not contrast:
        return "<i>nothing to show: no parser, or no prediction of that kind in this run</i>"
    pre = "<pre style='white-space:pre-wrap;font-size:11px;background:{};padding:4px;margin:2px 0'>{}</pre>"
    blocks = []
    for outcome, item in contrast.items():
        row, result = item["row"], item["result"]
        verdict = "the file parses" if result.ok else f"line {result.line}, column {result.column}: {result.message}"
        blocks.append(
            f"<td style='vertical-align:top;width:50%'><b>{html.escape(outcome)}</b> · {html.escape(item['system'])} · "
            f"{html.escape(row['id'])}<div style='font-size:11px'>parser: {html.escape(verdict)}</div>"
            f"prediction{pre.format('#fdf1e0', html.escape(row['prediction']) or '<i>(empty)</i>')}"
            f"true middle{pre.format('#e6f4e6', html.escape(row['middle']))}</td>")
    return "<table style='width:100%;table-layout:fixed'><tr>" + "".join(blocks) + "</tr></table>"


def example_html(predictions: pd.DataFrame, example_id: str, student: str, teacher: str = TEACHER, context_lines: int = 12) -> str:
    """HTML side by side: prefix | true middle | teacher | student | suffix, with per-example scores."""
    rows = predictions[predictions.id == example_id].set_index("system")
    if student not in rows.index:
        raise KeyError(f"no predictions of {student!r} for {example_id!r}")
    first = rows.iloc[0]
    prefix = "\n".join(first["prefix"].split("\n")[-context_lines:])
    suffix = "\n".join(first["suffix"].split("\n")[:context_lines])

    def cell(title: str, text: str, colour: str, scores: pd.Series | None = None) -> str:
        score = ""
        if scores is not None:
            score = (f"<div style='font-size:11px;color:#444'>EM {scores['exact_match']:.0f} · edit sim "
                     f"{scores['edit_similarity']:.2f} · chrF {scores['chrf']:.1f}</div>")
        return (f"<td style='vertical-align:top;width:20%;padding:4px'><b>{html.escape(title)}</b>{score}"
                f"<pre style='background:{colour};white-space:pre-wrap;font-size:11px;max-height:320px;overflow:auto;"
                f"margin:2px 0;padding:4px'>{html.escape(text) or '<i>(empty)</i>'}</pre></td>")

    head = (f"<div style='font-size:12px'><b>{html.escape(example_id)}</b> · span type "
            f"<b>{html.escape(str(first['span_type']))}</b> · middle {first['middle_lines']} line(s), {first['middle_chars']} chars</div>")
    cells = [cell("prefix (end)", prefix, "#f4f4f4"), cell("true middle", first["middle"], "#e6f4e6")]
    if teacher in rows.index:
        cells.append(cell(teacher, rows.loc[teacher, "prediction"], "#e8eefb", rows.loc[teacher]))
    cells += [cell(student, rows.loc[student, "prediction"], "#fdf1e0", rows.loc[student]), cell("suffix (start)", suffix, "#f4f4f4")]
    return head + "<table style='width:100%;table-layout:fixed'><tr>" + "".join(cells) + "</tr></table>"


def side_by_side_viewer(predictions: pd.DataFrame, student: str | None = None) -> "ipywidgets.VBox":
    """An ipywidgets viewer: pick a student, a span type and an example; see all five columns and scores."""
    import ipywidgets as w

    systems = [s for s in dict.fromkeys(predictions.system) if s != TEACHER]
    student_dd = w.Dropdown(options=systems, value=student if student in systems else systems[-1], description="student")
    span_dd = w.Dropdown(options=["all", *sorted(set(predictions.span_type))], value="all", description="span type")
    order_dd = w.Dropdown(options=["test order", "student's worst first", "student's best first"], value="test order", description="order")
    index = w.IntSlider(min=0, max=0, value=0, description="example", continuous_update=False)
    out = w.HTML()

    def ids() -> list[str]:
        part = predictions[predictions.system == student_dd.value]
        if span_dd.value != "all":
            part = part[part.span_type == span_dd.value]
        if order_dd.value != "test order":
            part = part.sort_values("edit_similarity", ascending=order_dd.value.startswith("student's worst"), kind="stable")
        return part["id"].tolist()

    def refresh(*_):
        current = ids()
        index.max = max(len(current) - 1, 0)
        out.value = example_html(predictions, current[min(index.value, index.max)], student_dd.value) if current else "<i>no examples</i>"

    for widget in (student_dd, span_dd, order_dd, index):
        widget.observe(refresh, names="value")
    refresh()
    return w.VBox([w.HBox([student_dd, span_dd]), w.HBox([order_dd, index]), out])


# --------------------------------------------------------------------------- the whole evaluation


@dataclass
class Evaluation:
    """Everything notebook 07 produces; `report_dir` holds it on disk."""

    predictions: pd.DataFrame
    results: pd.DataFrame
    efficiency: pd.DataFrame
    paired: pd.DataFrame
    report_dir: Path

    def table(self) -> str:
        """The headline results as a markdown table."""
        return headline_table(self.results)


def report_dir(cfg: Config) -> Path:
    """artifacts/<run>/report."""
    return stage_dir(cfg, "report")


def write_report(cfg: Config, predictions: pd.DataFrame, results: pd.DataFrame, efficiency: pd.DataFrame,
                 paired: pd.DataFrame) -> Path:
    """Write results.csv/json, efficiency.csv, paired.csv, predictions.parquet, results.md and the charts."""
    import matplotlib.pyplot as plt

    out = report_dir(cfg)
    out.mkdir(parents=True, exist_ok=True)
    results.to_csv(out / "results.csv", index=False)
    eff = efficiency.drop(columns=["latencies_ms"], errors="ignore")
    eff.to_csv(out / "efficiency.csv", index=False)
    paired.to_csv(out / "paired.csv", index=False)
    predictions.to_parquet(out / "predictions.parquet", index=False)
    table = headline_table(results)
    (out / "results.md").write_text(table + "\n")
    write_json(out / "results.json", {
        "run_name": cfg.run_name,
        "profile": cfg.profile,
        "n_test_examples": int(predictions["id"].nunique()),
        "systems": list(dict.fromkeys(results.system)),
        "bootstrap_samples": cfg.bootstrap_samples,
        "bootstrap_unit": "source file (cluster bootstrap)",
        "confidence": 0.95,
        "rows": _records(results),
        "efficiency": _records(eff),
        "paired": _records(paired),
        "headline_markdown": table,
    })
    charts = (("metric_bars.png", plot_metric_bars(results)), ("by_span_type.png", plot_by_span_type(results)),
              ("quality_vs_latency.png", plot_quality_vs_latency(results)), ("data_curve.png", plot_data_curve(results)))
    for name, fig in charts:
        save_figure(fig, out / name, dpi=110)
        plt.close(fig)
    return out


def _records(df: pd.DataFrame) -> list[dict]:
    """Rows as plain dicts with NaN turned into None (valid JSON)."""
    return [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()} for r in df.to_dict("records")]


def evaluate(cfg: Config, systems: Sequence[str] | None = None, efficiency: bool = True, progress: bool = True) -> Evaluation:
    """The whole of notebook 07: predict, score with intervals, time, compare in pairs, write the report."""
    examples = test_examples(cfg)
    if systems is None and (note := missing_variants_note(cfg)):
        print(note)
    systems = list(systems or list_systems(cfg))
    predictions = collect_predictions(cfg, examples, systems, progress)
    results = score_predictions(predictions, cfg)
    eff = measure_efficiency(cfg, examples, timed_systems(systems), progress=progress) if efficiency else pd.DataFrame(columns=["system", "latencies_ms"])
    if len(eff):
        results = pd.concat([results, efficiency_rows(eff, cfg)], ignore_index=True)
    paired = paired_comparisons(predictions, default_pairs(systems), cfg)
    out = write_report(cfg, predictions, results, eff, paired)
    return Evaluation(predictions, results, eff, paired, out)


# --------------------------------------------------------------------------- command line


def bench_student(cfg: Config, examples: int | None = None) -> None:
    """`python -m utils bench student`: the student against the teacher on the same examples and hardware."""
    n = examples or cfg.bench_examples
    test = load_stage(cfg, "fim")
    if "test" not in test or not len(test["test"]):
        raise UserError("the FIM dataset has no test examples: re-run notebook 02_fim_segmentation.ipynb")
    examples = test["test"].to_pandas()
    trained = [v for v in reversed(VARIANTS) if v in find_variants(cfg)]
    student = trained[0] if trained else UNTRAINED
    if not trained:
        print("no trained student under models/ (notebook 05): timing the untrained student, same architecture and size")
    eff = measure_efficiency(cfg, examples, [TEACHER, student], n=n, progress=False)
    print(f"{min(n, len(examples))} completions each, device {eff.device.iloc[0]} ({eff.threads.iloc[0]} CPU threads), "
          f"batch {cfg.eval_batch_size} for throughput; each system in the dtype and with the new-token budget below "
          "(the budget its quality was measured with)")
    show = eff[["system", "dtype", "max_new_tokens", "params_m", "size_on_disk_mb", "peak_memory_mb", "latency_p50_ms", "latency_p95_ms", "throughput_per_s"]]
    print(show.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"peak memory: {eff.memory_method.iloc[0]}")
    speedup = eff.loc[eff.system == student, "speedup"].iloc[0]
    print(f"speedup ({student} over the teacher, median latency): {speedup:.2f}x")
