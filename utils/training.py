"""Distilling step-by-step on the Hugging Face `Seq2SeqTrainer` (notebook 05).

The student learns two tasks from the same example (Hsieh et al., 2023):

- `predict: <prefix><extra_id_0><suffix>` -> the missing middle (the teacher's, or the true one);
- `explain: <prefix><extra_id_0><suffix>` -> the rationale written for that segment;

with loss `alpha * predict + (1 - alpha) * explain`. The paper's 2x2 shares the code and the budget:
labels {true middle, teacher's middle} x rationales {no, yes} = `finetune`, `finetune_explain`, `distill`,
`step_by_step` (`VARIANT_SPECS`); each is also trained on nested shares of the train rows
(`cfg.data_fractions`, names such as `distill@25`: `variant_names`, `parse_variant_name`), every point with
the same number of updates, seed and settings.

Both tasks of a batch go through the model in ONE forward pass (predict rows, then explain
rows, told apart by a `task` column), so the loss is per-task token means of one graph:
this keeps it correct under DDP (`torchrun`, `accelerate launch`), where two forward
passes before one backward are not allowed. The original repository's two-pass
`TaskPrefixTrainer` computes the same numbers on a single device.

`train_variant` reads as four steps: the data (`task_datasets`, `Dataset.filter` / `map`), the
resume point (`resume_point`, skipping unreadable checkpoints), the trainer (`make_trainer`),
and saving with the log (`save_and_log`). Loading the student and generating with it live in
`utils/student.py`, shared with notebook 07.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import math
import os
import shutil
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import torch
import torch.nn.functional as F
from accelerate import PartialState
from datasets import Dataset, DatasetDict
from datasets.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars
from huggingface_hub import HfApi
from safetensors import SafetensorError, safe_open
from transformers import (
    DataCollatorForSeq2Seq,
    EarlyStoppingCallback,
    GenerationConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    ProgressCallback,
    Seq2SeqTrainer,
    Seq2SeqTrainingArguments,
    TrainerCallback,
    set_seed,
)
from transformers.trainer_utils import get_last_checkpoint

from .artifacts import load_merged, relative, save_figure, write_json
from .config import ALL_VARIANTS, HOLE, Config, UserError
from .logits import ULD_COLUMNS, TeacherDistributions, load_distributions, uld_loss
from .metrics import edit_similarity, exact_match, is_empty, is_prose
from .models import torch_threads
from .student import (
    EXPLAIN_MARK,
    encode_inputs,
    generate_middles,
    generation_config,
    prepare_student,
    variant_dir,
)
from .tokenization import encode_batch

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PREDICT, EXPLAIN = 0, 1  # values of the collator's `task` column


@dataclass(frozen=True)
class Variant:
    """What one trained student learns: its predict labels and whether it also explains."""

    name: str
    labels: str  # "gold" (the true middle) or "teacher" (the teacher's middle, after teacher_filter)
    explain: bool
    description: str
    fraction: float = 1.0  # share of the train rows (a nested seeded subset)
    logits: bool = False  # also matches the teacher's stored distributions (ULD, utils/logits.py)


# the paper's 2x2: labels {true middle, teacher's middle} x rationales {no, yes}
VARIANT_SPECS = {
    "finetune": ("gold", False, "standard fine-tuning: the true middles, predict task only"),
    "finetune_explain": ("gold", True, "fine-tuning with rationales: the true middles + the explain task"),
    "distill": ("teacher", False, "standard distillation: the teacher's middles, predict task only"),
    "step_by_step": ("teacher", True, "distilling step-by-step: the teacher's middles + the explain task"),
    # beyond the 2x2 (issue 16): trained when named in `variants`, at 100% of the train rows only (a short suite)
    "logit_distill": ("teacher", False, "logit distillation: the teacher's middles + beta * ULD on its top-k probabilities"),
}
LOGIT_VARIANTS = ("logit_distill",)  # labels follow cfg.logit_labels, the text the stored distributions are taken along
LOGIT_SETTINGS = ("beta", "logit_top_k", "logit_labels", "logit_alignment")  # in a logit variant's fingerprint only
assert tuple(VARIANT_SPECS) == ALL_VARIANTS  # one list of names, in config (validation) and here (recipes)


def variant_name(variant: str, fraction: float) -> str:
    """`variant` trained on `fraction` of the train rows: the variant itself at 1.0, else `<variant>@<percent>`."""
    return variant if fraction == 1.0 else f"{variant}@{fraction * 100:g}"


def parse_variant_name(name: str) -> tuple[str, float]:
    """(variant, fraction) of a trained point's name: `distill` -> ("distill", 1.0), `distill@25` -> ("distill", 0.25)."""
    variant, _, percent = name.partition("@")
    if variant not in VARIANT_SPECS:
        raise UserError(f"unknown variant {variant!r}: choose among {', '.join(VARIANT_SPECS)} (optionally @<percent of train rows>)")
    try:
        fraction = float(percent) / 100 if percent else 1.0
    except ValueError:
        fraction = math.nan
    if not 0 < fraction <= 1:
        raise UserError(f"variant {name!r}: the part after @ is a percent of the train rows, above 0 and at most 100")
    return variant, fraction


