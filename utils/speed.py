"""Real-size speed: santacoder's and flan-t5-small's architectures at full size, random weights, timed like for like.

`python -m utils bench student --real-size` (and a notebook: `bench_real_size` returns a DataFrame).
Both models are built from `inspection.REAL_CONFIGS` with random weights (no download: speed does not
depend on what the weights learned), get the same number of random prompt tokens, and are forced to
write the same number of new tokens (EOS suppressed with `min_new_tokens`), greedily, in fp32.

Where the student's time went, and what was removed (measured on a 2-core CPU shared with other jobs):
- threads: with 2 torch threads on 2 busy cores every one of the ~75 small matrix products of a decoder
  step waits at a barrier for a thread the scheduler has parked; the student took 9.9 s (3 other jobs) and
  30.8 s (and a busy loop beside it) instead of 2.4 and 3.5 s with 1 thread. Each model is therefore timed
  at the fastest of the thread counts tried (one timed run each, shown in `threads_tried`); on shared cores
  1 thread wins for both models.
- `generate` itself: at 1 thread the profile of 32 decoder steps is matrix products (about 70% of the time,
  the weights streamed from memory once per step: 39M parameters, 150 MB), attention and T5's small
  element-wise ops; `generate`'s own bookkeeping (logits processors, stopping criteria, cache set-up) cost
  about 5% against a hand-written greedy loop over the model's forward with its cache (median of 5, within
  the run-to-run noise), so that loop is not kept: one decoding path for evaluation, bench and server.
- gradients: everything runs under `torch.inference_mode()`; cross-attention keys and values over the
  encoder output are computed once per completion and cached by the model (its `EncoderDecoderCache`).
`time_breakdown` splits a student completion into encoder, decoder steps and time outside torch's ops.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, PreTrainedModel

from .config import STUDENT_HUB_ID, TEACHER_HUB_ID
from .inspection import REAL_CONFIGS, count_parameters
from .models import quiet_loading, sync, torch_threads
from .tiny import untie_lm_head

ROLES = {"teacher": TEACHER_HUB_ID, "student": STUDENT_HUB_ID}
FIRST_ID = 100  # random prompt ids start here: above every special token of both vocabularies


def cpu_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def real_size_model(role: str, device: str = "cpu", seed: int = 0) -> PreTrainedModel:
    """The real architecture of `role` ('teacher' or 'student') from `REAL_CONFIGS`, random weights, fp32, eval mode."""
    config = REAL_CONFIGS[ROLES[role]]
    cls = AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM
    torch.manual_seed(seed)
    with quiet_loading():
        model = cls.from_config(config)
    if config.is_encoder_decoder:  # transformers 5 ties T5's head at construction; flan-t5's is its own matrix (77M, not 61M)
        untie_lm_head(model)
    return model.eval().to(device)


def random_prompts(model: PreTrainedModel, batch: int, tokens: int, seed: int = 0) -> torch.Tensor:
    """`batch` x `tokens` random ids of ordinary tokens of `model`'s vocabulary, on its device."""
    generator = torch.Generator().manual_seed(seed)
    high = min(model.config.vocab_size, 32000)  # below T5's sentinels (32000-32099) and santacoder's specials
    ids = torch.randint(FIRST_ID, high, (batch, tokens), generator=generator)
    return ids.to(model.device)


def forced_generate(model: PreTrainedModel, input_ids: torch.Tensor, new_tokens: int) -> torch.Tensor:
    """Greedy `generate` that writes exactly `new_tokens` tokens (no early EOS); returns the new ids."""
    eos = model.config.eos_token_id
    with torch.inference_mode():
        out = model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), max_new_tokens=new_tokens,
                             min_new_tokens=new_tokens, do_sample=False, num_beams=1, pad_token_id=0, eos_token_id=eos)
    new = out[:, 1:] if model.config.is_encoder_decoder else out[:, input_ids.shape[1]:]  # after T5's decoder start
    if new.shape[1] != new_tokens:
        raise RuntimeError(f"generate wrote {new.shape[1]} tokens instead of the {new_tokens} forced")
    return new


