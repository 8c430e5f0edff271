"""Logit distillation across two tokenizers (issue 16): the teacher's distributions, stored, and the ULD loss.

Sequence distillation (`distill`) gives the student the teacher's answer; logit distillation also gives it
how sure the teacher was at every token. The usual loss (a KL between the two next-token distributions)
needs one vocabulary, and santacoder (49,280 byte-level BPE pieces) and flan-t5 (32,128 sentencepiece
pieces) share none. Universal Logit Distillation (ULD; Boizard et al., 2024) compares the two
distributions SORTED, largest probability first: the shape of the teacher's confidence, not which
token carries it, so no vocabulary mapping is needed.

- Stored distributions (`run_logits`, `python -m utils teacher-logits`): for each train row, ONE teacher
  forward pass over its FIM prompt + the middle it imitates (`teacher_middle`, or the true `middle` with
  `logit_labels="gold"`), teacher-forced; at each middle token, and at the end (where the teacher should
  stop), its `logit_top_k` most likely next tokens and their probabilities, plus each middle token's
  character span (`char_spans`). Batched and resumable through the same cache loop as generation
  (`teacher.cached_batches`): artifacts/<run>/logits/cache.jsonl, then the stage dataset beside it.
- The loss (`uld_loss`): at each aligned position, the L1 distance between the sorted teacher and student
  probability vectors. We store the teacher's top-k only, so the distance is taken between the two
  distributions seen as (1st, 2nd, ..., k-th most likely, everything else): sum_i |t_(i) - s_(i)| over the k
  largest, plus |tail_t - tail_s| for the mass left over. Not renormalised, on purpose: renormalising the
  top-k would teach the student to be surer than the teacher, and padding the stored top-k with zeros
  against the student's whole sorted vector (the paper's formula, made for full vectors) would leave a
  floor of the teacher's unstored tail mass that no student reaches, so identical distributions would not
  score zero. With k = the vocabulary this is exactly the paper's distance.
- Alignment (`align_positions`): which teacher position each student label position is compared with.
  `position` (default, the paper's): the i-th with the i-th, up to the shorter; cheap, and what ULD was
  shown with, though two tokenizers cut the same text differently so the i-th tokens drift apart.
  `offsets`: a student position is compared with the teacher position that starts at the same character
  (where both models have read exactly the same text and predict what follows it); positions inside a
  token the other side cuts differently are left out.
- The join (`TeacherDistributions`): stored top-k joined into the tokenized training rows by id inside
  `Dataset.map`, one row of k probabilities per student label position (and a mask), checked against the
  label text by hash; the trainer and collator are in utils/training.py (`LogitDistillTrainer`).

Use: `python -m utils teacher-logits` (or `run_logits(cfg)`) after notebook 03, then train `logit_distill` like any
variant (`python -m utils train --variants logit_distill`, or `variants=[..., "logit_distill"]`); it is trained on
all the train rows only, not on the data curve's smaller shares. For a plot: `topk_example`, `plot_topk`,
`alignment_table`.

The endpoint backend cannot provide the distributions (`transformers serve` ignores `echo` and `logprobs`):
this stage runs the teacher in-process; middles generated through an endpoint are reused as they are.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import torch
from datasets import Dataset, DatasetDict, List, Value
from datasets.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .artifacts import JsonlCache, load_merged, load_stage, relative, save_figure, save_stage, stage_dir, stage_lock, write_json
from .config import Config, UserError
from .models import torch_threads
from .student import encode_inputs
from .teacher import (
    PROMPT_FORMAT,
    Prepared,
    TransformersBackend,
    cached_batches,
    encode,
    load_cache,
    model_fingerprint,
    prepare_prompts,
    prompt_hash,
)
from .tokenization import SPACE, encode_batch

if TYPE_CHECKING:
    from matplotlib.figure import Figure

STAGE = "logits"
LOGITS_FORMAT = "topk+tail-v1"  # bump when what a record holds changes
PROB_DIGITS = 5  # probabilities are stored rounded: 1e-5 is far below what the loss can tell apart
ULD_COLUMNS = ("teacher_probs", "teacher_mask")  # what the join adds to a tokenized training row
ENDPOINT_REFUSAL = (
    "teacher_backend='openai' cannot provide the teacher's distributions: logit distillation needs the "
    "probability of every candidate token along the middle (prompt log-probabilities), and the project's local "
    "server, `transformers serve`, ignores `echo` and `logprobs` (vLLM gives at most 20 per position, keyed by token "
    "text, not id). Set teacher_backend='transformers' for this stage: the teacher runs in-process for one forward "
    "pass per example, and the middles already generated through the endpoint are reused as they are"
)


# --------------------------------------------------------------------------- which text, and where each token sits in it


def target_text(row: dict, cfg: Config) -> str:
    """The middle the teacher's distributions are taken along: the text the `logit_distill` student is trained on."""
    if cfg.logit_labels == "gold":
        return row["middle"] or ""
    if cfg.teacher_filter == "gold" and row.get("teacher_parses") is False:
        return row["middle"] or ""  # training relabels these rows with the true middle (training.apply_teacher_filter)
    return row.get("teacher_middle") or ""


