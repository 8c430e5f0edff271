"""Distilling step-by-step on the Hugging Face `Seq2SeqTrainer` (notebook 05).

The student learns two tasks from the same example (Hsieh et al., 2023):

- `predict: <prefix><extra_id_0><suffix>` -> the missing middle (the teacher's, or the true one);
- `explain: <prefix><extra_id_0><suffix>` -> the rationale written for that segment;

with loss `alpha * predict + (1 - alpha) * explain`. Two baselines share the code and the
budget: `finetune` (true middles, predict only) and `distill` (teacher middles, predict only).

Both tasks of a batch go through the model in ONE forward pass (predict rows, then explain
rows, told apart by a `task` column), so the loss is per-task token means of one graph:
this keeps it correct under DDP (`torchrun`, `accelerate launch`), where two forward
passes before one backward are not allowed. The original repository's two-pass
`TaskPrefixTrainer` computes the same numbers on a single device.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from datasets import Dataset, DatasetDict
from accelerate import PartialState
from transformers import (
    DataCollatorForSeq2Seq,
    EarlyStoppingCallback,
    EvalPrediction,
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    ProgressCallback,
    Seq2SeqTrainer,
    Seq2SeqTrainingArguments,
    TrainerCallback,
)
from transformers.trainer_utils import get_last_checkpoint

from .config import HOLE, REPO_ROOT, Config, UserError
from .artifacts import load_merged, relative, write_json
from .metrics import edit_similarity, exact_match, is_empty
from .models import load_student
from .tokenization import SPACE, decode_ids, encode_batch, encode_text, make_code_safe, resize_for_tokenizer

TASK_PREFIX = {"predict": "predict: ", "explain": "explain: "}
PREDICT, EXPLAIN = 0, 1  # values of the collator's `task` column


@dataclass(frozen=True)
class Variant:
    """What one trained student learns: its predict labels and whether it also explains."""

    name: str
    labels: str  # "gold" (the true middle) or "teacher" (the teacher's middle)
    explain: bool
    description: str


def variant_spec(cfg: Config, name: str) -> Variant:
    """The recipe of variant `name` (finetune, distill or step_by_step) under `cfg.label_type`."""
    if cfg.label_type not in ("teacher", "gold"):
        raise UserError(f"label_type={cfg.label_type!r}: use 'teacher' (the teacher's middles) or 'gold' (the true middles)")
    if name == "finetune":
        return Variant(name, "gold", False, "standard fine-tuning on the true middles (predict task only)")
    if name == "distill":
        return Variant(name, cfg.label_type, False, "standard distillation on the teacher's middles (predict task only)")
    if name == "step_by_step":
        return Variant(name, cfg.label_type, True, f"distilling step-by-step: predict the middle + explain the segment (alpha={cfg.alpha})")
    raise UserError(f"unknown variant {name!r}: choose among finetune, distill, step_by_step")


def required_columns(cfg: Config, variants: tuple[str, ...] | list[str] | None = None) -> tuple[str, ...]:
    """Columns the chosen variants need beyond the FIM rows (teacher_middle, rationale)."""
    specs = [variant_spec(cfg, v) for v in (variants or cfg.variants)]
    need = []
    if any(s.labels == "teacher" for s in specs):
        need.append("teacher_middle")
    if any(s.explain for s in specs):
        need.append("rationale")
    return tuple(need)


def load_training_data(cfg: Config, variants: tuple[str, ...] | list[str] | None = None) -> DatasetDict:
    """FIM rows joined with teacher middles and rationales; errors name the notebook to run first."""
    try:
        return load_merged(cfg, require=required_columns(cfg, variants))
    except UserError as err:
        if "teacher_middle" in str(err) and cfg.label_type == "teacher":
            raise UserError(f"{err} (or set label_type='gold' to train on the true middles instead)") from None
        raise


# --------------------------------------------------------------------------- the student


def generation_config(tokenizer: PreTrainedTokenizerBase, cfg: Config) -> GenerationConfig:
    """Greedy decoding that cannot answer with nothing: no EOS at step 1, no sentinels, no pad/unk."""
    banned = [i for t, i in tokenizer.get_vocab().items() if re.fullmatch(r"<extra_id_\d+>", t)]
    banned += [tokenizer.pad_token_id, tokenizer.unk_token_id]
    return GenerationConfig(
        decoder_start_token_id=tokenizer.pad_token_id,  # T5 starts decoding from pad (id 0)
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        max_new_tokens=cfg.max_target_tokens,
        begin_suppress_tokens=[tokenizer.eos_token_id],  # no EOS at the first step (= min_new_tokens=1)
        suppress_tokens=sorted(set(banned)),  # T5 likes to answer a hole with a sentinel
        do_sample=False,
        num_beams=1,
    )


class NoBlankAnswer(LogitsProcessor):
    """A true middle is never blank: no EOS while the answer is only whitespace, and no more whitespace after `max_blank` such tokens."""

    def __init__(self, blank_ids: list[int], eos_token_id: int, max_blank: int = 16):
        self.blank = torch.tensor(sorted(set(blank_ids)))
        self.eos = eos_token_id
        self.max_blank = max_blank  # a weak model can loop on newlines / indentation until max_new_tokens

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        """Mask EOS (and, past `max_blank` tokens, whitespace) in rows whose answer is still blank."""
        blank_ids = self.blank.to(input_ids.device)
        answer = input_ids[:, 1:]  # after the decoder start token
        blank = torch.isin(answer, blank_ids).all(dim=1)
        lowest = torch.finfo(scores.dtype).min
        scores[blank, self.eos] = lowest
        if answer.shape[1] >= self.max_blank and blank.any():
            rows = blank.nonzero(as_tuple=True)[0]
            scores[rows.unsqueeze(1), blank_ids.unsqueeze(0)] = lowest
        return scores


def blank_token_ids(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """Ids of the pieces that spell only whitespace (spaces, tabs, newlines, and their bytes)."""
    bytes_ws = {f"<0x{b:02X}>" for b in b" \t\n\r"}
    special = set(tokenizer.all_special_tokens)
    return [i for t, i in tokenizer.get_vocab().items() if t not in special and (t in bytes_ws or not t.replace(SPACE, " ").strip())]


def no_blank_processor(tokenizer: PreTrainedTokenizerBase) -> LogitsProcessorList:
    """`logits_processor` for `generate`: the answer must contain something besides whitespace."""
    return LogitsProcessorList([NoBlankAnswer(blank_token_ids(tokenizer), tokenizer.eos_token_id)])


def prepare_student(cfg: Config, device: str = "cpu") -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The untrained student with the code-safe tokenizer, resized embeddings and safe generation settings."""
    model, raw_tok = load_student(cfg.student, device=device, dtype="float32")
    tok = make_code_safe(raw_tok)
    model = resize_for_tokenizer(model, raw_tok, tok)
    model.config.decoder_start_token_id = tok.pad_token_id
    model.config.pad_token_id = tok.pad_token_id
    model.config.eos_token_id = tok.eos_token_id
    model.generation_config = generation_config(tok, cfg)
    if cfg.student_dropout is not None:  # a tiny model trained for minutes learns better without dropout
        model.config.dropout_rate = cfg.student_dropout
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = cfg.student_dropout
    return model, tok


