"""int8 for CPU: the trained student with every nn.Linear quantised to int8, quality and speed before and after.

Why torch's dynamic quantisation (`torch.ao.quantization.quantize_dynamic`) and not ONNX Runtime through optimum:
- it quantises exactly what costs time in T5: every `nn.Linear` (attention q/k/v/o, the gated-GELU feed-forward's
  wi_0/wi_1/wo, the lm_head), weights to int8 once, activations on the fly at each call: no calibration data;
- it needs nothing beyond the pinned torch and works offline; optimum is neither pinned nor installable from
  this project's package index, and exporting T5 with its key/value cache to ONNX without it means an encoder
  graph, two decoder graphs (with and without cache) and a loop to drive them: a second inference stack to test;
- the int8 model is still a transformers model: `generate`, the `NoBlankAnswer` guard, `student.generate_middles`
  and the server use it unchanged, so quality before and after is measured by the same code (the evaluation notebook's scoring);
- its cost: torch 2.13 marks `torch.ao.quantization` deprecated (it works, and is tested here); torchao's
  `quantize_(model, Int8DynamicActivationInt8WeightConfig())` replaces it when it is removed. Its kernels are
  x86's (fbgemm); ARM's qnnpack engine was measured slower than fp32.

Which figure is which:
- quality: the trained tiny student (tiny profile) on the test split, fp32 against int8, each metric with its
  interval from the bootstrap over test files, and the paired int8 - fp32 difference;
- speed: with `real_size=True`, flan-t5-small's architecture at full size with random weights (77M parameters,
  `inspection.REAL_CONFIGS`), fp32 against int8 on the same CPU and threads, 384 prompt tokens and 32 forced new
  tokens; without it, the tiny student itself (0.27M parameters: its time is per-op overhead, which int8 does not cut).

What it buys, measured at real size on 2 CPU cores shared with other jobs (1 thread, fp32 and int8 taking turns):
1.59x to 1.71x faster per completion, weights 294 -> 121 MiB (the embeddings stay fp32), quality unchanged on the
tiny student (paired differences within +-0.001). Short of 2x: at batch 1 the matrix products are only about 55-60%
of the fp32 student's time; attention, T5's RMS norms and gated GELU (a dozen small element-wise ops per layer) and
Python's per-op cost are untouched by int8, which caps the gain near 2.4x even for free matrix products. The rest
would need fused kernels (ONNX Runtime's graph optimisations, or torch.compile), not tried here.

Saved under artifacts/<run>/models/<variant>-int8/: the tokenizer, `model_config.json` (not `config.json`, so the
folder is not mistaken for a trained fp32 variant), `int8_state.pt` (the quantised state dict, read back with
`weights_only=True` into a freshly quantised model of the same config) and `quantization.json`.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
import torch
from transformers import AutoConfig, AutoModelForSeq2SeqLM, PreTrainedModel, PreTrainedTokenizerBase

from . import evaluation as E
from .artifacts import relative, stage_dir, write_json
from .config import VARIANTS, Config, UserError
from .fim import parse_context
from .models import quiet_loading, load_tokenizer
from .speed import random_prompts, real_size_model, time_runs
from .student import generate_middles, load_trained, make_ready, variant_dir
from .tokenization import make_code_safe

INT8 = "-int8"
WEIGHTS = "int8_state.pt"
MODEL_CONFIG = "model_config.json"
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


def quantize_int8(model: PreTrainedModel) -> PreTrainedModel:
    """A copy of `model` with every nn.Linear replaced by torch's dynamic int8 Linear (CPU only)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*(deprecated|torchao).*")  # see the module docstring
        return torch.ao.quantization.quantize_dynamic(model.cpu().eval(), {torch.nn.Linear}, dtype=torch.qint8)