def text_hash(text: str) -> str:
    """Short hash of a label text (a stored distribution is used only along the text it was taken along)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@lru_cache(maxsize=1)
def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet read back: each printable stand-in character -> its byte."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, extra = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def _is_byte_level(tok: PreTrainedTokenizerBase) -> bool:
    """Whether `tok` is a byte-level BPE (santacoder's kind), whose pieces spell bytes in GPT-2's alphabet."""
    decoder = json.loads(tok.backend_tokenizer.to_str()).get("decoder") or {}
    return decoder.get("type") == "ByteLevel"


def token_bytes(tok: PreTrainedTokenizerBase, ids: list[int]) -> list[bytes]:
    """The bytes each token of `ids` spells: byte-level BPE pieces, or sentencepiece pieces (`▁`, `<0x..>` byte fallback)."""
    pieces = tok.convert_ids_to_tokens(list(ids))
    if _is_byte_level(tok):
        table = _byte_decoder()
        return [bytes(table[c] for c in p) for p in pieces]
    out = []
    for p in pieces:
        m = re.fullmatch(r"<0x([0-9A-Fa-f]{2})>", p)
        out.append(bytes([int(m.group(1), 16)]) if m else p.replace(SPACE, " ").encode())
    return out


def char_spans(tok: PreTrainedTokenizerBase, text: str, ids: list[int]) -> list[tuple[int, int]]:
    """Character span of each token of `ids` in `text` (they spell `text`, or its start): contiguous from 0.

    A token's span is the characters it completes: a character cut across tokens (UTF-8 bytes in
    byte-level BPE or byte fallback) belongs to the token holding its last byte, the others get an
    empty span. Raises ValueError when the tokens do not spell the text.
    """
    parts = token_bytes(tok, ids)
    raw, spelled = text.encode(), b"".join(parts)
    if not raw.startswith(spelled):
        raise ValueError(f"the tokens spell {spelled[:40]!r}..., not the text {raw[:40]!r}...")
    ends, at = [], 0  # byte offset where each character ends
    for ch in text:
        at += len(ch.encode())
        ends.append(at)
    spans, cursor = [], 0
    for p in parts:
        start = bisect.bisect_right(ends, cursor)
        cursor += len(p)
        spans.append((start, bisect.bisect_right(ends, cursor)))
    return spans


def align_positions(student_spans: list[tuple[int, int]], teacher_spans: list[tuple[int, int]], how: str,
                    student_complete: bool = True) -> list[int]:
    """For each student label position (its text tokens, then its `</s>`), the teacher position compared with it (-1: none).

    Teacher positions are its middle tokens, then the end. `position`: the i-th with the i-th, up to the
    shorter. `offsets`: the teacher position whose text so far is the student's (same start character; the
    ends after the whole text, when the student's labels were not cut short: `student_complete`).
    """
    n_s, n_t = len(student_spans) + 1, len(teacher_spans) + 1
    if how == "position":
        return [j if j < n_t else -1 for j in range(n_s)]
    if how != "offsets":
        raise UserError(f"logit_alignment={how!r}: use 'position' or 'offsets'")
    text_end = teacher_spans[-1][1] if teacher_spans else 0
    teacher_at = _boundaries(teacher_spans)
    teacher_at[text_end] = n_t - 1  # the end: the whole (stored) text read
    student_at = _boundaries(student_spans)
    out = [teacher_at.get(s, -1) if student_at[s] == j else -1 for j, (s, _) in enumerate(student_spans)]
    student_end = student_spans[-1][1] if student_spans else 0
    out.append(n_t - 1 if student_complete and student_end == text_end else -1)
    return out


def _boundaries(spans: list[tuple[int, int]]) -> dict[int, int]:
    """Start character -> the first token starting there: the one that has read exactly text[:start] (later ones read part of a character)."""
    first: dict[int, int] = {}
    for m, (start, _) in enumerate(spans):
        first.setdefault(start, m)
    return first


# --------------------------------------------------------------------------- the teacher's distributions, stored


@dataclass
class LogitSettings:
    """Everything that decides a stored distribution; its hash keys the cache."""

    model: str
    prompt_format: str
    fim_mode: str
    top_k: int
    max_target_tokens: int
    max_prompt_tokens: int
    dtype: str
    format: str = LOGITS_FORMAT

    def key(self) -> str:
        """Short stable hash of the settings."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


