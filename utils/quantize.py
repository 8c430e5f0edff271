"""int8 for CPU: the trained student exported to ONNX, quantised to int8, run by ONNX Runtime; quality and speed before and after.

Why ONNX Runtime and not PyTorch's own dynamic quantisation (`torch.ao.quantization.quantize_dynamic`):
- measured first with torch: every `nn.Linear` to int8 made flan-t5-small only 1.6-1.7x faster at batch 1 on
  one CPU thread. The matrix products were about 60% of the fp32 time; a decoder step's ~300 small operations
  (T5's RMS norms, attention, gated GELU) and Python's cost per operation were untouched by int8;
- ONNX Runtime runs each decoder step as one graph in C++ (fused element-wise work, no Python per operation) and
  its int8 products use the CPU's integer dot-product instructions. `onnx_student.py` exports the two graphs
  (the encoder once per completion, the decoder one token at a time with its key/value cache) out of T5's own
  modules, and `onnxruntime.quantization.quantize_dynamic` turns every MatMul's weights to int8 (activations
  are quantised on the fly: no calibration data);
- optimum, which wraps the same export, is not installable from this project's package index; the export is
  about 130 lines and the suite checks its logits and greedy answers against the PyTorch model's;
- the ONNX student keeps transformers' `generate` interface for what this project calls (greedy, suppressed
  tokens, `min_new_tokens`, the `NoBlankAnswer` guard), so `student.generate_middles`, the bench and the server
  use it unchanged, and quality before and after is measured by the evaluation notebook's own scoring.

Which figure is which:
- quality: the trained student (tiny profile: the tiny one) on the test split, PyTorch fp32 against ONNX int8,
  each metric with its interval from the bootstrap over test files, and the paired int8 - fp32 difference;
- speed: three runtimes on the same CPU and threads, taking turns: PyTorch fp32 (what the series trains and
  evaluates), ONNX Runtime fp32 (the same graph without int8: what the runtime alone gives) and ONNX Runtime
  int8 (what ships). With `real_size=True` on flan-t5-small's architecture at full size with random weights
  (77M parameters, `inspection.REAL_CONFIGS`), 384 prompt tokens and 32 forced new tokens; without it, on the
  tiny student itself.

Saved under artifacts/<run>/models/<variant>-int8/: `encoder.onnx` and `decoder_step.onnx` (int8),
`model_config.json` (not `config.json`, so the folder is not mistaken for a trained PyTorch variant), the
tokenizer and `quantization.json`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import onnxruntime
import pandas as pd
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from . import evaluation as E
from .artifacts import relative, stage_dir, write_json
from .config import VARIANTS, Config, UserError
from .fim import parse_context
from .models import load_tokenizer
from .onnx_student import OnnxStudent, export_student, quantize_graphs
from .speed import random_prompts, real_size_model, time_runs
from .student import generate_middles, load_trained, make_ready, variant_dir
from .tokenization import make_code_safe

INT8 = "-int8"
NOTE = "quantization.json"  # written last by save_int8: its presence means a complete int8 folder
QUALITY = ("edit_similarity", "parses", "exact_match", "exact_match_ws", "chrf", "empty_rate")


def shipped_variant(cfg: Config, variant: str | None = None) -> str:
    """`variant` if trained, else the last of VARIANTS that is (step_by_step first); a UserError naming the fix if none."""
    found = E.find_variants(cfg)
    if variant is not None:
        if variant not in found:
            load_trained(cfg, variant)  # raises the UserError that names notebook 05 / `python -m utils train`
        return variant
    trained = [v for v in reversed(VARIANTS) if v in found]
    if not trained:
        raise UserError(f"no trained student under {relative(stage_dir(cfg, 'models'))}: run notebook "
                        "05_step_by_step_training.ipynb or `python -m utils train` first")
    return trained[0]


def int8_dir(cfg: Config, variant: str) -> Path:
    """Folder of the int8 copy of a variant: artifacts/<run>/models/<variant>-int8/."""
    return variant_dir(cfg, variant + INT8)


def quantize_int8(model: PreTrainedModel, folder: Path, threads: int | None = 1) -> OnnxStudent:
    """`model` exported to ONNX, every MatMul's weights quantised to int8, into `folder`; the ONNX Runtime student that runs it."""
    with tempfile.TemporaryDirectory() as fp32:
        export_student(model, fp32)
        quantize_graphs(fp32, folder)
    return OnnxStudent(folder, threads)


