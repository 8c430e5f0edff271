"""`python -m utils rehearse`: the colab profile's path (notebooks 02-05 and 07) at real size, offline, with random weights.

The real architectures are built from their configurations (`inspection.REAL_CONFIGS`: santacoder, 1.1B, 24 layers,
multi-query, 2,048 positions, vocabulary 49,280; flan-t5-small, 77M, 8+8 layers, gated-GELU, untied head) with random
weights, and the colab profile's settings drive each stage through the series' own code: `fim.build_fim` (02),
`teacher.generate_teacher` (03), the rationale cost estimate and request messages (04, nothing is sent), the
`StepByStepTrainer` from `training.make_trainer` (05) and `student.generate_middles` (06). A handful of sample
examples is repeated to fill each batch, so every batch has the colab profile's size and lengths and its time and
memory are real. Per stage it prints the wall time and the peak memory; then an ESTIMATE of the whole colab series
on a T4, from the work measured here (FLOPs) and the T4's published throughput, and whether it fits the T4's 15 GB.
Quality cannot be measured with random weights: it reads n/a.
"""

from __future__ import annotations

import dataclasses
import gc
import math
import resource
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset, DatasetDict
from datasets.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars
from transformers import (
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    TrainerCallback,
)
from transformers.utils import logging as hf_logging

from .artifacts import stage_dir
from .config import TEACHER_HUB_ID, Config, UserError
from .fim import build_fim, save_fim
from .inspection import REAL_CONFIGS, count_parameters, kv_cache_bytes
from .models import load_tokenizer, pick_device, pick_dtype, sync, torch_threads
from .rationale import estimate_cost, row_messages
from .student import generate_middles, prepare_student
from .teacher import encode, generate_teacher, make_backend
from .speed import real_size_model
from .tiny import explain_gap
from .training import StepByStepCollator, build_task_dataset, make_trainer, update_budget, variant_names, variant_spec

# NVIDIA T4, published figures (datasheet): tensor-core fp16 peak, fp32 peak, memory bandwidth, memory
T4_FP16_FLOPS = 65e12
T4_FP32_FLOPS = 8.1e12
T4_BANDWIDTH = 320e9  # bytes/s
T4_MEMORY = 15e9  # bytes usable (16 GB card; Colab reports about 15 GB)
# ASSUMPTIONS of the estimate, stated in its output
UTILISATION = 0.35  # share of peak FLOPs eager PyTorch reaches on these shapes (typically 0.3-0.5)
DECODE_STEP_S = {"teacher": 0.030, "student": 0.015}  # floor per generated token of eager `generate` (kernel launches)
CUDA_CONTEXT = 0.5e9  # bytes the CUDA context and cuBLAS workspaces take beside the tensors
RATIONALE_REQUEST_S = 3.0  # latency of one chat request (gpt-4o-mini, ~100 output tokens), assumed
REHEARSAL_TEACHER_TOKENIZER = "tiny-teacher"
TRAINED_VARIANT = "finetune_explain"  # step_by_step's two-task graph, on the true middles (a random teacher's are noise)  # santacoder's FIM tokens; santacoder's own tokenizer is not offline


@dataclass
class Stage:
    """What one stage measured: wall time, peak memory (and how it was read), the work done, notes."""

    name: str
    seconds: float = 0.0
    peak_growth: int = 0  # bytes above the stage's start
    peak_total: int = 0  # bytes, the whole process (CPU) or all tensors (CUDA)
    flops: float = 0.0  # work measured (0: not counted)
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- measuring


def _status_bytes(key: str) -> int:
    """A `kB` line of /proc/self/status (VmRSS, VmHWM) in bytes; 0 where there is no such file."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _reset_peak_rss() -> bool:
    """Reset the process's resident high-water mark (VmHWM) to its current size; False where Linux refuses."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def memory_method(device: torch.device) -> str:
    """How `measure` reads peak memory on `device`, in words for the output."""
    if device.type == "cuda":
        return "torch.cuda.max_memory_allocated (tensors only; the CUDA context is not counted)"
    if _reset_peak_rss() and _status_bytes("VmHWM"):
        return ("the process's resident-set high-water mark (VmHWM in /proc/self/status), reset at each stage's start "
                "through /proc/self/clear_refs; growth = peak minus the resident size at the start")
    return ("growth of resource.getrusage's ru_maxrss (a lower bound: growth that stays under an earlier stage's peak "
            "is not seen)")