# --------------------------------------------------------------------------- tokenization of the two tasks


def encode_inputs(tokenizer: PreTrainedTokenizerBase, texts: list[str], task: str, max_tokens: int) -> tuple[list[list[int]], int]:
    """Ids of `<task>: <text></s>`, cut around the hole to fit `max_tokens`; also how many were cut."""
    prefix = TASK_PREFIX[task]
    head = len(encode_text(tokenizer, prefix.rstrip()))
    hole = tokenizer.convert_tokens_to_ids(HOLE)
    eos = tokenizer.eos_token_id
    encoded = encode_batch(tokenizer, [prefix + t for t in texts])
    out, cut = [], 0
    for ids in encoded:
        if len(ids) + 1 <= max_tokens:
            out.append(ids + [eos])
            continue
        cut += 1
        budget = max_tokens - 1 - head
        if hole not in ids[head:]:
            out.append(ids[: max_tokens - 1] + [eos])
            continue
        at = ids.index(hole, head)
        left, right = ids[head:at], ids[at + 1 :]
        room = budget - 1  # the hole itself stays
        keep_left = min(len(left), max(room // 2, room - len(right)))
        keep_right = min(len(right), room - keep_left)
        out.append(ids[:head] + left[len(left) - keep_left :] + [hole] + right[:keep_right] + [eos])
    return out, cut


def encode_labels(tokenizer: PreTrainedTokenizerBase, texts: list[str], max_tokens: int) -> tuple[list[list[int]], int]:
    """Ids of each label + EOS (so the student learns to stop), cut to `max_tokens`; also how many were cut."""
    encoded = encode_batch(tokenizer, list(texts))
    cut = sum(len(ids) > max_tokens - 1 for ids in encoded)
    return [ids[: max_tokens - 1] + [tokenizer.eos_token_id] for ids in encoded], cut


def build_task_dataset(rows: Dataset, tokenizer: PreTrainedTokenizerBase, cfg: Config, variant: Variant | None = None) -> tuple[Dataset, dict[str, int]]:
    """Tokenized training rows of `variant` (predict + optional explain); `variant=None`: predict vs the true middle (evaluation).

    Rows with no label (a teacher that answered nothing) are dropped; rows with no
    rationale keep the predict task only. Every drop, fallback and truncation is counted.
    """
    labels_from = "middle" if variant is None or variant.labels == "gold" else "teacher_middle"
    stats = {"rows_in": len(rows)}
    if labels_from not in rows.column_names:
        raise UserError(f"the dataset has no {labels_from!r} column: run notebook 03_teacher_generation.ipynb first, or set label_type='gold'")
    keep = [i for i, label in enumerate(list(rows[labels_from])) if label is not None and label.strip()]
    stats["no_label_dropped"] = len(rows) - len(keep)
    if len(keep) < len(rows):
        rows = rows.select(keep)
    inputs, stats["input_truncated"] = encode_inputs(tokenizer, list(rows["student_input"]), "predict", cfg.student_max_input_tokens)
    labels, stats["label_truncated"] = encode_labels(tokenizer, list(rows[labels_from]), cfg.max_target_tokens)
    columns = {"input_ids": inputs, "labels": labels}
    if variant is not None and variant.explain:
        if "rationale" not in rows.column_names:
            raise UserError("the dataset has no 'rationale' column: run notebook 04_rationale_generation.ipynb first")
        rationales, student_inputs = list(rows["rationale"]), list(rows["student_input"])
        with_r = [i for i, r in enumerate(rationales) if r is not None and r.strip()]
        expl_in, stats["explain_input_truncated"] = encode_inputs(
            tokenizer, [student_inputs[i] for i in with_r], "explain", cfg.student_max_input_tokens
        )
        expl_lab, stats["rationale_truncated"] = encode_labels(tokenizer, [rationales[i] for i in with_r], cfg.max_rationale_tokens)
        by_row = dict(zip(with_r, zip(expl_in, expl_lab)))
        columns["expl_input_ids"] = [by_row.get(i, ([], []))[0] for i in range(len(rows))]
        columns["expl_labels"] = [by_row.get(i, ([], []))[1] for i in range(len(rows))]
        stats["no_rationale_predict_only"] = len(rows) - len(with_r)
    stats["rows"] = len(rows)
    return Dataset.from_dict(columns), stats


class StepByStepCollator:
    """Pads a batch holding both tasks per example: predict rows, then explain rows; labels padded with -100."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, model: PreTrainedModel | None = None, pad_to_multiple_of: int | None = None):
        # model: used to build decoder_input_ids from the labels (shift right, starting from pad)
        self.seq2seq = DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100, pad_to_multiple_of=pad_to_multiple_of)

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """One padded batch with a `task` column (0 predict, 1 explain)."""
        rows = [{"input_ids": f["input_ids"], "labels": f["labels"]} for f in features]
        task = [PREDICT] * len(rows)
        for f in features:
            if len(f.get("expl_labels") or []):
                rows.append({"input_ids": f["expl_input_ids"], "labels": f["expl_labels"]})
                task.append(EXPLAIN)
        batch = self.seq2seq(rows)
        batch["task"] = torch.tensor(task)
        return dict(batch)


class StepByStepTrainer(Seq2SeqTrainer):
    """`Seq2SeqTrainer` whose loss is `alpha * predict + (1 - alpha) * explain` (token means per task)."""

    loss_is_scaled_for_ga = False  # compute_loss returns a per-batch mean: the Trainer divides by accumulation steps

    def __init__(self, *args: Any, alpha: float = 0.5, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.alpha = alpha
        self._task_sums = torch.zeros(4)  # predict loss sum, predict batches, explain loss sum, explain batches

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """One forward pass over both tasks; the two losses are weighted by `alpha`."""
        task = inputs.pop("task", None)
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        per_token = F.cross_entropy(outputs.logits.float().transpose(1, 2), labels, ignore_index=-100, reduction="none")
        counted = (labels != -100).float()
        if task is None:
            task = torch.zeros(labels.shape[0], dtype=torch.long, device=labels.device)
        losses = {}
        for name, value in (("predict", PREDICT), ("explain", EXPLAIN)):
            rows = task == value
            if rows.any():
                losses[name] = per_token[rows].sum() / counted[rows].sum().clamp(min=1)
        if "predict" in losses and "explain" in losses:
            loss = self.alpha * losses["predict"] + (1 - self.alpha) * losses["explain"]
        else:
            loss = next(iter(losses.values()))
        if model.training:
            sums = self._task_sums.to(loss.device)
            for k, name in ((0, "predict"), (2, "explain")):
                if name in losses:
                    sums[k] += losses[name].detach()
                    sums[k + 1] += 1
            self._task_sums = sums
        return (loss, outputs) if return_outputs else loss

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None, **gen_kwargs):
        """Evaluation is on the predict task only: drop the `task` column, then generate as usual."""
        inputs = {k: v for k, v in inputs.items() if k != "task"}
        if not prediction_loss_only and self.args.predict_with_generate:
            gen_kwargs = {**getattr(self, "_gen_kwargs", {}), **gen_kwargs}
            gen_kwargs.setdefault("logits_processor", no_blank_processor(self.processing_class))
        return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys=ignore_keys, **gen_kwargs)

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Add the mean predict / explain losses since the last log to the training logs."""
        if "loss" in logs and self._task_sums.sum() > 0:
            sums = self.accelerator.reduce(self._task_sums.clone(), reduction="sum")
            if sums[1] > 0:
                logs["predict_loss"] = round((sums[0] / sums[1]).item(), 4)
            if sums[3] > 0:
                logs["explain_loss"] = round((sums[2] / sums[3]).item(), 4)
            self._task_sums = torch.zeros_like(self._task_sums)
        super().log(logs, start_time)


class NanLossCallback(TrainerCallback):
    """Stops training at the first non-finite logged loss, before that step evaluates or saves anything."""

    def __init__(self):
        self.bad_step: int | None = None

    def on_log(self, args, state, control, logs=None, **kwargs):
        """Check the logged training loss; on NaN/inf stop without saving."""
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            self.bad_step = state.global_step
            control.should_training_stop = True
            control.should_save = False
            control.should_evaluate = False
        return control


class CompactProgress(ProgressCallback):
    """The Trainer's progress bar, with one line per evaluation instead of every log dict."""

    def __init__(self, name: str):
        super().__init__()
        self.name = name

    def on_prediction_step(self, args, state, control, eval_dataloader=None, **kwargs):
        """No second bar for the few evaluation batches."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        """Print the valid metrics of an evaluation (training losses stay in log_history)."""
        if state.is_world_process_zero and logs and "eval_edit_similarity" in logs:
            line = (
                f"{self.name} step {state.global_step:>4}: valid edit similarity {logs['eval_edit_similarity']:.3f}, "
                f"empty {logs.get('eval_empty_rate', 0):.0%}, valid loss {logs.get('eval_loss', math.nan):.3f}"
            )
            (self.training_bar.write if self.training_bar is not None else print)(line)


def make_compute_metrics(tokenizer: PreTrainedTokenizerBase):
    """`compute_metrics` for `predict_with_generate`: edit similarity, exact match and empty rate of the decoded middles."""

    def compute_metrics(pred: EvalPrediction) -> dict[str, float]:
        predictions = decode_batch(tokenizer, pred.predictions)
        references = decode_batch(tokenizer, pred.label_ids)
        n = max(len(predictions), 1)
        return {
            "edit_similarity": sum(map(edit_similarity, predictions, references)) / n,
            "exact_match": sum(map(exact_match, predictions, references)) / n,
            "empty_rate": sum(map(is_empty, predictions)) / n,
        }

    return compute_metrics


def decode_batch(tokenizer: PreTrainedTokenizerBase, ids) -> list[str]:
    """Texts of a padded id matrix (-100 read as pad), special tokens skipped, no space clean-up."""
    rows = ids.tolist() if hasattr(ids, "tolist") else ids
    pad = tokenizer.pad_token_id
    return [decode_ids(tokenizer, [pad if i < 0 else i for i in row], skip_special_tokens=True) for row in rows]


# --------------------------------------------------------------------------- generation (shared with notebook 06)


def generate_middles(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, student_inputs: list[str], cfg: Config, progress: bool = False, no_blank: bool = True
) -> list[str]:
    """The student's middle for each `student_input` (batched greedy generation, code-safe decoding)."""
    from tqdm.auto import tqdm

    ids, _ = encode_inputs(tokenizer, list(student_inputs), "predict", cfg.student_max_input_tokens)
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))  # similar lengths together: less padding
    gen = generation_config(tokenizer, cfg)
    device = next(model.parameters()).device
    out: list[str] = [""] * len(ids)
    was_training = model.training
    model.eval()
    batches = range(0, len(order), cfg.eval_batch_size)
    with torch.inference_mode():
        for start in tqdm(batches, desc="generating", unit="batch", disable=not progress):
            chunk = order[start : start + cfg.eval_batch_size]
            batch = tokenizer.pad({"input_ids": [ids[i] for i in chunk]}, return_tensors="pt").to(device)
            generated = model.generate(**batch, generation_config=gen, logits_processor=no_blank_processor(tokenizer) if no_blank else None)
            for i, text in zip(chunk, decode_batch(tokenizer, generated)):
                out[i] = text
    model.train(was_training)
    return out