def logits_cache_path(cfg: Config) -> Path:
    """artifacts/<run>/logits/cache.jsonl."""
    return stage_dir(cfg, STAGE) / "cache.jsonl"


def teacher_topk(model: PreTrainedModel, rows: list[list[int]], starts: list[int], k: int, pad_id: int) -> list[tuple[list[list[int]], list[list[float]]]]:
    """One teacher-forced forward pass over a batch (prompt + middle ids per row, the middle from `starts[i]`).

    For each row: the top-k next-token ids and probabilities at every middle token and after the last
    one (the end), taken from the full softmax (not renormalised). Right-padded; the head runs only on the
    positions kept, so a 49k vocabulary never meets the prompt's positions.
    """
    device = next(model.parameters()).device
    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        input_ids[i, :len(r)] = torch.tensor(r, dtype=torch.long)
        mask[i, :len(r)] = 1
    which = [(i, p) for i, (r, s) in enumerate(zip(rows, starts)) for p in range(s - 1, len(r))]
    with torch.inference_mode():
        hidden = model.base_model(input_ids=input_ids.to(device), attention_mask=mask.to(device), use_cache=False).last_hidden_state
        picked = hidden[[i for i, _ in which], [p for _, p in which]]
        probs, ids = model.get_output_embeddings()(picked).float().softmax(-1).topk(k, dim=-1)
    probs, ids = probs.cpu().tolist(), ids.cpu().tolist()
    out, at = [], 0
    for r, s in zip(rows, starts):
        n = len(r) - s + 1
        out.append((ids[at:at + n], [[round(p, PROB_DIGITS) for p in row] for row in probs[at:at + n]]))
        at += n
    return out


def _prepare(rows: Dataset, tok: PreTrainedTokenizerBase, cfg: Config, max_prompt: int) -> tuple[Prepared, list[str], list[list[int]]]:
    """Every row's fitted FIM prompt + its target middle (what is hashed and run), the targets, their teacher ids."""
    prompts = prepare_prompts(DatasetDict({"train": rows}), tok, cfg, max_prompt)
    targets = [target_text(r, cfg) for r in rows]
    target_ids = [encode(tok, t)[:cfg.max_new_tokens] for t in targets]
    full = Prepared(rows=prompts.rows, ids=prompts.ids, prompts=[p + t for p, t in zip(prompts.prompts, targets)],
                    token_ids=[a + b for a, b in zip(prompts.token_ids, target_ids)], suffixes=prompts.suffixes,
                    trimmed=prompts.trimmed, empty=[not t.strip() for t in targets], stats=prompts.stats)
    return full, targets, target_ids