@contextmanager
def measure(stage: Stage, device: torch.device) -> Iterator[Stage]:
    """Time the block and record its peak memory into `stage` (CUDA: allocated tensors; CPU: resident set)."""
    gc.collect()
    if device.type == "cuda":
        sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        start_mem = torch.cuda.memory_allocated(device)
    else:
        start_mem = _status_bytes("VmRSS")
        hwm = _reset_peak_rss() and _status_bytes("VmHWM") > 0
        start_max = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    try:
        yield stage
    finally:
        sync(device)
        stage.seconds = time.perf_counter() - start
        if device.type == "cuda":
            stage.peak_total = torch.cuda.max_memory_allocated(device)
            stage.peak_growth = stage.peak_total - start_mem
        elif hwm:
            stage.peak_total = _status_bytes("VmHWM")
            stage.peak_growth = max(0, stage.peak_total - start_mem)
        else:
            stage.peak_total = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            stage.peak_growth = max(0, stage.peak_total - start_max)


class SavedActivations(TrainerCallback):
    """Bytes autograd keeps for backward per micro-batch (parameters excluded): activation memory, whatever the allocator.

    Use as a Trainer callback inside `with meter.hooks():`; `peak` is the largest micro-batch's total, `largest` its
    largest single tensor.
    """

    def __init__(self, model: torch.nn.Module):
        self.params = {p.untyped_storage().data_ptr() for p in model.parameters()}
        self.current: dict[int, int] = {}
        self.peak = 0
        self.largest = 0

    def _pack(self, tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in self.params:
            self.current[storage.data_ptr()] = storage.nbytes()
        return tensor

    def _close(self) -> None:
        """End of a micro-batch: keep its total if it is the largest so far."""
        if self.current:
            self.peak = max(self.peak, sum(self.current.values()))
            self.largest = max(self.largest, max(self.current.values()))
        self.current = {}

    @contextmanager
    def hooks(self) -> Iterator["SavedActivations"]:
        """Count what every forward inside the block saves for backward."""
        with torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t):
            yield self

    def on_substep_end(self, args, state, control, **kwargs):
        """A micro-batch of gradient accumulation ended."""
        self._close()

    def on_step_end(self, args, state, control, **kwargs):
        """The last micro-batch of an update ended."""
        self._close()


# --------------------------------------------------------------------------- the models, real size, random weights


def rehearsal_config(cfg: Config, work: Path, student_dir: Path, teacher_new_tokens: int | None) -> Config:
    """`cfg` (the colab profile's settings) made offline: the sample corpus, the local student folder, `work` for artifacts."""
    return dataclasses.replace(
        cfg, corpus="sample", max_files=None, teacher=REHEARSAL_TEACHER_TOKENIZER, student=str(student_dir),
        artifacts_dir=str(work), run_name="rehearse", teacher_backend="transformers",
        max_examples={"train": None, "valid": None, "test": None},
        max_new_tokens=teacher_new_tokens or cfg.max_new_tokens, push_to_hub=False,
    )


def longest(rows: Dataset, n: int) -> Dataset:
    """The `n` rows with the longest teacher prompts (closest to the profile's segment length), longest first."""
    lengths = [len(t) for t in rows["teacher_input"]]
    return rows.select(sorted(range(len(rows)), key=lambda i: -lengths[i])[:n])


def student_tokenizer(t5_tokenizer: str | Path | None) -> PreTrainedTokenizerBase:
    """The real T5 tokenizer from a folder when given, else the tiny student's."""
    if t5_tokenizer is None:
        return load_tokenizer("tiny-student")
    folder = Path(t5_tokenizer)
    if not folder.is_dir():
        raise UserError(f"--t5-tokenizer {t5_tokenizer}: no such folder (give the folder of T5's tokenizer.json / spiece.model)")
    return AutoTokenizer.from_pretrained(str(folder))


def build_student_folder(out: Path, tokenizer: PreTrainedTokenizerBase, seed: int) -> Path:
    """flan-t5-small's architecture with random weights and its own (untied) lm_head, saved with `tokenizer` to `out`."""
    model = real_size_model("student", seed=seed)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def build_teacher(device: torch.device, dtype: torch.dtype, seed: int) -> PreTrainedModel:
    """santacoder's architecture (GPTBigCode, multi-query) with random weights, on `device` in `dtype`."""
    return real_size_model("teacher", seed=seed).to(device=device, dtype=dtype)