def variant_names(cfg: Config) -> list[str]:
    """Every point to train: the 2x2 (`cfg.variants`) on all train rows first, then each smaller fraction, largest first."""
    fractions = sorted(set(cfg.data_fractions), reverse=True)
    return [variant_name(v, f) for f in fractions for v in cfg.variants if f == 1.0 or v not in LOGIT_VARIANTS]


def variant_spec(cfg: Config, name: str) -> Variant:
    """The recipe of point `name`: its variant's labels and tasks, and its share of the train rows."""
    variant, fraction = parse_variant_name(name)
    labels, explain, description = VARIANT_SPECS[variant]
    description += f" (alpha={cfg.alpha})" if explain else ""
    if logits := variant in LOGIT_VARIANTS:
        labels = cfg.logit_labels
        description += f" (beta={cfg.beta}, top-{cfg.logit_top_k}, {cfg.logit_alignment} alignment, along the {labels} middles)"
    description += f", on {fraction:.0%} of the train rows" if fraction < 1 else ""
    return Variant(name, labels, explain, description, fraction, logits)


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
        if "teacher_middle" in str(err):
            raise UserError(f"{err} (or train variants=finetune,finetune_explain only: they need the true middles)") from None
        raise


# --------------------------------------------------------------------------- tokenization of the two tasks


def encode_labels(tokenizer: PreTrainedTokenizerBase, texts: list[str], max_tokens: int) -> tuple[list[list[int]], list[bool]]:
    """Ids of each label + EOS (so the student learns to stop), cut to `max_tokens`; also which were cut."""
    encoded = encode_batch(tokenizer, list(texts))
    cut = [len(ids) > max_tokens - 1 for ids in encoded]
    return [ids[: max_tokens - 1] + [tokenizer.eos_token_id] for ids in encoded], cut


def _has_text(texts: list[str | None]) -> list[bool]:
    """Which of `texts` hold something besides whitespace (a `Dataset.filter` on one column)."""
    return [bool(t and t.strip()) for t in texts]


@contextlib.contextmanager
def _quiet_datasets() -> Iterator[None]:
    """No "Map" / "Filter" progress bars for these quick passes (they would bury the training bar)."""
    was_disabled = are_progress_bars_disabled()
    disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            enable_progress_bars()


class _TiedEmbeddingsNotice(logging.Filter):
    """Drops the Trainer's "missing keys" notice when the keys missing are T5's `embed_tokens`, saved once as `shared`.

    T5's encoder and decoder embeddings are the same tensor as `shared.weight`; the checkpoint stores it once, so
    reloading the best checkpoint reports the two aliases as missing while the weights are complete.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("There were missing keys in the checkpoint model loaded")
                    and "embed_tokens" in message and "lm_head" not in message and "layer" not in message)


logging.getLogger("transformers.trainer").addFilter(_TiedEmbeddingsNotice())

TEACHER_FILTERS = ("keep", "drop", "gold")


def _keeps_parsing(parses: list[bool | None]) -> list[bool]:
    """Which rows' teacher middles do not break their file (None: not judged, kept)."""
    return [p is not False for p in parses]


def _gold_where_broken(middles: list[str], teacher: list[str | None], parses: list[bool | None]) -> dict[str, list]:
    """teacher_middle, with the true middle where the teacher's breaks the file."""
    return {"teacher_middle": [m if p is False else t for m, t, p in zip(middles, teacher, parses)]}


def apply_teacher_filter(rows: Dataset, mode: str) -> tuple[Dataset, dict[str, int | None]]:
    """Rows whose teacher middle breaks its file (`teacher_parses` False) kept, dropped or given the true middle; counts.

    `teacher_breaks_file` is None when no row was judged (no parser, or an artifact from before the parser).
    """
    if mode not in TEACHER_FILTERS:
        raise UserError(f"teacher_filter={mode!r}: use one of {', '.join(TEACHER_FILTERS)}")
    parses = rows["teacher_parses"] if "teacher_parses" in rows.column_names else [None] * len(rows)
    judged = any(p is not None for p in parses)
    breaks = sum(p is False for p in parses)
    stats = {"teacher_breaks_file": breaks if judged else None, "teacher_filter_dropped": 0, "teacher_filter_gold": 0}
    if breaks and mode == "drop":
        with _quiet_datasets():
            rows = rows.filter(_keeps_parsing, input_columns=["teacher_parses"], batched=True, keep_in_memory=True)
        stats["teacher_filter_dropped"] = breaks
    elif breaks and mode == "gold":
        with _quiet_datasets():
            rows = rows.map(_gold_where_broken, input_columns=["middle", "teacher_middle", "teacher_parses"], batched=True,
                            keep_in_memory=True)
        stats["teacher_filter_gold"] = breaks
    return rows, stats