def save_int8(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, folder: Path, source: str) -> Path:
    """Write the int8 model (state dict, config), its tokenizer and a note of what it is into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    model.config.to_json_file(folder / MODEL_CONFIG)
    tokenizer.save_pretrained(folder)
    torch.save(model.state_dict(), folder / WEIGHTS)
    write_json(folder / "quantization.json", {"method": "torch.ao.quantization.quantize_dynamic, nn.Linear -> qint8",
                                              "engine": torch.backends.quantized.engine, "torch": torch.__version__,
                                              "source": source})
    return folder


def load_int8(folder: Path, cfg: Config) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The int8 model saved by `save_int8` and its code-safe tokenizer, with the project's generation settings."""
    if not (folder / WEIGHTS).exists():
        raise UserError(f"no int8 student at {relative(folder)}: run `python -m utils quantize` first")
    settings = json.loads((folder / MODEL_CONFIG).read_text())
    config = AutoConfig.for_model(settings.pop("model_type"), **settings)
    with quiet_loading():
        skeleton = AutoModelForSeq2SeqLM.from_config(config)
    model = quantize_int8(skeleton)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*(deprecated|torchao).*")
        model.load_state_dict(torch.load(folder / WEIGHTS, weights_only=True))
    tok = make_code_safe(load_tokenizer(str(folder)))
    return make_ready(model.eval(), tok, cfg, torch.device("cpu"), "float32"), tok


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


def weight_megabytes(model: PreTrainedModel) -> float:
    """MiB of the model's weights, each tensor once (tied ones are shared; int8 weights count one byte each)."""
    seen: dict[int, int] = {}
    stack = list(model.state_dict().values())
    while stack:
        value = stack.pop()
        if isinstance(value, (tuple, list)):  # a dynamic Linear's packed (weight, bias)
            stack.extend(value)
        elif isinstance(value, torch.Tensor):
            key = value.data_ptr() if not value.is_quantized else id(value)
            seen[key] = value.numel() * value.element_size()
    return sum(seen.values()) / 2**20


def quantize_student(cfg: Config, variant: str | None = None, real_size: bool = False, repeats: int = 5,
                     prompt_tokens: int = 384, new_tokens: int = 32, threads: int | None = 1) -> dict:
    """Quantise a trained variant to int8, save it, check it loads back, and measure quality and speed before and after."""
    variant = shipped_variant(cfg, variant)
    fp32, tok = load_trained(cfg, variant, device="cpu", dtype="float32")
    int8 = quantize_int8(fp32)
    folder = save_int8(int8, tok, int8_dir(cfg, variant), variant)
    reloaded, _ = load_int8(folder, cfg)
    probe = E.test_examples(cfg)["student_input"].tolist()[:4]
    same = generate_middles(reloaded, tok, probe, cfg) == generate_middles(int8, tok, probe, cfg)
    quality = compare_quality(cfg, {variant: fp32, variant + INT8: int8}, tok)
    if real_size:
        big = real_size_model("student")
        speed_models = {"flan-t5-small fp32": big, "flan-t5-small int8": quantize_int8(big)}
        speed_on = "real size: flan-t5-small's architecture, random weights"
    else:
        speed_models = {variant: fp32, variant + INT8: int8}
        prompt_tokens = min(prompt_tokens, cfg.student_max_input_tokens)
        speed_on = f"tiny profile: the trained {variant} student itself"
    speed = compare_speed(speed_models, prompt_tokens, new_tokens, repeats, threads)
    return {"variant": variant, "profile": cfg.profile, "folder": folder, "reloaded_identical": same, "speed_on": speed_on, "speed": speed,
            "speedup": float(speed.speedup.iloc[-1]), **quality}


def format_quantize_report(report: dict) -> str:
    """The printed report of `python -m utils quantize`, ending with `quantised speedup: <ratio>x`."""
    results = report["results"]
    cells = results[results.span_type == "all"].apply(
        lambda r: f"{r.value:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}]" if pd.notna(r.value) else "n/a", axis=1)
    table = results[results.span_type == "all"].assign(cell=cells).pivot(index="system", columns="metric", values="cell")
    table = table[[m for m in QUALITY if m in table.columns]].reindex(list(dict.fromkeys(results.system)))
    n = int(results.loc[results.span_type == "all", "n"].max())
    lines = [f"int8 copy of {report['variant']} saved to {relative(report['folder'])} "
             f"(loads back and generates {'the same' if report['reloaded_identical'] else 'DIFFERENT'} middles)",
             f"quality on the test split ({n} examples, the {report['profile']} profile's trained student; 95% intervals by file):",
             table.to_string(), ""]
    lines += [f"{E.paired_verdict(r)} (int8 - fp32: {r['diff']:+.4f} [{r['ci_low']:+.4f}, {r['ci_high']:+.4f}])"
              for _, r in report["paired"].iterrows()]
    lines += ["", f"speed ({report['speed_on']}), batch 1, same CPU:",
              report["speed"].to_string(index=False, float_format=lambda v: f"{v:.3f}"),
              f"quantised speedup: {report['speedup']:.2f}x"]
    return "\n".join(lines)