def teacher_dtype(cfg: Config, device: torch.device) -> torch.dtype:
    """The profile's teacher dtype on a GPU; fp32 on a CPU (half precision there is slow and not what Colab runs)."""
    return pick_dtype(cfg.dtype, device) if device.type == "cuda" else torch.float32


# --------------------------------------------------------------------------- batches from a handful of examples


def fill(rows: Dataset, n: int, tag: str) -> Dataset:
    """`n` rows cycled from `rows`, each copy with its own id (`<id>#<tag><k>`), so a batch has the profile's size."""
    if len(rows) == 0:
        raise UserError("the rehearsal found no examples in the sample corpus: check data/moonscript")
    picked = rows.select([i % len(rows) for i in range(n)])
    return picked.map(lambda row, k: {"id": f"{row['id']}#{tag}{k}"}, with_indices=True, keep_in_memory=True)


def with_rationales(rows: Dataset) -> Dataset:
    """`rows` with a `rationale` column from the rule-based tiny explainer (the chat endpoint is not reachable offline)."""
    texts = [explain_gap(p, m, s) for p, m, s in zip(rows["prefix"], rows["middle"], rows["suffix"])]
    return rows.add_column("rationale", texts)


# --------------------------------------------------------------------------- work in FLOPs


def linear_params(model: PreTrainedModel) -> dict[str, int]:
    """Parameters that multiply each token: encoder, decoder and output head (embedding lookups excluded)."""
    if not model.config.is_encoder_decoder:
        total = sum(p.numel() for p in model.parameters())
        return {"decoder": total - model.get_input_embeddings().weight.numel() - model.transformer.wpe.weight.numel()
                + model.get_output_embeddings().weight.numel()}
    enc = sum(p.numel() for n, p in model.encoder.named_parameters() if "embed" not in n)
    dec = sum(p.numel() for n, p in model.decoder.named_parameters() if "embed" not in n)
    return {"encoder": enc, "decoder": dec + model.get_output_embeddings().weight.numel()}


def seq2seq_flops(params: dict[str, int], input_tokens: int, label_tokens: int, factor: int) -> float:
    """`factor` x params x tokens (2: forward, 6: training) over the encoder's and the decoder's tokens (padded)."""
    return factor * (params["encoder"] * input_tokens + params["decoder"] * label_tokens)


def batch_shapes(collator: StepByStepCollator, features: list[dict]) -> dict[str, int]:
    """The padded shape of one training batch as the collator builds it: rows (both tasks), input and label lengths."""
    batch = collator(features)
    rows, width = batch["input_ids"].shape
    return {"rows": int(rows), "input_len": int(width), "label_len": int(batch["labels"].shape[1]),
            "explain_rows": int((batch["task"] == 1).sum())}


# --------------------------------------------------------------------------- the stages


@dataclass
class Rehearsal:
    """The measured stages and the numbers the T4 estimate scales."""

    cfg: Config  # the colab profile's settings as given
    rcfg: Config  # the same, made offline
    device: torch.device
    stages: list[Stage] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


def stage_fim(r: Rehearsal) -> DatasetDict:
    """02: load the sample corpus, clean it with the parser, split by file, cut 512-token segments and FIM spans; save."""
    with measure(Stage("02 FIM build (sample corpus)"), r.device) as st:
        build = build_fim(r.rcfg)
        save_fim(build, stage_dir(r.rcfg, "fim"))
    seg = build.stats["segments"]
    st.notes.append(f"{build.stats['files_kept']} files, {seg['count']} segments of up to {r.rcfg.segment_tokens} teacher "
                    f"tokens (mean {seg['tokens_mean']}), rows kept per split: "
                    + ", ".join(f"{s} {len(build.dataset[s])}" for s in build.dataset))
    r.facts["sample_files"] = build.stats["files_kept"]
    r.stages.append(st)
    return build.dataset