def time_runs(model: PreTrainedModel, input_ids: torch.Tensor, new_tokens: int, repeats: int, threads: int | None,
              warm_up: bool = True) -> list[float]:
    """Seconds of each of `repeats` forced generations of `new_tokens` tokens, with `threads` CPU threads."""
    device = input_ids.device
    with torch_threads(threads):
        if warm_up:
            forced_generate(model, input_ids, min(new_tokens, 2))  # first-call allocations
        times = []
        for _ in range(repeats):
            sync(device)
            start = time.perf_counter()
            forced_generate(model, input_ids, new_tokens)
            sync(device)
            times.append(time.perf_counter() - start)
    return times


def fastest_threads(model: PreTrainedModel, input_ids: torch.Tensor, new_tokens: int, candidates: Sequence[int]) -> tuple[int, dict[int, float]]:
    """The thread count, among `candidates`, of the fastest single timed generation (after a warm-up); and every time."""
    tried = {n: time_runs(model, input_ids, new_tokens, 1, n)[0] for n in dict.fromkeys(candidates)}
    return min(tried, key=tried.get), tried


def _row(role: str, model: PreTrainedModel, device: str, threads: int | None, batch: int, prompt_tokens: int,
         new_tokens: int, times: list[float], tried: dict[int, float] | None = None) -> dict:
    """One table row: latency percentiles and tokens per second of `times`."""
    lat = np.asarray(times)
    return {
        "role": role, "model": ROLES[role], "device": device, "dtype": str(next(model.parameters()).dtype).replace("torch.", ""),
        "threads": threads if threads else "-", "batch": batch, "prompt_tokens": prompt_tokens, "new_tokens": new_tokens,
        "repeats": len(times), "params_m": round(count_parameters(model.config) / 1e6, 1),
        "latency_p50_s": float(np.percentile(lat, 50)), "latency_p95_s": float(np.percentile(lat, 95)),
        "tokens_per_s": batch * new_tokens / float(np.median(lat)),
        "threads_tried": ", ".join(f"{n}: {s:.2f} s" for n, s in tried.items()) if tried else "",
    }


def bench_real_size(prompt_tokens: int = 384, new_tokens: int = 32, repeats: int = 5, batch: int = 4,
                    batch_repeats: int = 2, threads: Sequence[int] | None = None, devices: Sequence[str] | None = None,
                    roles: Sequence[str] = ("teacher", "student")) -> pd.DataFrame:
    """Latency p50/p95 at batch 1 and tokens/s at batch 1 and `batch`, per role and device.

    The models take turns, one completion each per round, so that a neighbour's load falls on both alike
    (one copy of each in memory). On CPU each runs with the fastest of `threads` (default: 1 and every core),
    chosen by one timed completion each; `devices` default to the CPU, plus the GPU when one is visible (fp32 too).
    """
    devices = list(devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]))
    candidates = list(threads or sorted({1, cpu_cores()}))
    rows = []
    for device in devices:
        models = {role: real_size_model(role, device) for role in roles}
        one = {role: random_prompts(m, 1, prompt_tokens) for role, m in models.items()}
        chosen: dict[str, int | None] = {role: None for role in roles}
        tried: dict[str, dict[int, float] | None] = {role: None for role in roles}
        if device == "cpu":
            for role, model in models.items():
                chosen[role], tried[role] = fastest_threads(model, one[role], new_tokens, candidates)
        else:
            for role, model in models.items():
                time_runs(model, one[role], new_tokens, 0, None)  # warm-up only
        for size, rounds in ((1, repeats), (batch, batch_repeats if batch > 1 else 0)):
            prompts = one if size == 1 else {role: random_prompts(m, size, prompt_tokens, seed=1) for role, m in models.items()}
            times: dict[str, list[float]] = {role: [] for role in roles}
            for _ in range(rounds):
                for role, model in models.items():
                    times[role] += time_runs(model, prompts[role], new_tokens, 1, chosen[role], warm_up=False)
            rows += [_row(role, models[role], device, chosen[role], size, prompt_tokens, new_tokens, times[role],
                          tried[role] if size == 1 else None) for role in roles if times[role]]
        del models, one
        gc.collect()
        if device == "cuda":
            torch.cuda.empty_cache()
    return pd.DataFrame(rows).sort_values(["device", "role", "batch"], ascending=[True, False, True], ignore_index=True)