def teacher_filter_table(rows: Dataset) -> pd.DataFrame:
    """What each `teacher_filter` choice would do to these (train) rows: rows trained on, dropped, relabelled ("n/a" unjudged)."""
    out = []
    for mode in TEACHER_FILTERS:
        kept, stats = apply_teacher_filter(rows, mode)
        judged = stats["teacher_breaks_file"] is not None
        out.append({"teacher_filter": mode, "rows trained on": len(kept),
                    "dropped": stats["teacher_filter_dropped"] if judged else "n/a",
                    "true middle instead": stats["teacher_filter_gold"] if judged else "n/a"})
    return pd.DataFrame(out).set_index("teacher_filter")


def filter_applied(logs: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Per trained variant: what `teacher_filter` did to its train rows (rows in, breaking, dropped, relabelled, trained on)."""
    keys = ("rows_in", "teacher_breaks_file", "teacher_filter_dropped", "teacher_filter_gold", "rows")
    table = pd.DataFrame({name: {k: log.get("data", {}).get("train", {}).get(k, "-") for k in keys} for name, log in logs.items()}).T
    return table.fillna("n/a")


def build_task_dataset(rows: Dataset, tokenizer: PreTrainedTokenizerBase, cfg: Config, variant: Variant | None = None,
                       extra: Callable[[dict, dict, str], dict] | None = None) -> tuple[Dataset, dict[str, int]]:
    """Tokenized training rows of `variant` (predict + optional explain); `variant=None`: predict vs the true middle (evaluation).

    Explain labels are `EXPLAIN_MARK rationale </s>`. Teacher labels first go through `cfg.teacher_filter`
    (`apply_teacher_filter`). Rows with no label (a teacher that answered nothing) are dropped; rows with no
    rationale keep the predict task only.
    Every drop, replacement, fallback and truncation is counted.
    The result's `_fingerprint` follows from the rows', the tokenizer's and the settings'.
    `extra(batch, encoded, labels_from)` adds columns per row (the teacher's distributions: `logits.TeacherDistributions`).
    """
    labels_from = "middle" if variant is None or variant.labels == "gold" else "teacher_middle"
    mark = tokenizer.convert_tokens_to_ids(EXPLAIN_MARK)
    explain = variant is not None and variant.explain
    if labels_from not in rows.column_names:
        raise UserError(f"the dataset has no {labels_from!r} column: run notebook 03_teacher_generation.ipynb first, or train variants=finetune,finetune_explain only")
    if explain and "rationale" not in rows.column_names:
        raise UserError("the dataset has no 'rationale' column: run notebook 04_rationale_generation.ipynb first")

    def encode(batch: dict[str, list]) -> dict[str, list]:
        inputs, input_cut = encode_inputs(tokenizer, batch["student_input"], "predict", cfg.student_max_input_tokens)
        labels, label_cut = encode_labels(tokenizer, batch[labels_from], cfg.max_target_tokens)
        out = {"input_ids": inputs, "labels": labels, "input_truncated": input_cut, "label_truncated": label_cut}
        if explain:
            with_r = [i for i, keep in enumerate(_has_text(batch["rationale"])) if keep]
            expl_in, expl_in_cut = encode_inputs(tokenizer, [batch["student_input"][i] for i in with_r], "explain", cfg.student_max_input_tokens)
            expl_lab, expl_lab_cut = encode_labels(tokenizer, [batch["rationale"][i] for i in with_r], cfg.max_rationale_tokens - 1)
            expl_lab = [[mark] + ids for ids in expl_lab]  # the explain mode opens with EXPLAIN_MARK, which predict never emits
            n = len(inputs)
            out["expl_input_ids"], out["expl_labels"] = [[] for _ in range(n)], [[] for _ in range(n)]
            out["explain_input_truncated"], out["rationale_truncated"] = [False] * n, [False] * n
            out["no_rationale_predict_only"] = [True] * n
            for k, i in enumerate(with_r):
                out["expl_input_ids"][i], out["expl_labels"][i] = expl_in[k], expl_lab[k]
                out["explain_input_truncated"][i], out["rationale_truncated"][i] = expl_in_cut[k], expl_lab_cut[k]
                out["no_rationale_predict_only"][i] = False
        if extra is not None:
            out.update(extra(batch, out, labels_from))
        return out

    rows_in = len(rows)
    filtered = {}
    if labels_from == "teacher_middle":
        rows, filtered = apply_teacher_filter(rows, cfg.teacher_filter)
    with _quiet_datasets():
        kept = rows.filter(_has_text, input_columns=[labels_from], batched=True, keep_in_memory=True)
        encoded = kept.map(encode, batched=True, remove_columns=kept.column_names, keep_in_memory=True)
    counted = [c for c in encoded.column_names if c not in ("input_ids", "labels", "expl_input_ids", "expl_labels", *ULD_COLUMNS)]
    stats = {"rows_in": rows_in, **filtered, "no_label_dropped": len(rows) - len(kept)}
    stats.update({c: int(sum(encoded[c])) for c in counted} if len(encoded) else {c: 0 for c in counted})
    stats["rows"] = len(encoded)
    return encoded.remove_columns(counted), stats


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


def _token_mean(token_loss: torch.Tensor, labels: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Mean loss over the counted (non -100) label tokens of `rows`."""
    return token_loss[rows].sum() / (labels[rows] != -100).sum().clamp(min=1)


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
        token_loss = F.cross_entropy(outputs.logits.float().transpose(1, 2), labels, ignore_index=-100, reduction="none")
        explain_rows = task == EXPLAIN if task is not None else torch.zeros(labels.shape[0], dtype=torch.bool, device=labels.device)
        predict_loss = _token_mean(token_loss, labels, ~explain_rows)
        explain_loss = _token_mean(token_loss, labels, explain_rows) if explain_rows.any() else None
        loss = predict_loss if explain_loss is None else self.alpha * predict_loss + (1 - self.alpha) * explain_loss
        if model.training:
            self._track(predict_loss, explain_loss)
        return (loss, outputs) if return_outputs else loss

    def _track(self, predict_loss: torch.Tensor, explain_loss: torch.Tensor | None) -> None:
        """Add this batch's task losses to the sums `log` reports as predict_loss / explain_loss."""
        sums = self._task_sums.to(predict_loss.device)
        sums[0] += predict_loss.detach()
        sums[1] += 1
        if explain_loss is not None:
            sums[2] += explain_loss.detach()
            sums[3] += 1
        self._task_sums = sums

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None, **gen_kwargs):
        """Evaluation is on the predict task only (the valid rows hold no explain rows): drop the `task` column."""
        inputs = {k: v for k, v in inputs.items() if k != "task"}
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


class LogitCollator(StepByStepCollator):
    """StepByStepCollator + the teacher's aligned top-k: `teacher_probs` [rows, label width, k] and `teacher_mask`, zeros where none."""

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """One padded batch; predict rows come first, so row i holds feature i's distributions."""
        if not features or "teacher_probs" not in features[0]:
            return super().__call__(features)
        batch = super().__call__([{k: v for k, v in f.items() if k not in ULD_COLUMNS} for f in features])
        k = len(features[0]["teacher_probs"][0])  # every row has a label (at least </s>), every position k values
        probs = torch.zeros(*batch["labels"].shape, k)
        mask = torch.zeros(batch["labels"].shape, dtype=torch.bool)
        for i, f in enumerate(features):
            n = len(f["teacher_mask"])
            probs[i, :n] = torch.tensor(f["teacher_probs"], dtype=torch.float32).reshape(n, k)
            mask[i, :n] = torch.tensor(f["teacher_mask"], dtype=torch.bool)
        return {**batch, "teacher_probs": probs, "teacher_mask": mask}


class LogitDistillTrainer(StepByStepTrainer):
    """StepByStepTrainer whose training loss adds `beta` x ULD against the teacher's stored top-k (utils/logits.py)."""

    def __init__(self, *args: Any, beta: float = 1.0, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.beta = beta
        self._uld_sums = torch.zeros(2)  # ULD sum, batches

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """Cross-entropy (predict, and explain if any) + beta * ULD where the batch carries teacher distributions."""
        probs, mask = inputs.pop("teacher_probs", None), inputs.pop("teacher_mask", None)
        loss, outputs = super().compute_loss(model, inputs, return_outputs=True)
        if probs is not None and mask.any():
            uld = uld_loss(outputs.logits, probs.to(outputs.logits.device), mask.to(outputs.logits.device))
            loss = loss + self.beta * uld
            if model.training:
                self._uld_sums = self._uld_sums.to(uld.device) + torch.stack([uld.detach(), torch.ones_like(uld)])
        return (loss, outputs) if return_outputs else loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Add the mean ULD term since the last log to the training logs (`uld_loss`)."""
        if "loss" in logs and self._uld_sums[1] > 0:
            sums = self.accelerator.reduce(self._uld_sums.clone(), reduction="sum")
            logs["uld_loss"] = round((sums[0] / sums[1]).item(), 4)
            self._uld_sums = torch.zeros_like(self._uld_sums)
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
        """Print the valid loss of an evaluation (training losses stay in log_history)."""
        if state.is_world_process_zero and logs and "eval_loss" in logs:
            line = f"{self.name} step {state.global_step:>4}: valid loss {logs['eval_loss']:.3f}"
            (self.training_bar.write if self.training_bar is not None else print)(line)


def evaluate_middles(predictions: list[str], references: list[str]) -> dict[str, float]:
    """Mean edit similarity, exact match, empty rate and prose rate (English where code belongs) of predicted middles."""
    n = max(len(references), 1)
    return {
        "edit_similarity": sum(map(edit_similarity, predictions, references)) / n,
        "exact_match": sum(map(exact_match, predictions, references)) / n,
        "empty_rate": sum(map(is_empty, predictions)) / n,
        "prose_rate": sum(map(is_prose, predictions)) / n,
    }


# --------------------------------------------------------------------------- training one variant


TRAIN_SETTINGS = (
    "student", "teacher", "alpha", "teacher_filter", "max_target_tokens", "max_rationale_tokens", "student_max_input_tokens",
    "train_batch_size", "gradient_accumulation_steps", "learning_rate", "num_train_epochs", "max_steps", "eval_steps",
    "logging_steps", "warmup_steps", "weight_decay", "student_dropout", "early_stopping_patience", "bf16", "seed", "deterministic",
)


def _fingerprint(cfg: Config, spec: Variant, train: Dataset, valid: Dataset | None, steps: int) -> str:
    """The key of a run: its settings and the `_fingerprint`s of its tokenized datasets (a change means: train again)."""
    settings = [spec.name, spec.labels, spec.explain, spec.fraction, steps, {k: getattr(cfg, k) for k in TRAIN_SETTINGS}]
    settings += [{k: getattr(cfg, k) for k in LOGIT_SETTINGS}] if spec.logits else []  # other variants keep their keys
    data = [train._fingerprint, valid._fingerprint if valid is not None else None]
    return hashlib.sha256(json.dumps([settings, data], default=str).encode()).hexdigest()[:16]


def update_budget(cfg: Config, full_train_rows: int) -> int:
    """Optimizer updates of every point: `max_steps`, or (max_steps <= 0) `num_train_epochs` over the WHOLE train split."""
    if cfg.max_steps > 0:
        return cfg.max_steps
    per_update = cfg.train_batch_size * PartialState().num_processes * cfg.gradient_accumulation_steps
    return max(1, math.ceil(cfg.num_train_epochs * full_train_rows / per_update))


def train_subset(rows: Dataset, fraction: float, seed: int) -> Dataset:
    """The first `fraction` of a seeded shuffle of `rows` (original order kept): smaller shares nest in larger ones."""
    if fraction >= 1:
        return rows
    order = torch.randperm(len(rows), generator=torch.Generator().manual_seed(seed)).tolist()
    return rows.select(sorted(order[: max(1, math.ceil(fraction * len(rows)))]))


@contextlib.contextmanager
def deterministic(on: bool) -> Iterator[None]:
    """torch's deterministic algorithms inside the block when `on`; the previous mode restored after."""
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(on or before)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)


def training_arguments(
    cfg: Config, output_dir: str | Path, has_valid: bool = True, resuming: bool = False, generation: GenerationConfig | None = None,
    max_steps: int | None = None,
) -> Seq2SeqTrainingArguments:
    """`Seq2SeqTrainingArguments` of a run: save every `eval_steps`; with a valid split also evaluate there and keep the best model.

    Evaluation during training is the valid loss of the predict task (one forward pass, the Trainer's default
    criterion for the kept checkpoint); the kept model generates valid middles once, after training (`save_and_log`).
    """
    if cfg.eval_steps % cfg.logging_steps:
        raise UserError(f"eval_steps={cfg.eval_steps} must be a multiple of logging_steps={cfg.logging_steps} (the NaN check runs when the loss is logged)")
    if cfg.bf16 and not (torch.cuda.is_available() and torch.cuda.is_bf16_supported()):
        raise UserError("bf16=True needs a GPU with bfloat16 support (Ampere or newer): set bf16=False")
    return Seq2SeqTrainingArguments(
        output_dir=str(output_dir),
        per_device_train_batch_size=cfg.train_batch_size,
        per_device_eval_batch_size=cfg.eval_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        learning_rate=cfg.learning_rate,
        weight_decay=cfg.weight_decay,
        warmup_steps=cfg.warmup_steps,
        num_train_epochs=cfg.num_train_epochs,
        max_steps=max_steps if max_steps is not None else cfg.max_steps,
        bf16=cfg.bf16,
        eval_strategy="steps" if has_valid else "no",
        eval_steps=cfg.eval_steps,
        eval_on_start=has_valid and not resuming,  # step 0 = the untrained student, where every loss curve starts
        save_strategy="steps",  # checkpoints to resume from, with or without a valid split
        save_steps=cfg.eval_steps,
        save_total_limit=2,  # the last and the best
        load_best_model_at_end=has_valid,  # no valid split: the last model is the one saved
        metric_for_best_model="loss" if has_valid else None,  # the valid loss of the predict task, lower is better
        prediction_loss_only=True,  # evaluation needs no logits: generation happens once, on the kept model
        generation_config=generation,  # the students' decoding, saved with the model
        logging_steps=cfg.logging_steps,
        logging_nan_inf_filter=False,  # a NaN must reach NanLossCallback, not be averaged away
        remove_unused_columns=False,  # the explain columns are not arguments of the model
        report_to="none",
        disable_tqdm=False,  # a progress bar even when transformers' logging was quietened (it follows the log level)
        seed=cfg.seed,  # dropout and the like
        data_seed=cfg.seed,  # the order of the train rows
        dataloader_num_workers=0,
        use_cpu=not torch.cuda.is_available() or cfg.device == "cpu",
    )


def task_datasets(cfg: Config, spec: Variant, tok: PreTrainedTokenizerBase, data: DatasetDict) -> tuple[Dataset, Dataset | None, dict]:
    """Step 1, the data: tokenized train rows of `spec`, valid rows (None when the split is missing or empty), their counts."""
    if "train" not in data:
        raise UserError("the dataset has no 'train' split: run notebook 02_fim_segmentation.ipynb first")
    extra = TeacherDistributions(load_distributions(cfg), tok, cfg.logit_top_k, cfg.logit_alignment) if spec.logits else None
    train_ds, train_stats = build_task_dataset(train_subset(data["train"], spec.fraction, cfg.seed), tok, cfg, spec, extra)
    train_stats = {"fraction": spec.fraction, **train_stats}
    if len(train_ds) == 0:
        raise UserError(f"no training rows for {spec.name}: every label is empty (see notebook 03's empty-answer rate)")
    valid = data.get("valid")
    if valid is None or len(valid) == 0:
        print(f"{spec.name}: no valid rows: no evaluation, early stopping or best-model choice; the last model is kept")
        return train_ds, None, {"train": train_stats, "valid": {"rows_in": 0, "rows": 0}}
    valid_ds, valid_stats = build_task_dataset(valid, tok, cfg, None)
    return train_ds, valid_ds, {"train": train_stats, "valid": valid_stats}


def finished_run(folder: Path, key: str) -> dict[str, Any] | None:
    """The train log of a finished run with this key in `folder`, marked `reused`, else None."""
    log_path = folder / "train_log.json"
    if not (log_path.exists() and (folder / "config.json").exists()):
        return None
    done = json.loads(log_path.read_text())
    return {**done, "reused": True} if done.get("fingerprint") == key else None


def unreadable_checkpoint(folder: Path) -> str | None:
    """Why the checkpoint in `folder` cannot be resumed from (weights, trainer state, optimizer), or None when it can."""
    weights = sorted(folder.glob("*.safetensors"))
    if not weights:
        return "it holds no model.safetensors"
    for path in weights:
        try:
            with safe_open(str(path), framework="pt"):
                pass  # the header is checked against the file's length: a truncated file fails here
        except (SafetensorError, OSError) as err:
            return f"{path.name} cannot be read ({type(err).__name__}: {err})"
    try:
        json.loads((folder / "trainer_state.json").read_text())
    except (OSError, ValueError) as err:
        return f"trainer_state.json cannot be read ({type(err).__name__})"
    optimizer = folder / "optimizer.pt"
    if optimizer.exists() and not zipfile.is_zipfile(optimizer):
        return "optimizer.pt is cut short"
    return None


def resume_point(ckpt_dir: Path, key: str, retrain: bool = False) -> str | None:
    """Step 2: the newest readable checkpoint of this run (None: start over); unreadable newer ones are removed, saying why."""
    state = PartialState()  # one process, or one per GPU under torchrun / accelerate launch
    with state.main_process_first():
        if state.is_main_process:
            stamp = ckpt_dir / "fingerprint.txt"
            if ckpt_dir.exists() and (retrain or not stamp.exists() or stamp.read_text() != key):
                shutil.rmtree(ckpt_dir)  # written with other settings or data: not resumable
            ckpt_dir.mkdir(parents=True, exist_ok=True)
            stamp.write_text(key)
            while (last := get_last_checkpoint(str(ckpt_dir))) is not None and (why := unreadable_checkpoint(Path(last))):
                print(f"skipped {relative(last)}: {why}; removed it and looking at the checkpoint before it")
                shutil.rmtree(last)
    return get_last_checkpoint(str(ckpt_dir))


def make_trainer(
    cfg: Config, spec: Variant, model: PreTrainedModel, tok: PreTrainedTokenizerBase, train_ds: Dataset, valid_ds: Dataset | None,
    ckpt_dir: Path, resuming: bool, callbacks: list[TrainerCallback] | None = None, max_steps: int | None = None,
) -> tuple[StepByStepTrainer, NanLossCallback]:
    """Step 3: the trainer of one variant (NaN guard; early stopping if set and there is a valid split; one compact progress bar)."""
    nan_guard = NanLossCallback()
    patience = cfg.early_stopping_patience
    stopping = [EarlyStoppingCallback(patience)] if valid_ds is not None and patience is not None else []
    trainer_class, logit_kwargs = (LogitDistillTrainer, {"beta": cfg.beta}) if spec.logits else (StepByStepTrainer, {})
    trainer = trainer_class(
        model=model,
        args=training_arguments(cfg, ckpt_dir, valid_ds is not None, resuming, generation_config(tok, cfg), max_steps),
        data_collator=(LogitCollator if spec.logits else StepByStepCollator)(tok, model=model),
        train_dataset=train_ds,
        eval_dataset=valid_ds,
        processing_class=tok,
        callbacks=[*stopping, nan_guard, *(callbacks or [])],
        alpha=cfg.alpha if spec.explain else 1.0,
        **logit_kwargs,
    )
    for callback in list(trainer.callback_handler.callbacks):
        if isinstance(callback, ProgressCallback) or type(callback).__name__ == "NotebookProgressCallback":
            trainer.remove_callback(callback)
    trainer.add_callback(CompactProgress(spec.name))
    return trainer, nan_guard


def _stop_on_nan(cfg: Config, variant: str, nan_guard: NanLossCallback, ckpt_dir: Path) -> None:
    """A run the NaN guard stopped ends here, naming the last good checkpoint and what to change."""
    if nan_guard.bad_step is None:
        return
    kept = get_last_checkpoint(str(ckpt_dir))
    where = f"{relative(Path(kept))} (step {kept.rsplit('-', 1)[-1]})" if kept else "none was saved before it"
    raise UserError(
        f"training {variant} stopped at step {nan_guard.bad_step}: the loss became NaN or infinite "
        f"(learning_rate={cfg.learning_rate}, bf16={cfg.bf16}); the last good checkpoint is {where}. "
        "Lower learning_rate (or set bf16=False) and run again."
    )


def save_and_log(
    cfg: Config, spec: Variant, trainer: StepByStepTrainer, valid_rows: Dataset | None, stats: dict, key: str,
    resumed_from: str | None, train_loss: float, seconds: float,
) -> dict[str, Any]:
    """Step 4: save the kept model (best, or last without valid rows) with its card; score it on valid; write and return the log."""
    history = trainer.state.log_history
    untrained = next((h for h in history if h.get("step") == 0 and "eval_loss" in h), {})
    log = {
        "variant": spec.name,
        "description": spec.description,
        "fraction": spec.fraction,
        "labels": spec.labels,
        "tasks": ["predict", "explain"] if spec.explain else ["predict"],
        "alpha": trainer.alpha,
        "fingerprint": key,
        "settings": {k: getattr(cfg, k) for k in TRAIN_SETTINGS},
        "data": stats,
        "resumed_from_step": int(resumed_from.rsplit("-", 1)[-1]) if resumed_from else None,
        "global_step": trainer.state.global_step,
        "best_step": trainer.state.best_global_step,
        "stopped_early": trainer.state.global_step < trainer.state.max_steps,
        "train_seconds": round(seconds, 1),
        "train_loss": train_loss,
        "untrained": {"loss": untrained["eval_loss"]} if untrained else {},  # step 0's valid loss
        "best": {},
        "log_history": history,
    }
    out = variant_dir(cfg, spec.name)
    trainer.model.generation_config = copy.deepcopy(trainer.args.generation_config)  # evaluation filled in defaults (max_length=20)
    trainer.save_model(str(out))  # kept weights + generation config + the code-safe tokenizer (every rank: FSDP / ZeRO gather here)
    if trainer.is_world_process_zero():
        if valid_rows is not None:  # the kept model generates the valid middles through generate_middles, as notebook 07 does
            tok, inputs, middles = trainer.processing_class, list(valid_rows["student_input"]), list(valid_rows["middle"])
            log["best"] = {"loss": trainer.state.best_metric, **evaluate_middles(generate_middles(trainer.model, tok, inputs, cfg), middles)}
            if spec.fraction == 1:  # the blank-answer guard's effect, on the 2x2 at full data
                unguarded = generate_middles(trainer.model, tok, inputs, cfg, no_blank=False)
                log["best"]["empty_rate_without_guard"] = evaluate_middles(unguarded, middles)["empty_rate"]
        write_json(out / "train_log.json", log)
        (out / "README.md").write_text(model_card(cfg, log))
        if not cfg.keep_checkpoints:
            shutil.rmtree(out / "checkpoints", ignore_errors=True)
        if cfg.push_to_hub:
            push_variant(cfg, spec.name, out)
    return log


def train_variant(
    cfg: Config,
    variant: str,
    data: DatasetDict | None = None,
    callbacks: list[TrainerCallback] | None = None,
    retrain: bool = False,
) -> dict[str, Any]:
    """Train one point (a variant, maybe on a share of the rows: `distill@25`), save it to models/<name>/, return its train log.

    Every point gets `update_budget` updates and the same seed. Resumes from the newest readable checkpoint in
    models/<name>/checkpoints/ when a run with the same settings and data was interrupted. Works unchanged under
    torchrun / accelerate launch.
    """
    spec = variant_spec(cfg, variant)
    data = data if data is not None else load_training_data(cfg, [variant])
    set_seed(cfg.seed)  # before the model exists: nothing random escapes the seed
    model, tok = prepare_student(cfg)
    train_ds, valid_ds, stats = task_datasets(cfg, spec, tok, data)
    steps = update_budget(cfg, len(data["train"]))
    key = _fingerprint(cfg, spec, train_ds, valid_ds, steps)
    ckpt_dir = variant_dir(cfg, variant) / "checkpoints"
    if not retrain and (done := finished_run(variant_dir(cfg, variant), key)):
        return done
    with torch_threads(cfg.torch_threads), deterministic(cfg.deterministic):
        last = resume_point(ckpt_dir, key, retrain)
        trainer, nan_guard = make_trainer(cfg, spec, model, tok, train_ds, valid_ds, ckpt_dir, last is not None, callbacks, steps)
        start = time.time()
        result = trainer.train(resume_from_checkpoint=last)
        _stop_on_nan(cfg, variant, nan_guard, ckpt_dir)
        valid_rows = data["valid"] if valid_ds is not None else None
        return save_and_log(cfg, spec, trainer, valid_rows, stats, key, last, result.training_loss, time.time() - start)


def train_variants(cfg: Config, variants: tuple[str, ...] | list[str] | None = None, retrain: bool = False) -> dict[str, dict[str, Any]]:
    """Train each point of `variant_names(cfg)` (or `variants`): same data, same budget; return their train logs by name."""
    variants = list(variants or variant_names(cfg))
    data = load_training_data(cfg, variants)
    return {v: train_variant(cfg, v, data=data, retrain=retrain) for v in variants}


# --------------------------------------------------------------------------- reporting


def results_table(logs: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """One row per variant: labels, tasks, steps, valid loss before and after, the kept model's valid metrics, time."""
    rows = []
    for name, log in logs.items():
        best, untrained = log.get("best", {}), log.get("untrained", {})
        rows.append(
            {
                "variant": name,
                "labels": log["labels"],
                "train rows": log["data"]["train"]["rows"],
                "tasks": " + ".join(log["tasks"]),
                "steps": log["global_step"],
                "best step": log["best_step"],
                "untrained valid loss": untrained.get("loss"),
                "valid loss": best.get("loss"),
                "valid edit sim": best.get("edit_similarity"),
                "valid exact match": best.get("exact_match"),
                "valid empty rate": best.get("empty_rate"),
                "valid prose rate": best.get("prose_rate"),
                "train s": log["train_seconds"],
            }
        )
    return pd.DataFrame(rows).set_index("variant")


def data_curve(logs: dict[str, dict[str, Any]], metric: str = "edit_similarity") -> pd.DataFrame:
    """Valid `metric` of the kept model: one row per variant, one column per share of the train rows (the paper's curve)."""
    points = [(*parse_variant_name(name), log.get("best", {}).get(metric)) for name, log in logs.items()]
    table = pd.DataFrame(points, columns=["variant", "fraction", metric]).pivot(index="variant", columns="fraction", values=metric)
    table.columns = [f"{f:.0%} of train" for f in table.columns]
    return table.reindex([v for v in ALL_VARIANTS if v in table.index])


def plot_training(logs: dict[str, dict[str, Any]], path: str | Path | None = None) -> "Figure":
    """Loss curves against steps: training (and per task), valid (predict task); one colour per variant (saved to `path` if given)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for (name, log), colour in zip(logs.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        hist = log["log_history"]
        train = [(h["step"], h["loss"]) for h in hist if "loss" in h]
        axes[0].plot(*zip(*train), color=colour, label=f"{name}") if train else None
        if any("explain_loss" in h for h in hist):
            pe = [(h["step"], h["predict_loss"], h["explain_loss"]) for h in hist if "explain_loss" in h and "predict_loss" in h]
            axes[0].plot([p[0] for p in pe], [p[1] for p in pe], color=colour, ls="--", label=f"{name}: predict")
            axes[0].plot([p[0] for p in pe], [p[2] for p in pe], color=colour, ls=":", label=f"{name}: explain")
        ev = [(h["step"], h["eval_loss"]) for h in hist if "eval_loss" in h]
        if ev:
            axes[1].plot(*zip(*ev), "o-", color=colour, label=name)
        if log.get("best_step"):
            axes[1].axvline(log["best_step"], color=colour, alpha=0.3)
    for ax, title in zip(axes, ("training loss", "valid loss (predict, true middle); kept step marked")):
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_yscale("log")
    fig.tight_layout()
    save_figure(fig, path)
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

**Validation metrics** (greedy, true middles): edit similarity {fmt(best.get('edit_similarity'))}, exact match
{fmt(best.get('exact_match'))}, empty outputs {fmt(best.get('empty_rate'))}; valid loss {fmt(best.get('loss'))} (untrained:
{fmt(untrained.get('loss'))}); {f"best step {log['best_step']}" if log['best_step'] else 'the last step'} of {log['global_step']} kept.

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
    if not cfg.hub_model_id:
        raise UserError("push_to_hub=True needs hub_model_id, e.g. 'your-name/flan-t5-small-moonscript'")
    single = len(variant_names(cfg)) == 1
    repo_id = cfg.hub_model_id if single else f"{cfg.hub_model_id}-{variant.replace('_', '-').replace('@', '-')}"
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