def stage_teacher(r: Rehearsal, rows: Dataset) -> DatasetDict:
    """03: santacoder at real size generates one batch of `teacher_batch_size` prompts through `generate_teacher`."""
    dtype = teacher_dtype(r.cfg, r.device)
    with measure(Stage(f"03 teacher: build santacoder-size model ({str(dtype).replace('torch.', '')}, random)"), r.device) as st:
        model = build_teacher(r.device, dtype, r.cfg.seed)
    n_params = sum(p.numel() for p in model.parameters())
    st.notes.append(f"{n_params / 1e9:.3f}B parameters (count_parameters of the real config: "
                    f"{count_parameters(REAL_CONFIGS[TEACHER_HUB_ID]) / 1e9:.3f}B), vocabulary "
                    f"{model.config.vocab_size:,}, context {model.config.n_positions}")
    r.stages.append(st)
    tok = load_tokenizer(REHEARSAL_TEACHER_TOKENIZER)
    batch = DatasetDict({"train": fill(rows, r.rcfg.teacher_batch_size, "t")})
    prompt_lens = [len(encode(tok, p)) for p in batch["train"]["teacher_input"]]
    with measure(Stage(f"03 teacher: generate a batch of {r.rcfg.teacher_batch_size}"), r.device) as st:
        with torch_threads(r.rcfg.torch_threads):
            out, stats = generate_teacher(r.rcfg, batch, backend=make_backend(r.rcfg, model, tok),
                                          cache=Path(r.rcfg.artifacts_dir) / "teacher-cache.jsonl", progress=False)
    new_tokens = stats["new_tokens"]
    max_new = stats["settings"]["max_new_tokens"]
    params = linear_params(model)["decoder"]
    st.flops = 2 * params * (len(prompt_lens) * max(prompt_lens) + new_tokens)
    st.notes.append(f"prompts of {min(prompt_lens)}-{max(prompt_lens)} tokens (left-padded to {max(prompt_lens)}), "
                    f"{new_tokens} new tokens in all, up to {max_new} per prompt (colab: {r.cfg.max_new_tokens}); "
                    f"tokenizer: the tiny teacher's (santacoder's FIM tokens, {len(tok):,} pieces; santacoder's own is "
                    f"not available offline), model vocabulary {model.config.vocab_size:,} as santacoder's (generated "
                    "ids the tiny tokenizer lacks decode to nothing)")
    r.facts.update(teacher_params=n_params, teacher_linear=params, prompt_tokens=sum(prompt_lens) / len(prompt_lens),
                   teacher_weights=sum(p.numel() * p.element_size() for p in model.parameters()))
    r.stages.append(st)
    del model
    gc.collect()
    return out


def stage_rationale(r: Rehearsal, fim: DatasetDict, rows: Dataset) -> Dataset:
    """04: the cost estimate and the request messages at colab settings (nothing sent); rationales from the tiny explainer."""
    with measure(Stage("04 rationale: cost estimate and requests (none sent)"), r.device) as st:
        cost = estimate_cost(fim, r.rcfg)
        messages = [row_messages(row, r.rcfg) for row in fim["train"]]
        explained = with_rationales(rows)
    per_request = cost.loc["total", "usd"] / max(1, cost.loc["total", "requests"])
    r.facts["usd_per_request"] = per_request
    st.notes.append(f"{len(messages)} requests built for {r.rcfg.rationale_model} ({len(messages[0])} messages each, "
                    f"{r.rcfg.rationale_few_shot} few-shot); estimated ${per_request:.5f} per request (output at its "
                    "limit). No request is sent: the chat endpoint is not reachable offline. The training step's "
                    "rationales come from the rule-based tiny explainer.")
    r.stages.append(st)
    return explained