def evaluate_middles(predictions: list[str], references: list[str]) -> dict[str, float]:
    """Mean edit similarity, exact match and empty rate of predicted middles."""
    n = max(len(references), 1)
    return {
        "edit_similarity": sum(map(edit_similarity, predictions, references)) / n,
        "exact_match": sum(map(exact_match, predictions, references)) / n,
        "empty_rate": sum(map(is_empty, predictions)) / n,
    }


# --------------------------------------------------------------------------- training one variant


def variant_dir(cfg: Config, variant: str) -> Path:
    """Folder of a trained variant: artifacts/<run>/models/<variant>/."""
    return cfg.run_dir / "models" / variant


TRAIN_SETTINGS = (
    "student", "teacher", "alpha", "label_type", "max_target_tokens", "max_rationale_tokens", "student_max_input_tokens",
    "train_batch_size", "gradient_accumulation_steps", "learning_rate", "num_train_epochs", "max_steps", "eval_steps",
    "logging_steps", "warmup_steps", "weight_decay", "student_dropout", "early_stopping_patience", "bf16", "seed",
)


def _fingerprint(cfg: Config, spec: Variant, train: Dataset, valid: Dataset) -> str:
    """Hash of the settings and the tokenized data a variant is trained on (a change means: train again)."""
    h = hashlib.sha256(json.dumps([spec.name, spec.labels, spec.explain, {k: getattr(cfg, k) for k in TRAIN_SETTINGS}], default=str).encode())
    for ds in (train, valid):
        h.update(json.dumps(ds.to_dict()).encode())
    return h.hexdigest()[:16]