def speedup(table: pd.DataFrame, device: str = "cpu", batch: int = 1) -> float:
    """Teacher p50 latency over the student's at `batch` on `device` (above 1: the student is faster)."""
    pick = table[(table.device == device) & (table.batch == batch)].set_index("role")["latency_p50_s"]
    return float(pick["teacher"] / pick["student"])


def time_breakdown(model: PreTrainedModel, input_ids: torch.Tensor, new_tokens: int, threads: int | None = 1) -> dict:
    """Where one forced completion's time goes: encoder, decoder steps, and the share spent inside torch's ops."""
    from torch.profiler import ProfilerActivity, profile

    out: dict = {"threads": threads}
    with torch_threads(threads), torch.inference_mode():
        forced_generate(model, input_ids, 2)
        if model.config.is_encoder_decoder:
            start = time.perf_counter()
            model.get_encoder()(input_ids=input_ids)
            out["encoder_s"] = time.perf_counter() - start
        start = time.perf_counter()
        forced_generate(model, input_ids, new_tokens)
        out["total_s"] = time.perf_counter() - start
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            start = time.perf_counter()
            forced_generate(model, input_ids, new_tokens)
            wall = time.perf_counter() - start  # the profiled run: its op times and its wall clock agree
    events = prof.key_averages()
    ops = sum(e.self_cpu_time_total for e in events if e.key.startswith(("aten::", "quantized::"))) / 1e6
    products = sum(e.self_cpu_time_total for e in events if e.key in ("aten::mm", "aten::addmm", "aten::bmm",
                                                                      "quantized::linear_dynamic")) / 1e6
    out["decoder_s"] = out["total_s"] - out.get("encoder_s", 0.0)
    out["per_step_ms"] = 1000 * out["decoder_s"] / new_tokens
    out["in_torch_ops"] = min(ops / wall, 1.0)
    out["in_matrix_products"] = min(products / wall, 1.0)
    return out


def format_bench(table: pd.DataFrame, breakdown: dict | None = None) -> str:
    """The printed report of `bench student --real-size`: the table, the student's time split, and `speedup: <ratio>x` last."""
    show = table.drop(columns=["model"]).copy()
    lines = [f"real-size architectures, random weights: teacher {ROLES['teacher']}, student {ROLES['student']}; "
             f"{table.prompt_tokens.iloc[0]} prompt tokens, {table.new_tokens.iloc[0]} forced new tokens, greedy",
             show.to_string(index=False, float_format=lambda v: f"{v:.3f}")]
    if breakdown:
        enc = f"encoder {breakdown['encoder_s']:.3f} s, " if "encoder_s" in breakdown else ""
        lines.append(f"student at {breakdown['threads']} thread(s): {enc}decoder {breakdown['decoder_s']:.3f} s "
                     f"({breakdown['per_step_ms']:.1f} ms/step); {100 * breakdown['in_torch_ops']:.0f}% of the time in torch ops, "
                     f"{100 * breakdown['in_matrix_products']:.0f}% in matrix products")
    for device in dict.fromkeys(table.device):
        if device != "cpu":
            lines.append(f"speedup on {device}: {speedup(table, device):.1f}x")
    lines.append(f"speedup: {speedup(table):.1f}x")
    return "\n".join(lines)