def save_int8(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, folder: Path, source: str) -> Path:
    """Quantise `model` into `folder` with its tokenizer and a note of what it is (`quantization.json`)."""
    quantize_int8(model, folder)
    tokenizer.save_pretrained(folder)
    write_json(folder / NOTE, {"method": "ONNX export (utils/onnx_student.py), onnxruntime.quantization."
                                         "quantize_dynamic: MatMul weights -> int8", "onnxruntime": onnxruntime.__version__,
                               "torch": torch.__version__, "source": source})
    return folder


def onnx_ready(folder: Path, tokenizer: PreTrainedTokenizerBase, cfg: Config, threads: int | None = None) -> OnnxStudent:
    """The ONNX student in `folder` with the project's special ids and generation settings (`threads`: cfg.torch_threads)."""
    model = OnnxStudent(folder, threads if threads is not None else cfg.torch_threads)
    return make_ready(model, tokenizer, cfg, torch.device("cpu"), "float32")


def load_int8(folder: Path, cfg: Config) -> tuple[OnnxStudent, PreTrainedTokenizerBase]:
    """The int8 student saved by `save_int8` and its code-safe tokenizer, with the project's generation settings."""
    if not (folder / NOTE).exists():
        raise UserError(f"no int8 student at {relative(folder)}: run `python -m utils quantize` first")
    tok = make_code_safe(load_tokenizer(str(folder)))
    return onnx_ready(folder, tok, cfg), tok


def compare_quality(cfg: Config, models: dict[str, PreTrainedModel], tokenizer: PreTrainedTokenizerBase) -> dict[str, pd.DataFrame]:
    """Each named model on the test split: predictions, scores with file-bootstrap intervals, and paired differences (later minus first)."""
    examples = E.test_examples(cfg)
    files, parser = parse_context(cfg)
    inputs = examples["student_input"].tolist()
    predictions = pd.concat([E.scored_predictions(examples, name, generate_middles(model, tokenizer, inputs, cfg), files, parser)
                             for name, model in models.items()], ignore_index=True)
    results = E.score_predictions(predictions, cfg, metrics=QUALITY)
    names = list(models)
    paired = E.paired_comparisons(predictions, [(other, names[0]) for other in names[1:]], cfg,
                                  metrics=("edit_similarity", "parses", "exact_match"))
    return {"predictions": predictions, "results": results, "paired": paired}


def compare_speed(models: dict[str, PreTrainedModel], prompt_tokens: int, new_tokens: int, repeats: int,
                  threads: int | None = 1) -> pd.DataFrame:
    """Latency p50/p95 of each named model on the same random prompt, `new_tokens` forced, batch 1, `threads` CPU threads.

    The models take turns, one run each per round, so that a neighbour's load falls on all of them alike.
    """
    prompts = {name: random_prompts(model, 1, prompt_tokens) for name, model in models.items()}
    for name, model in models.items():
        time_runs(model, prompts[name], new_tokens, 0, threads)  # warm-up only
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            times[name] += time_runs(model, prompts[name], new_tokens, 1, threads, warm_up=False)
    rows = []
    for name, model in models.items():
        t = pd.Series(times[name])
        rows.append({"model": name, "threads": threads, "prompt_tokens": prompt_tokens, "new_tokens": new_tokens,
                     "repeats": repeats, "latency_p50_s": t.quantile(0.5), "latency_p95_s": t.quantile(0.95),
                     "tokens_per_s": new_tokens / t.median(), "weights_mb": weight_megabytes(model)})
    table = pd.DataFrame(rows)
    table["speedup"] = table.latency_p50_s.iloc[0] / table.latency_p50_s
    return table


def weight_megabytes(model: PreTrainedModel | OnnxStudent) -> float:
    """MiB of a model's weights: each PyTorch tensor once (tied ones are shared), or the ONNX student's two graph files."""
    if isinstance(model, OnnxStudent):
        return model.megabytes()
    return sum({t.data_ptr(): t.numel() * t.element_size() for t in model.state_dict().values()}.values()) / 2**20