def training_arguments(cfg: Config, output_dir: str | Path, has_valid: bool = True, resuming: bool = False) -> Seq2SeqTrainingArguments:
    """`Seq2SeqTrainingArguments` of a run: eval + save every `eval_steps`, best model by edit similarity."""
    if cfg.eval_steps % cfg.logging_steps:
        raise UserError(f"eval_steps={cfg.eval_steps} must be a multiple of logging_steps={cfg.logging_steps} (the NaN check runs when the loss is logged)")
    if cfg.bf16 and not (torch.cuda.is_available() and torch.cuda.is_bf16_supported()):
        raise UserError("bf16=True needs a GPU with bfloat16 support (Ampere or newer): set bf16=False")
    steps = "steps" if has_valid else "no"
    return Seq2SeqTrainingArguments(
        output_dir=str(output_dir),
        per_device_train_batch_size=cfg.train_batch_size,
        per_device_eval_batch_size=cfg.eval_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        learning_rate=cfg.learning_rate,
        weight_decay=cfg.weight_decay,
        warmup_steps=cfg.warmup_steps,
        num_train_epochs=cfg.num_train_epochs,
        max_steps=cfg.max_steps,
        bf16=cfg.bf16,
        eval_strategy=steps,
        eval_steps=cfg.eval_steps,
        eval_on_start=has_valid and not resuming,  # step 0 = the untrained student, where every curve starts
        save_strategy=steps,
        save_steps=cfg.eval_steps,
        save_total_limit=2,  # the last and the best
        load_best_model_at_end=has_valid,
        metric_for_best_model="edit_similarity",
        greater_is_better=True,
        predict_with_generate=True,
        logging_steps=cfg.logging_steps,
        logging_nan_inf_filter=False,  # a NaN must reach NanLossCallback, not be averaged away
        remove_unused_columns=False,  # the explain columns are not arguments of the model
        report_to="none",
        disable_tqdm=False,  # a progress bar even when transformers' logging was quietened (it follows the log level)
        seed=cfg.seed,
        dataloader_num_workers=0,
        use_cpu=not torch.cuda.is_available() or cfg.device == "cpu",
    )