def stage_training(r: Rehearsal, rows: Dataset, steps: int, work: Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """05: `finetune_explain` (predict + explain) for `steps` updates at the colab batch size and lengths, via the series' Trainer.

    Its graph is step_by_step's (both tasks in one batch); its predict labels are the true middles, because a random
    teacher's answers are noise of no realistic length.
    """
    spec = variant_spec(r.rcfg, TRAINED_VARIANT)
    with measure(Stage(f"05 training: {steps} step(s) of {TRAINED_VARIANT}, batch {r.rcfg.train_batch_size} x "
                       f"{r.rcfg.gradient_accumulation_steps}"), r.device) as st:
        model, tok = prepare_student(r.rcfg, device=str(r.device))
        per_update = r.rcfg.train_batch_size * r.rcfg.gradient_accumulation_steps
        train_ds, stats = build_task_dataset(fill(rows, per_update * steps, "s"), tok, r.rcfg, spec)
        meter = SavedActivations(model)
        trainer, _ = make_trainer(r.rcfg, spec, model, tok, train_ds, None, work / "checkpoints", False, [meter], steps)
        shapes = batch_shapes(trainer.data_collator, [train_ds[i] for i in range(r.rcfg.train_batch_size)])
        with torch_threads(r.rcfg.torch_threads), meter.hooks():
            result = trainer.train()
    params = linear_params(model)
    predict_rows = shapes["rows"] - shapes["explain_rows"]
    per_batch = seq2seq_flops(params, shapes["rows"] * shapes["input_len"], shapes["rows"] * shapes["label_len"], 6)
    st.flops = per_batch * steps
    st.notes.append(f"student {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters (vocabulary "
                    f"{model.config.vocab_size:,} after the code-safe tokenizer's {len(tok):,} pieces); a batch is "
                    f"{predict_rows} predict + {shapes['explain_rows']} explain rows x {shapes['input_len']} input tokens, "
                    f"labels padded to {shapes['label_len']} (limits: {r.rcfg.student_max_input_tokens} / "
                    f"{r.rcfg.max_target_tokens} / {r.rcfg.max_rationale_tokens}); inputs cut to fit: "
                    f"{stats['input_truncated']}/{stats['rows']}; loss {result.training_loss:.3f} (random weights); "
                    f"Adam states are allocated in step 1, so step 2 holds the steady-state peak; labels: the true middles "
                    "(step_by_step's graph and lengths; a random teacher's answers are noise)")
    st.flops *= r.rcfg.gradient_accumulation_steps
    st.notes.append(f"autograd kept {meter.peak / 1e9:.2f} GB of activations for backward per micro-batch of "
                    f"{r.rcfg.train_batch_size} (largest tensor {meter.largest / 1e6:.0f} MB), counted tensor by tensor "
                    f"(saved_tensors_hooks), whatever the allocator; {r.rcfg.gradient_accumulation_steps} micro-batch(es) per update")
    r.facts.update(student_linear=params, train_shapes=shapes, train_step_flops=per_batch * r.rcfg.gradient_accumulation_steps,
                   activations=meter.peak, largest_activation=meter.largest,
                   student_params=sum(p.numel() for p in model.parameters()))
    r.stages.append(st)
    return model, tok


def stage_evaluation(r: Rehearsal, model: PreTrainedModel, tok: PreTrainedTokenizerBase, rows: Dataset) -> None:
    """07: the student generates middles for one batch of `eval_batch_size` test inputs through `generate_middles`."""
    inputs = list(fill(rows, r.rcfg.eval_batch_size, "e")["student_input"])
    with measure(Stage(f"07 evaluation: generate a batch of {r.rcfg.eval_batch_size}"), r.device) as st:
        middles = generate_middles(model, tok, inputs, r.rcfg)
    out_tokens = sum(len(tok(m, add_special_tokens=False)["input_ids"]) for m in middles)
    params = linear_params(model)
    st.flops = seq2seq_flops(params, len(inputs) * r.rcfg.student_max_input_tokens, len(inputs) * r.rcfg.max_target_tokens, 2)
    st.notes.append(f"up to {r.rcfg.max_target_tokens} new tokens per input (about {out_tokens} decoded text tokens in all); "
                    "quality (exact match, edit similarity, chrF, BLEU, parses): n/a (random weights)")
    r.facts["eval_batch_seconds"] = st.seconds
    r.stages.append(st)


# --------------------------------------------------------------------------- the T4 estimate


def colab_rows(cfg: Config) -> dict[str, int]:
    """Rows per split of the colab series (upper bound): the split's cap, or what max_files x segments x spans can give."""
    fractions = dict(zip(("train", "valid", "test"), cfg.split_fractions))
    files = cfg.max_files or 6159  # The Stack's MoonScript files
    per_file = (cfg.max_segments_per_file or 8) * cfg.spans_per_segment
    return {s: min(cap or math.inf, int(files * fractions[s] * per_file)) for s, cap in cfg.max_examples.items()}


def decode_seconds(steps: int, weight_bytes: float, floor: float) -> float:
    """Seconds for `steps` generated-token steps: each reads every weight once, or takes the launch floor if longer."""
    return steps * max(weight_bytes / T4_BANDWIDTH, floor)


def t4_estimate(r: Rehearsal) -> list[tuple[str, float, str]]:
    """(notebook, seconds, how) for the whole colab series on a T4, scaled from the measured work: an ESTIMATE."""
    cfg, f = r.cfg, r.facts
    rows = colab_rows(cfg)
    total_rows = sum(rows.values())
    fim = next(s for s in r.stages if s.name.startswith("02"))
    files = cfg.max_files or 6159
    out = [("02 FIM build", fim.seconds * files / max(1, f["sample_files"]),
            f"CPU work, measured {fim.seconds:.0f} s for {f['sample_files']} files x {files} files (The Stack download not included)")]
    # 03: prefill is compute (fp16 tensor cores); each new token reads the fp16 weights once per batch
    batches = math.ceil(total_rows / cfg.teacher_batch_size)
    prefill = 2 * f["teacher_linear"] * f["prompt_tokens"] * total_rows / (T4_FP16_FLOPS * UTILISATION)
    decode = decode_seconds(batches * cfg.max_new_tokens, 2 * f["teacher_params"], DECODE_STEP_S["teacher"])
    out.append(("03 teacher generation", prefill + decode,
                f"{total_rows} rows: prefill 2 x {f['teacher_linear'] / 1e9:.2f}B x {f['prompt_tokens']:.0f} tokens at "
                f"{UTILISATION:.0%} of 65 TFLOPS fp16 ({prefill:.0f} s) + {batches} batches x {cfg.max_new_tokens} new tokens "
                f"(upper bound) at max(fp16 weights / 320 GB/s, {DECODE_STEP_S['teacher'] * 1000:.0f} ms) ({decode:.0f} s)"))
    requests = rows["train"] if cfg.rationale_splits == ("train",) else total_rows
    out.append(("04 rationales", requests * RATIONALE_REQUEST_S / cfg.rationale_concurrency,
                f"{requests} requests x {RATIONALE_REQUEST_S:.0f} s assumed latency / {cfg.rationale_concurrency} in flight "
                f"(network, not FLOPs; about ${requests * f['usd_per_request']:.2f})"))
    # 05: fp32 training (a T4 has no bf16; T5 overflows in fp16), predict-only points have half the rows of explain ones
    points = variant_names(cfg)
    steps = update_budget(cfg, rows["train"])
    explain_points = sum(variant_spec(cfg, p).explain for p in points)
    step_flops = f["train_step_flops"]
    predict_flops = step_flops * (f["train_shapes"]["rows"] - f["train_shapes"]["explain_rows"]) / f["train_shapes"]["rows"]
    train_flops = steps * (explain_points * step_flops + (len(points) - explain_points) * predict_flops)
    train_s = train_flops / (T4_FP32_FLOPS * UTILISATION)
    # the kept model of each point generates the valid middles once (twice at full data: with and without the guard);
    # the valid-loss evaluations during training are forward passes only, not counted
    evals = len(points) + sum(variant_spec(cfg, p).fraction >= 1 for p in points)
    gen_batch = decode_seconds(cfg.max_target_tokens, 4 * f["student_params"], DECODE_STEP_S["student"])
    eval_s = evals * math.ceil(rows["valid"] / cfg.eval_batch_size) * gen_batch
    out.append(("05 training", train_s + eval_s,
                f"{len(points)} points x {steps} steps: {train_flops / 1e15:.0f} PFLOP at {UTILISATION:.0%} of 8.1 TFLOPS "
                f"fp32 ({train_s:.0f} s) + {evals} generation passes over {rows['valid']} valid rows, {cfg.max_target_tokens} "
                f"tokens per batch at {DECODE_STEP_S['student'] * 1000:.0f} ms ({eval_s:.0f} s)"))
    # 06: one teacher pass over each train row's prompt + middle (prefill only), then one predict-only point with ULD
    logits_s = 2 * f["teacher_linear"] * (f["prompt_tokens"] + cfg.max_new_tokens) * rows["train"] / (T4_FP16_FLOPS * UTILISATION)
    point_s = steps * predict_flops / (T4_FP32_FLOPS * UTILISATION) + 2 * math.ceil(rows["valid"] / cfg.eval_batch_size) * gen_batch
    out.append(("06 logit distillation", logits_s + point_s,
                f"the teacher over {rows['train']} train rows, prefill only ({logits_s:.0f} s) + one predict-only point "
                f"(logit_distill) like those of 05 ({point_s:.0f} s)"))
    systems = 2 + len(points)  # the untrained student, every point, logit_distill
    test_s = systems * (math.ceil(rows["test"] / cfg.eval_batch_size) + math.ceil(cfg.bench_examples / cfg.eval_batch_size)) * gen_batch
    bench_teacher = decode_seconds(math.ceil(cfg.bench_examples / cfg.teacher_batch_size) * cfg.max_new_tokens,
                                   2 * f["teacher_params"], DECODE_STEP_S["teacher"])
    out.append(("07 evaluation", test_s + bench_teacher,
                f"{systems} students x {rows['test']} test rows (+ {cfg.bench_examples} timed), {cfg.max_target_tokens} "
                f"tokens per batch of {cfg.eval_batch_size} ({test_s:.0f} s) + the teacher timed ({bench_teacher:.0f} s)"))
    return out


def t4_memory(r: Rehearsal) -> list[tuple[str, float, str]]:
    """(stage, bytes on a T4, how) from the memory measured here: an ESTIMATE."""
    f = r.facts
    gen = next(s for s in r.stages if s.name.startswith("03 teacher: generate"))
    train = next(s for s in r.stages if s.name.startswith("05"))
    if r.device.type == "cuda":
        return [("03 teacher (fp16)", gen.peak_total + CUDA_CONTEXT, "measured on this GPU + the CUDA context"),
                ("05 training (fp32)", train.peak_growth + CUDA_CONTEXT, "measured on this GPU + the CUDA context")]
    kv = kv_cache_bytes(REAL_CONFIGS[TEACHER_HUB_ID], int(f["prompt_tokens"]) + r.cfg.max_new_tokens, 2) * r.cfg.teacher_batch_size
    teacher = (f["teacher_weights"] + gen.peak_growth) / 2 + kv + CUDA_CONTEXT
    return [("03 teacher (fp16)", teacher,
             f"(fp32 weights {f['teacher_weights'] / 1e9:.1f} GB + generation peak {gen.peak_growth / 1e9:.2f} GB, measured "
             f"on CPU) / 2 for fp16 + KV cache at {r.cfg.max_new_tokens} new tokens ({kv / 1e6:.0f} MB) + CUDA context"),
            ("05 training (fp32)", training_bytes(f),
             f"16 bytes x {f['student_params'] / 1e6:.1f}M parameters (fp32 weights, gradients, Adam's two moments) + "
             f"activations kept for backward {f['activations'] / 1e9:.2f} GB + twice the largest ({f['largest_activation'] / 1e6:.0f} "
             f"MB, the backward's transients) + CUDA context; the CPU's resident peak was {train.peak_growth / 1e9:.2f} GB "
             "(an upper bound: the CPU allocator and oneDNN buffers included)")]


def training_bytes(facts: dict[str, Any]) -> float:
    """GPU bytes of fp32 training: weights, gradients and Adam states (16 bytes a parameter), saved activations, transients."""
    return 16 * facts["student_params"] + facts["activations"] + 2 * facts["largest_activation"] + CUDA_CONTEXT


# --------------------------------------------------------------------------- report


def _gb(n: float) -> str:
    return f"{n / 1e9:.2f} GB"


def _clock(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def report(r: Rehearsal, method: str, total_seconds: float) -> str:
    """The printed report: per-stage time and memory, the T4 time and memory estimates, quality n/a."""
    lines = [f"measured on {r.device.type.upper()} ({torch.get_num_threads()} torch threads); peak memory: {method}", ""]
    width = max(len(s.name) for s in r.stages)
    lines.append(f"{'stage':<{width}}  {'wall':>8}  {'peak growth':>11}  {'peak total':>10}  {'work':>10}  {'achieved':>12}")
    for s in r.stages:
        work = f"{s.flops / 1e12:.2f} TFLOP" if s.flops else "-"
        rate = f"{s.flops / s.seconds / 1e9:.0f} GFLOP/s" if s.flops and s.seconds else "-"
        lines.append(f"{s.name:<{width}}  {s.seconds:7.1f}s  {_gb(s.peak_growth):>11}  {_gb(s.peak_total):>10}  {work:>10}  {rate:>12}")
    lines.append(f"{'total (with set-up)':<{width}}  {total_seconds:7.1f}s")
    lines.append("")
    for s in r.stages:
        for note in s.notes:
            lines.append(f"- {s.name}: {note}")
    lines += ["", "quality (exact match, edit similarity, chrF, BLEU, parse rate): n/a (random weights)", ""]
    est = t4_estimate(r)
    lines.append(f"ESTIMATE of the whole colab series on a T4 (not measured; FLOPs of the work above x the colab profile's "
                 f"counts, T4 peaks 65 TFLOPS fp16 tensor / 8.1 TFLOPS fp32 / 320 GB/s at an assumed {UTILISATION:.0%} "
                 f"utilisation, {DECODE_STEP_S['teacher'] * 1000:.0f} / {DECODE_STEP_S['student'] * 1000:.0f} ms assumed "
                 "floor per generated token of teacher / student):")
    for name, seconds, how in est:
        lines.append(f"  {name:<22} ~{_clock(seconds):>9}   {how}")
    lines.append(f"  {'total':<22} ~{_clock(sum(s for _, s, _ in est)):>9}   (model downloads, installs and notebook start-up not included)")
    lines.append("")
    lines.append("ESTIMATE of peak GPU memory on a T4 (15 GB):")
    for name, nbytes, how in t4_memory(r):
        verdict = "fits" if nbytes < T4_MEMORY else "DOES NOT FIT"
        lines.append(f"  {name:<22} ~{_gb(nbytes):>8}  {verdict}   {how}")
    return "\n".join(lines)


def rehearse(cfg: Config, examples: int = 8, t5_tokenizer: str | Path | None = None, train_steps: int = 2,
             teacher_new_tokens: int | None = None, work_dir: str | Path | None = None) -> str:
    """Run the colab path at real size with random weights, offline, and return the report (see the module's docstring)."""
    if examples < 1 or train_steps < 1 or (teacher_new_tokens or 0) < 0:
        raise UserError("--examples and --train-steps take a number of 1 or more, --teacher-new-tokens 0 or more")
    device = pick_device(cfg.device)
    start = time.perf_counter()
    method = memory_method(device)
    work = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="distil-rehearse-"))
    try:
        with quiet_progress():
            student_dir = build_student_folder(work / "student", student_tokenizer(t5_tokenizer), cfg.seed)
            r = Rehearsal(cfg, rehearsal_config(cfg, work / "artifacts", student_dir, teacher_new_tokens), device)
            fim = stage_fim(r)
            train = longest(fim["train"], examples)
            stage_teacher(r, train)
            explained = stage_rationale(r, fim, train)
            model, tok = stage_training(r, explained, train_steps, work)
            stage_evaluation(r, model, tok, longest(fim["test"] if len(fim["test"]) else fim["train"], examples))
        return report(r, method, time.perf_counter() - start)
    finally:
        if not work_dir:
            shutil.rmtree(work, ignore_errors=True)