def compute_distributions(cfg: Config, rows: Dataset, backend: TransformersBackend | None = None,
                          cache: str | Path | None = None, progress: bool = True) -> tuple[list[dict], dict]:
    """The teacher's stored top-k for every row with a target middle, resuming from (and appending to) the cache; (records, stats)."""
    if cfg.teacher_backend != "transformers":
        raise UserError(ENDPOINT_REFUSAL)
    backend = backend or TransformersBackend(cfg)
    tok = backend.tok
    settings = LogitSettings(model=model_fingerprint(cfg.teacher), prompt_format=PROMPT_FORMAT, fim_mode=cfg.fim_mode,
                             top_k=cfg.logit_top_k, max_target_tokens=cfg.max_new_tokens,
                             max_prompt_tokens=backend.context - cfg.max_new_tokens, dtype=backend.dtype)
    if settings.max_prompt_tokens < 1:
        raise UserError(f"max_new_tokens={cfg.max_new_tokens} leaves no room for a prompt in the teacher's {backend.context}-token context")
    key = settings.key()
    prep, targets, target_ids = _prepare(rows, tok, cfg, settings.max_prompt_tokens)
    store = JsonlCache(Path(cache) if cache is not None else logits_cache_path(cfg))
    done = load_cache(store, key)
    shas = [prompt_hash(p) for p in prep.prompts]
    todo = [i for i in range(len(prep.ids)) if not prep.empty[i] and (prep.ids[i], shas[i]) not in done]
    wanted = [i for i in range(len(prep.ids)) if not prep.empty[i]]

    def work(batch: list[int]) -> list[dict]:
        starts = [len(prep.token_ids[i]) - len(target_ids[i]) for i in batch]
        tops = teacher_topk(backend.model, [prep.token_ids[i] for i in batch], starts, cfg.logit_top_k, backend.pad_id)
        return [{"id": prep.ids[i], "prompt_sha": shas[i], "key": key, "text_sha": text_hash(targets[i]),
                 "tokens": target_ids[i], "offsets": [list(s) for s in char_spans(tok, targets[i], target_ids[i])],
                 "topk_ids": ids, "topk_probs": probs, "prompt_trimmed": prep.trimmed[i]}
                for i, (ids, probs) in zip(batch, tops)]

    with torch_threads(cfg.torch_threads):
        seconds = cached_batches(prep, todo, lambda: backend.batch_size, work, store, done, "teacher logits", progress)
    records = [done[(prep.ids[i], shas[i])] for i in wanted]
    stats = {"rows": len(prep.ids), "with_target": len(wanted), "computed": len(todo), "reused_from_cache": len(wanted) - len(todo),
             "no_target": len(prep.ids) - len(wanted), "cache_lines_skipped": store.skipped, "seconds": round(seconds, 3),
             "positions": sum(len(r["topk_probs"]) for r in records), "settings": asdict(settings), "settings_key": key,
             "logit_labels": cfg.logit_labels}
    return records, stats


def run_logits(cfg: Config, progress: bool = True, backend: TransformersBackend | None = None) -> tuple[DatasetDict, dict]:
    """The teacher's distributions for every train row, saved as the `logits` stage (dataset, parquet, stats.json)."""
    if cfg.teacher_backend != "transformers":
        raise UserError(ENDPOINT_REFUSAL)
    data = load_merged(cfg, require=("teacher_middle",) if cfg.logit_labels == "teacher" else ())
    if "train" not in data:
        raise UserError("the dataset has no 'train' split: run notebook 02_fim_segmentation.ipynb first")
    folder = stage_dir(cfg, STAGE)
    with stage_lock(cfg, STAGE):
        records, stats = compute_distributions(cfg, data["train"], backend, None, progress)
        columns = ("id", "text_sha", "tokens", "offsets", "topk_ids", "topk_probs", "prompt_trimmed")
        was_disabled = are_progress_bars_disabled()
        disable_progress_bars()  # "Casting" / "Saving the dataset" bars would bury the stage's own
        try:
            part = Dataset.from_dict({c: [r[c] for r in records] for c in columns})
            if len(part):  # 32-bit ids and offsets, 32-bit probabilities: half of Arrow's 64-bit default
                features = part.features.copy()
                features.update({"tokens": List(Value("int32")), "offsets": List(List(Value("int32"))),
                                 "topk_ids": List(List(Value("int32"))), "topk_probs": List(List(Value("float32")))})
                part = part.cast(features)
            ds = DatasetDict({"train": part})
            save_stage(ds, folder)
        finally:
            if not was_disabled:
                enable_progress_bars()
        stats["stored_bytes"] = sum(f.stat().st_size for f in (folder / "dataset").rglob("*") if f.is_file())
        write_json(folder / "stats.json", stats)
    return ds, stats


def load_distributions(cfg: Config) -> dict[str, dict]:
    """The stored distributions of this run by example id, or an error naming the command that makes them."""
    path = stage_dir(cfg, STAGE) / "dataset"
    if not path.exists():
        raise UserError(f"no teacher distributions at {relative(path)}: run notebook 06_logit_distillation.ipynb or "
                        "`python -m utils teacher-logits` first, after notebook 03 (same profile and run_name)")
    part = load_stage(cfg, STAGE)["train"]
    return {r["id"]: r for r in part}


# --------------------------------------------------------------------------- the join and the loss