def train_variant(
    cfg: Config,
    variant: str,
    data: DatasetDict | None = None,
    callbacks: list[TrainerCallback] | None = None,
    retrain: bool = False,
) -> dict[str, Any]:
    """Train one variant (or reuse a finished identical run), save it to models/<variant>/, return its train log.

    Resumes from the last checkpoint in models/<variant>/checkpoints/ when a run with the
    same settings and data was interrupted. Works unchanged under torchrun / accelerate launch.
    """
    spec = variant_spec(cfg, variant)
    data = data if data is not None else load_training_data(cfg, [variant])
    for split in ("train", "valid"):
        if split not in data:
            raise UserError(f"the dataset has no {split!r} split: run notebook 02_fim_segmentation.ipynb first")
    model, tok = prepare_student(cfg)
    train_ds, train_stats = build_task_dataset(data["train"], tok, cfg, spec)
    valid_ds, valid_stats = build_task_dataset(data["valid"], tok, cfg, None)
    if len(train_ds) == 0:
        raise UserError(f"no training rows for {variant}: every label is empty (see notebook 03's empty-answer rate)")
    out = variant_dir(cfg, variant)
    ckpt_dir = out / "checkpoints"
    fingerprint = _fingerprint(cfg, spec, train_ds, valid_ds)
    log_path = out / "train_log.json"
    if not retrain and log_path.exists() and (out / "config.json").exists():
        done = json.loads(log_path.read_text())
        if done.get("fingerprint") == fingerprint:
            done["reused"] = True
            return done

    state = PartialState()  # one process, or one per GPU under torchrun / accelerate launch
    with state.main_process_first():
        if state.is_main_process:
            stamp = ckpt_dir / "fingerprint.txt"
            if ckpt_dir.exists() and (retrain or not stamp.exists() or stamp.read_text() != fingerprint):
                shutil.rmtree(ckpt_dir)  # written with other settings or data: not resumable
            ckpt_dir.mkdir(parents=True, exist_ok=True)
            stamp.write_text(fingerprint)
    last = get_last_checkpoint(str(ckpt_dir))
    args = training_arguments(cfg, ckpt_dir, has_valid=len(valid_ds) > 0, resuming=last is not None)

    nan_guard = NanLossCallback()
    trainer = StepByStepTrainer(
        model=model,
        args=args,
        data_collator=StepByStepCollator(tok, model=model),
        train_dataset=train_ds,
        eval_dataset=valid_ds if len(valid_ds) else None,
        processing_class=tok,
        compute_metrics=make_compute_metrics(tok),
        callbacks=[EarlyStoppingCallback(cfg.early_stopping_patience), nan_guard, *(callbacks or [])],
        alpha=cfg.alpha if spec.explain else 1.0,
    )
    for callback in list(trainer.callback_handler.callbacks):
        if isinstance(callback, ProgressCallback) or type(callback).__name__ == "NotebookProgressCallback":
            trainer.remove_callback(callback)
    trainer.add_callback(CompactProgress(variant))
    start = time.time()
    result = trainer.train(resume_from_checkpoint=True if last else None)
    if nan_guard.bad_step is not None:
        kept = get_last_checkpoint(str(ckpt_dir))
        where = f"{relative(Path(kept))} (step {kept.rsplit('-', 1)[-1]})" if kept else "none was saved before it"
        raise UserError(
            f"training {variant} stopped at step {nan_guard.bad_step}: the loss became NaN or infinite "
            f"(learning_rate={cfg.learning_rate}, bf16={cfg.bf16}); the last good checkpoint is {where}. "
            "Lower learning_rate (or set bf16=False) and run again."
        )
    trainer.model.generation_config = generation_config(tok, cfg)  # the Trainer's evaluation filled in defaults (max_length=20)
    history = trainer.state.log_history
    untrained = next((h for h in history if h.get("step") == 0 and "eval_edit_similarity" in h), {})
    log = {
        "variant": variant,
        "description": spec.description,
        "labels": spec.labels,
        "tasks": ["predict", "explain"] if spec.explain else ["predict"],
        "alpha": cfg.alpha if spec.explain else 1.0,
        "fingerprint": fingerprint,
        "settings": {k: getattr(cfg, k) for k in TRAIN_SETTINGS},
        "data": {"train": train_stats, "valid": valid_stats},
        "resumed_from_step": int(last.rsplit("-", 1)[-1]) if last else None,
        "global_step": trainer.state.global_step,
        "best_step": trainer.state.best_global_step,
        "stopped_early": trainer.state.global_step < trainer.state.max_steps,
        "train_seconds": round(time.time() - start, 1),
        "train_loss": result.training_loss,
        "untrained": {k.removeprefix("eval_"): v for k, v in untrained.items() if k.startswith("eval_")},
        "best": {},
        "log_history": history,
    }
    trainer.save_model(str(out))  # best weights + generation config + the code-safe tokenizer (every rank: FSDP / ZeRO gather here)
    if trainer.is_world_process_zero():
        # the kept (best) model, re-scored through generate_middles: the code path notebook 06 uses
        valid = data["valid"]
        predictions = generate_middles(trainer.model, tok, list(valid["student_input"]), cfg)
        log["best"] = evaluate_middles(predictions, list(valid["middle"]))
        unguarded = generate_middles(trainer.model, tok, list(valid["student_input"]), cfg, no_blank=False)
        log["best"]["empty_rate_without_guard"] = sum(map(is_empty, unguarded)) / max(len(unguarded), 1)
        write_json(log_path, log)
        (out / "README.md").write_text(model_card(cfg, log))
        if not cfg.keep_checkpoints:
            shutil.rmtree(ckpt_dir, ignore_errors=True)
        if cfg.push_to_hub:
            push_variant(cfg, variant, out)
    return log