RUNTIMES = ("fp32 (PyTorch)", "fp32 (ONNX Runtime)", "int8 (ONNX Runtime)")  # what the series runs, the runtime alone, what ships


def three_runtimes(model: PreTrainedModel, folder: Path, threads: int | None) -> dict[str, PreTrainedModel | OnnxStudent]:
    """`model` in PyTorch fp32, exported as fp32 ONNX into folder/fp32 and quantised into folder/int8 (for timing: no tokenizer)."""
    export_student(model, folder / "fp32")
    quantize_graphs(folder / "fp32", folder / "int8")
    return dict(zip(RUNTIMES, [model, *(OnnxStudent(folder / kind, threads) for kind in ("fp32", "int8"))]))


def quantize_student(cfg: Config, variant: str | None = None, real_size: bool = False, repeats: int = 5,
                     prompt_tokens: int = 384, new_tokens: int = 32, threads: int | None = 1) -> dict:
    """Quantise a trained variant to int8, save it, check the export, and measure quality and speed before and after."""
    variant = shipped_variant(cfg, variant)
    fp32, tok = load_trained(cfg, variant, device="cpu", dtype="float32")
    folder = save_int8(fp32, tok, int8_dir(cfg, variant), variant)
    int8, _ = load_int8(folder, cfg)
    probe = E.test_examples(cfg)["student_input"].tolist()[:8]
    quality = compare_quality(cfg, {variant: fp32, variant + INT8: int8}, tok)
    with tempfile.TemporaryDirectory() as tmp:
        # the saved int8 graphs, and the same export in fp32 beside them (not quantised a second time)
        onnx_fp32 = onnx_ready(export_student(fp32, tmp), tok, cfg, threads)
        tiny = dict(zip(RUNTIMES, [fp32, onnx_fp32, onnx_ready(folder, tok, cfg, threads)]))
        # the fp32 graphs compute the PyTorch model: the same greedy middles (int8 may differ: the quality table says how much)
        exported_same = generate_middles(onnx_fp32, tok, probe, cfg) == generate_middles(fp32, tok, probe, cfg)
        if real_size:
            speed_models = three_runtimes(real_size_model("student"), Path(tmp) / "real", threads)
            speed_on = "real size: flan-t5-small's architecture, random weights"
        else:
            speed_models = tiny
            prompt_tokens = min(prompt_tokens, cfg.student_max_input_tokens)
            speed_on = f"tiny profile: the trained {variant} student itself"
        speed = compare_speed(speed_models, prompt_tokens, new_tokens, repeats, threads)
    return {"variant": variant, "profile": cfg.profile, "folder": folder, "exported_same": exported_same, "speed_on": speed_on,
            "speed": speed, "speedup": float(speed.speedup.iloc[-1]), **quality}


def format_quantize_report(report: dict) -> str:
    """The printed report of `python -m utils quantize`, ending with `quantised speedup: <ratio>x`."""
    results = report["results"]
    cells = results[results.span_type == "all"].apply(
        lambda r: f"{r.value:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}]" if pd.notna(r.value) else "n/a", axis=1)
    table = results[results.span_type == "all"].assign(cell=cells).pivot(index="system", columns="metric", values="cell")
    table = table[[m for m in QUALITY if m in table.columns]].reindex(list(dict.fromkeys(results.system)))
    n = int(results.loc[results.span_type == "all", "n"].max())
    lines = [f"int8 ONNX copy of {report['variant']} saved to {relative(report['folder'])}; its fp32 export writes "
             f"{'the same' if report['exported_same'] else 'DIFFERENT'} greedy middles as the PyTorch model",
             f"quality on the test split ({n} examples, the {report['profile']} profile's trained student; 95% intervals by file):",
             table.to_string(), ""]
    lines += [f"{E.paired_verdict(r)} (int8 - fp32: {r['diff']:+.4f} [{r['ci_low']:+.4f}, {r['ci_high']:+.4f}])"
              for _, r in report["paired"].iterrows()]
    lines += ["", f"speed ({report['speed_on']}), batch 1, same CPU, speedup over PyTorch fp32:",
              report["speed"].to_string(index=False, float_format=lambda v: f"{v:.3f}"),
              f"quantised speedup: {report['speedup']:.2f}x"]
    return "\n".join(lines)