class TeacherDistributions:
    """Joins stored teacher top-k into tokenized training rows by id (a `build_task_dataset` hook, inside `Dataset.map`)."""

    def __init__(self, records: dict[str, dict], tokenizer: PreTrainedTokenizerBase, k: int, alignment: str):
        """`records` by id (`load_distributions`); `tokenizer` is the student's (its label spans are computed here)."""
        self.records, self.tok, self.k, self.alignment = records, tokenizer, k, alignment

    def __call__(self, batch: dict[str, list], out: dict[str, list], labels_from: str) -> dict[str, list]:
        """Per row: `teacher_probs` (one k-vector per label position, zeros where none is aligned), `teacher_mask`, and counts."""
        probs, masks, missing, aligned = [], [], [], []
        for pid, text, labels in zip(batch["id"], batch[labels_from], out["labels"]):
            rec = self.records.get(pid)
            if rec is None or rec["text_sha"] != text_hash(text) or len(rec["topk_probs"][0]) < self.k:
                pairs = [-1] * len(labels)
            else:
                spans = char_spans(self.tok, text, labels[:-1])  # the label's text tokens; the last is </s>
                complete = (spans[-1][1] if spans else 0) == len(text)
                pairs = align_positions(spans, [tuple(o) for o in rec["offsets"]], self.alignment, complete)
            zero = [0.0] * self.k
            probs.append([rec["topk_probs"][m][:self.k] if m >= 0 else zero for m in pairs])
            masks.append([int(m >= 0) for m in pairs])
            missing.append(all(m < 0 for m in pairs))
            aligned.append(sum(m >= 0 for m in pairs))
        return {"teacher_probs": probs, "teacher_mask": masks, "no_teacher_distribution": missing, "uld_positions": aligned}