def train_variants(cfg: Config, variants: tuple[str, ...] | list[str] | None = None, retrain: bool = False) -> dict[str, dict[str, Any]]:
    """Train each variant of `cfg.variants` (same data, same budget); return their train logs by name."""
    variants = list(variants or cfg.variants)
    data = load_training_data(cfg, variants)
    return {v: train_variant(cfg, v, data=data, retrain=retrain) for v in variants}


def load_trained(cfg: Config, variant: str, device: str = "cpu") -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A trained variant and its code-safe tokenizer from models/<variant>/."""
    folder = variant_dir(cfg, variant)
    if not (folder / "config.json").exists():
        raise UserError(f"no trained {variant!r} student at {relative(folder)}: run notebook 05_step_by_step_training.ipynb first")
    return load_student(str(folder), device=device, dtype="float32")


# --------------------------------------------------------------------------- reporting


def results_table(logs: dict[str, dict[str, Any]]):
    """One row per variant: labels, tasks, steps, untrained and best valid metrics, empty rate, time."""
    import pandas as pd

    rows = []
    for name, log in logs.items():
        best, untrained = log.get("best", {}), log.get("untrained", {})
        rows.append(
            {
                "variant": name,
                "labels": log["labels"],
                "tasks": " + ".join(log["tasks"]),
                "steps": log["global_step"],
                "best step": log["best_step"],
                "untrained edit sim": untrained.get("edit_similarity"),
                "valid edit sim": best.get("edit_similarity"),
                "valid exact match": best.get("exact_match"),
                "valid empty rate": best.get("empty_rate"),
                "train s": log["train_seconds"],
            }
        )
    return pd.DataFrame(rows).set_index("variant")


def plot_training(logs: dict[str, dict[str, Any]]):
    """Loss curves (train, per task, valid) and valid edit similarity against steps, one colour per variant."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for (name, log), colour in zip(logs.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        hist = log["log_history"]
        train = [(h["step"], h["loss"]) for h in hist if "loss" in h]
        axes[0].plot(*zip(*train), color=colour, label=f"{name}") if train else None
        if any("explain_loss" in h for h in hist):
            pe = [(h["step"], h["predict_loss"], h["explain_loss"]) for h in hist if "explain_loss" in h and "predict_loss" in h]
            axes[0].plot([p[0] for p in pe], [p[1] for p in pe], color=colour, ls="--", label=f"{name}: predict")
            axes[0].plot([p[0] for p in pe], [p[2] for p in pe], color=colour, ls=":", label=f"{name}: explain")
        ev = [(h["step"], h["eval_loss"], h["eval_edit_similarity"]) for h in hist if "eval_edit_similarity" in h]
        if ev:
            axes[1].plot([e[0] for e in ev], [e[1] for e in ev], "o-", color=colour, label=name)
            axes[2].plot([e[0] for e in ev], [e[2] for e in ev], "o-", color=colour, label=name)
        if log.get("best_step"):
            axes[2].axvline(log["best_step"], color=colour, alpha=0.3)
    for ax, title in zip(axes, ("training loss", "valid loss (predict, true middle)", "valid edit similarity (generated)")):
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_yscale("log")
    fig.tight_layout()
    return fig