@contextmanager
def quiet_progress() -> Iterator[None]:
    """No progress bars from datasets' maps and transformers' weight loading (the Trainer's own bar stays)."""
    was_disabled = are_progress_bars_disabled()
    disable_progress_bars()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.enable_progress_bar()
        if not was_disabled:
            enable_progress_bars()


def describe_run(cfg: Config, t5_tokenizer: str | Path | None, teacher_new_tokens: int | None = None) -> str:
    """The first lines printed: what runs, with which settings, and what is not real about it."""
    tok = f"the real T5 tokenizer from {t5_tokenizer}" if t5_tokenizer else "the tiny student's tokenizer (no --t5-tokenizer)"
    return (f"rehearsal of profile {cfg.profile!r} at real size, offline, RANDOM weights: santacoder's and flan-t5-small's "
            f"architectures from utils/inspection.py's REAL_CONFIGS; student tokenizer: {tok}; teacher tokenizer: the tiny "
            f"teacher's (santacoder's FIM tokens) with santacoder's vocabulary size in the model; settings: "
            f"segment_tokens={cfg.segment_tokens}, teacher_batch_size={cfg.teacher_batch_size}, max_new_tokens={cfg.max_new_tokens} "
            f"({teacher_new_tokens or cfg.max_new_tokens} in this rehearsal), "
            f"dtype={cfg.dtype} (on a GPU; fp32 on a CPU), train_batch_size={cfg.train_batch_size}, "
            f"student_max_input_tokens={cfg.student_max_input_tokens}, max_target_tokens={cfg.max_target_tokens}, "
            f"max_rationale_tokens={cfg.max_rationale_tokens}, eval_batch_size={cfg.eval_batch_size}")


def rehearse_command(cfg: Config, examples: int, t5_tokenizer: str | None, train_steps: int, teacher_new_tokens: int | None,
                     print_: Callable[[str], None] = print) -> None:
    """`python -m utils rehearse`: print what runs, run it, print the report."""
    print_(describe_run(cfg, t5_tokenizer, teacher_new_tokens))
    print_(rehearse(cfg, examples, t5_tokenizer, train_steps, teacher_new_tokens))