def uld_loss(student_logits: torch.Tensor, teacher_probs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean ULD over the aligned positions: L1 between the sorted top-k (and the leftover mass) of teacher and student.

    `student_logits` [B, L, V], `teacher_probs` [B, L, k] (the teacher's k largest probabilities, sorted, as
    stored), `mask` [B, L] (True where a teacher distribution is aligned). Zero for identical distributions.
    """
    k = teacher_probs.shape[-1]
    student = student_logits.float().softmax(-1).topk(min(k, student_logits.shape[-1]), dim=-1).values
    student = torch.nn.functional.pad(student, (0, k - student.shape[-1]))  # a vocabulary smaller than k: zeros
    teacher = teacher_probs.float().sort(dim=-1, descending=True).values
    tails = (1 - teacher.sum(-1)).clamp(min=0) - (1 - student.sum(-1)).clamp(min=0)
    distance = (teacher - student).abs().sum(-1) + tails.abs()
    mask = mask.bool()
    return distance[mask].sum() / mask.sum().clamp(min=1)


# --------------------------------------------------------------------------- one example, for a plot


def _topk_table(system: str, probs: torch.Tensor, ids: torch.Tensor, tok: PreTrainedTokenizerBase, contexts: list[int]) -> list[dict]:
    """Long-format rows (system, position, rank, token, prob, context_chars) of one system's top-k."""
    out = []
    for pos, (p_row, i_row) in enumerate(zip(probs.tolist(), ids.tolist())):
        for rank, (p, i) in enumerate(zip(p_row, i_row)):
            text = b"".join(token_bytes(tok, [i])).decode("utf-8", errors="replace")
            out.append({"system": system, "position": pos, "rank": rank, "token": text, "prob": p,
                        "context_chars": contexts[pos] if pos < len(contexts) else None})
    return out


def topk_example(cfg: Config, row: dict, teacher: tuple[PreTrainedModel, PreTrainedTokenizerBase],
                 student: tuple[PreTrainedModel, PreTrainedTokenizerBase], k: int | None = None) -> pd.DataFrame:
    """The teacher's and the student's top-k along one row's target middle, position by position (for a plot).

    Long format: system (teacher / student), position (its own token positions, the end last), rank, token
    (text), prob, context_chars (how much of the middle it had read). Computed now, not read from the cache,
    so it works on any split and any student (before and after training).
    """
    k = k or cfg.logit_top_k
    (t_model, t_tok), (s_model, s_tok) = teacher, student
    backend = TransformersBackend(cfg, t_model, t_tok)
    prep, targets, target_ids = _prepare(Dataset.from_list([row]), t_tok, cfg, backend.context - cfg.max_new_tokens)
    start = len(prep.token_ids[0]) - len(target_ids[0])
    ((t_ids, t_probs),) = teacher_topk(t_model, prep.token_ids, [start], k, backend.pad_id)
    t_spans = char_spans(t_tok, targets[0], target_ids[0])
    rows = _topk_table("teacher", torch.tensor(t_probs), torch.tensor(t_ids), t_tok, [s for s, _ in t_spans] + [len(targets[0])])
    inputs, _ = encode_inputs(s_tok, [row["student_input"]], "predict", cfg.student_max_input_tokens)
    labels = encode_batch(s_tok, [targets[0]])[0][: cfg.max_target_tokens - 1] + [s_tok.eos_token_id]
    device = next(s_model.parameters()).device
    was_training = s_model.training
    s_model.eval()
    with torch.inference_mode():
        logits = s_model(input_ids=torch.tensor(inputs, device=device), labels=torch.tensor([labels], device=device)).logits[0]
    s_model.train(was_training)
    s_probs, s_ids = logits.float().softmax(-1).topk(k, dim=-1)
    s_spans = char_spans(s_tok, targets[0], labels[:-1])
    rows += _topk_table("student", s_probs.cpu(), s_ids.cpu(), s_tok, [s for s, _ in s_spans] + [s_spans[-1][1] if s_spans else 0])
    return pd.DataFrame(rows)


def alignment_table(teacher_tok: PreTrainedTokenizerBase, student_tok: PreTrainedTokenizerBase, text: str) -> pd.DataFrame:
    """One row per student position of `text` (its tokens, then </s>): its span, and the teacher token each alignment pairs it with."""
    t_ids, s_ids = encode(teacher_tok, text), encode_batch(student_tok, [text])[0]
    t_spans, s_spans = char_spans(teacher_tok, text, t_ids), char_spans(student_tok, text, s_ids)
    t_text = [text[a:b] for a, b in t_spans] + ["(end)"]
    rows = []
    for j, (by_position, by_offsets) in enumerate(zip(align_positions(s_spans, t_spans, "position"), align_positions(s_spans, t_spans, "offsets"))):
        start, end = s_spans[j] if j < len(s_spans) else (len(text), len(text))
        rows.append({"student token": text[start:end] if j < len(s_spans) else "</s>", "start": start, "end": end,
                     "teacher token (position)": t_text[by_position] if by_position >= 0 else None,
                     "teacher token (offsets)": t_text[by_offsets] if by_offsets >= 0 else None})
    return pd.DataFrame(rows)


def plot_topk(table: pd.DataFrame, positions: int = 6, path: str | Path | None = None) -> "Figure":
    """Bars of the teacher's and the student's sorted top-k at the first `positions` positions of `topk_example`'s table."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, positions, figsize=(2.2 * positions, 2.8), sharey=True, squeeze=False)
    for pos, ax in enumerate(axes[0]):
        for shift, (system, colour) in enumerate((("teacher", "#d95f02"), ("student", "#1b9e77"))):
            part = table[(table.system == system) & (table.position == pos)].sort_values("rank")
            ax.bar(part["rank"] + (shift - 0.5) * 0.4, part["prob"], width=0.4, color=colour, label=system)
            if len(part):
                ax.text(0.98, 0.95 - 0.1 * shift, repr(part["token"].iloc[0])[:12], transform=ax.transAxes, ha="right",
                        va="top", fontsize=7, color=colour)
        ax.set_title(f"position {pos}", fontsize=9)
        ax.set_xticks(sorted(set(table["rank"])))
        ax.set_xlabel("rank")
    axes[0][0].set_ylabel("probability")
    axes[0][0].legend(fontsize=7, loc="center right")
    fig.tight_layout()
    save_figure(fig, path)
    return fig


def teacher_logits_command(cfg: Config) -> None:
    """`python -m utils teacher-logits`: store the teacher's distributions of every train row (resumes)."""
    start = time.perf_counter()
    _, stats = run_logits(cfg)
    print(f"{stats['with_target']} train rows: {stats['computed']} computed, {stats['reused_from_cache']} from the cache, "
          f"{stats['positions']} positions of top-{cfg.logit_top_k}, {stats['stored_bytes'] / 1e6:.2f} MB stored, "
          f"{time.perf_counter() - start:.1f} s; in {relative(stage_dir(cfg, STAGE))}")


__all__ = [
    "LogitSettings", "TeacherDistributions", "align_positions", "alignment_table", "char_spans", "compute_distributions", "load_distributions",
    "logits_cache_path", "plot_topk", "run_logits", "target_text", "teacher_logits_command", "teacher_topk", "text_hash", "token_bytes",
    "topk_example", "uld_loss",
]