def model_card(cfg: Config, log: dict[str, Any]) -> str:
    """A Hugging Face model card (README.md) for a trained variant: data, teacher, method, metrics, usage."""
    best, untrained, data = log.get("best", {}), log.get("untrained", {}), log["data"]

    def fmt(x):
        return "n/a" if x is None else f"{x:.3f}"

    return f"""---
library_name: transformers
pipeline_tag: text2text-generation
tags: [moonscript, code, fill-in-the-middle, distillation, distilling-step-by-step]
base_model: {cfg.student}
---
# {cfg.student} distilled on MoonScript fill-in-the-middle: `{log['variant']}`

**Method.** {log['description']}. Inputs are `predict: <prefix>{HOLE}<suffix>`; the label is the
{"teacher's" if log['labels'] == 'teacher' else 'true'} middle{', plus `explain: ...` -> a rationale, loss alpha * predict + (1 - alpha) * explain' if 'explain' in log['tasks'] else ''}
(Hsieh et al. 2023, "Distilling Step-by-Step!").

**Teacher.** `{cfg.teacher}` (fill-in-the-middle prompts). **Rationales.** `{cfg.rationale_model}`.

**Data.** MoonScript from `{cfg.corpus}` (The Stack when `the-stack`), split by file; {data['train']['rows']} training
and {data['valid']['rows']} validation examples; {data['train']['input_truncated']} training inputs cut to
{cfg.student_max_input_tokens} tokens around the hole.

**Tokenizer.** The published T5 tokenizer loses newlines, tabs, runs of spaces and `{{` `}}`; this model ships a
code-safe tokenizer (same vocabulary + whitespace pieces + byte fallback) that round-trips code byte for byte.

**Validation metrics** (greedy, true middles): edit similarity {fmt(best.get('edit_similarity'))}
(untrained: {fmt(untrained.get('edit_similarity'))}), exact match {fmt(best.get('exact_match'))},
empty outputs {fmt(best.get('empty_rate'))}; best step {log['best_step']} of {log['global_step']}.

**Training.** lr {cfg.learning_rate}, batch {cfg.train_batch_size} x {cfg.gradient_accumulation_steps} accumulation,
bf16 {cfg.bf16}, run `{cfg.run_name}` (profile `{cfg.profile}`).

## Use
```python
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
tok = AutoTokenizer.from_pretrained(MODEL)
model = AutoModelForSeq2SeqLM.from_pretrained(MODEL)
ids = tok("predict: " + prefix + "{HOLE}" + suffix, return_tensors="pt")
middle = tok.decode(model.generate(**ids)[0], skip_special_tokens=True, clean_up_tokenization_spaces=False)
```
"""


def push_variant(cfg: Config, variant: str, folder: Path) -> str:
    """Upload a saved variant (weights, tokenizer, model card, train log) to the hub; return the repo id."""
    from huggingface_hub import HfApi

    if not cfg.hub_model_id:
        raise UserError("push_to_hub=True needs hub_model_id, e.g. 'your-name/flan-t5-small-moonscript'")
    repo_id = cfg.hub_model_id if len(cfg.variants) == 1 else f"{cfg.hub_model_id}-{variant.replace('_', '-')}"
    try:
        api = HfApi()
        api.create_repo(repo_id, exist_ok=True)
        api.upload_folder(repo_id=repo_id, folder_path=str(folder), ignore_patterns=["checkpoints/*"])
    except Exception as err:  # network, auth: one clear sentence
        raise UserError(f"could not push {variant} to {repo_id!r} ({type(err).__name__}): log in with `hf auth login` and check the repo name") from None
    return repo_id


def train_command(cfg: Config, variants: list[str] | None = None, retrain: bool = False) -> None:
    """`python -m utils train`: train variants without the notebook (also under torchrun / accelerate launch)."""
    logs = train_variants(cfg, variants or None, retrain=retrain)
    if int(os.environ.get("RANK", "0")) == 0:
        print(results_table(logs).to_string(float_format=lambda x: f"{x:.3f}"))
