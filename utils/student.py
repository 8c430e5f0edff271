"""The student at inference, in one place: load it (untrained or trained), code-safe, and generate middles.

Notebook 05 (scoring the kept model), notebook 07 (every student system) and `python -m utils
bench student` all go through `load_system` and `generate_middles`, so they decode identically:
batched greedy generation under `generation_config` (set on the model once, when it is loaded),
with the `NoBlankAnswer` guard, and the same input encoding as training (`encode_inputs`).
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import GenerationConfig, LogitsProcessor, LogitsProcessorList, PreTrainedModel, PreTrainedTokenizerBase

from .artifacts import relative, stage_dir
from .config import HOLE, Config, UserError
from .models import load_student, pick_device, pick_dtype, torch_threads
from .tokenization import SPACE, decode_ids, encode_batch, encode_text, make_code_safe, resize_for_tokenizer

UNTRAINED = "untrained"
TASK_PREFIX = {"predict": "predict: ", "explain": "explain: "}
# explain labels open with this sentinel and predict labels never do; decoding suppresses every sentinel, so a
# predicted middle can never enter the mode in which the student learned to write English (the rationale's)
EXPLAIN_MARK = "<extra_id_99>"


def variant_dir(cfg: Config, variant: str) -> Path:
    """Folder of a trained variant: artifacts/<run>/models/<variant>/."""
    return stage_dir(cfg, "models") / variant


# --------------------------------------------------------------------------- generation settings


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


# --------------------------------------------------------------------------- loading


def make_ready(model: PreTrainedModel, tok: PreTrainedTokenizerBase, cfg: Config, device: torch.device, dtype: str) -> PreTrainedModel:
    """The project's special ids and generation settings on `model`, moved to `device` in `dtype`."""
    model.config.decoder_start_token_id = tok.pad_token_id
    model.config.pad_token_id = tok.pad_token_id
    model.config.eos_token_id = tok.eos_token_id
    model.generation_config = generation_config(tok, cfg)
    return model.to(device=device, dtype=pick_dtype(dtype, device))


def prepare_student(cfg: Config, device: str = "cpu", dtype: str = "float32") -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The untrained student with the code-safe tokenizer, resized embeddings and safe generation settings."""
    model, raw_tok = load_student(cfg.student, device="cpu", dtype="float32")
    tok = make_code_safe(raw_tok)
    model = resize_for_tokenizer(model, raw_tok, tok)
    if cfg.student_dropout is not None:  # a tiny model trained for minutes learns better without dropout
        model.config.dropout_rate = cfg.student_dropout
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = cfg.student_dropout
    return make_ready(model, tok, cfg, pick_device(device), dtype), tok


def load_trained(cfg: Config, variant: str, device: str = "cpu", dtype: str = "float32") -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A trained variant and its code-safe tokenizer from models/<variant>/."""
    folder = variant_dir(cfg, variant)
    if not (folder / "config.json").exists():
        raise UserError(
            f"no trained {variant!r} student at {relative(folder)}: run notebook 05_step_by_step_training.ipynb "
            f"or `python -m utils train --variants {variant}` first"
        )
    model, tok = load_student(str(folder), device="cpu", dtype="float32")
    tok = make_code_safe(tok)  # saved code-safe: a no-op, kept so a hand-copied folder is safe too
    return make_ready(model, tok, cfg, pick_device(device), dtype), tok


def load_system(cfg: Config, system: str, device: str | None = None, dtype: str = "float32") -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """(model, code-safe tokenizer) of the untrained student (`system='untrained'`) or of a trained variant."""
    device = str(pick_device(device or cfg.device))
    if system == UNTRAINED:
        return prepare_student(cfg, device=device, dtype=dtype)
    return load_trained(cfg, system, device=device, dtype=dtype)


# --------------------------------------------------------------------------- text <-> ids


def encode_inputs(tokenizer: PreTrainedTokenizerBase, texts: list[str], task: str, max_tokens: int) -> tuple[list[list[int]], list[bool]]:
    """Ids of `<task>: <text></s>`, cut around the hole to fit `max_tokens`; also which were cut."""
    # the task prefix is encoded on its own, after a space, so its word is T5's own piece (`▁predict`, not
    # `pre` `dict`: the code-safe tokenizer prepends no `▁` to a text, so that code round-trips exactly)
    task_ids = encode_text(tokenizer, " " + TASK_PREFIX[task])
    head = len(task_ids)
    hole = tokenizer.convert_tokens_to_ids(HOLE)
    eos = tokenizer.eos_token_id
    encoded = [task_ids + ids for ids in encode_batch(tokenizer, list(texts))]
    out, cut = [], []
    for ids in encoded:
        cut.append(len(ids) + 1 > max_tokens)
        if not cut[-1]:
            out.append(ids + [eos])
            continue
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


def decode_batch(tokenizer: PreTrainedTokenizerBase, ids) -> list[str]:
    """Texts of a padded id matrix (-100 read as pad), special tokens skipped, no space clean-up."""
    rows = ids.tolist() if hasattr(ids, "tolist") else ids
    pad = tokenizer.pad_token_id
    return [decode_ids(tokenizer, [pad if i < 0 else i for i in row], skip_special_tokens=True) for row in rows]


# --------------------------------------------------------------------------- generation


def generate_ids(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, student_inputs: list[str], cfg: Config, progress: bool = False,
    no_blank: bool = True, max_new_tokens: int | None = None,
) -> list[list[int]]:
    """The generated ids of each `student_input` (decoder start dropped, padding kept): batched greedy under `model.generation_config`."""
    ids, _ = encode_inputs(tokenizer, list(student_inputs), "predict", cfg.student_max_input_tokens)
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))  # similar lengths together: less padding
    device = model.device
    guard = no_blank_processor(tokenizer) if no_blank else None
    budget = {} if max_new_tokens is None else {"max_new_tokens": max_new_tokens}
    out: list[list[int]] = [[] for _ in ids]
    was_training = model.training
    model.eval()
    batches = range(0, len(order), cfg.eval_batch_size)
    with torch_threads(cfg.torch_threads), torch.inference_mode():
        for start in tqdm(batches, desc="generating", unit="batch", disable=not progress):
            chunk = order[start : start + cfg.eval_batch_size]
            batch = tokenizer.pad({"input_ids": [ids[i] for i in chunk]}, return_tensors="pt").to(device)
            generated = model.generate(**batch, logits_processor=guard, **budget)
            for i, row in zip(chunk, generated[:, 1:].tolist()):
                out[i] = row
    model.train(was_training)
    return out


def generate_middles(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, student_inputs: list[str], cfg: Config, progress: bool = False, no_blank: bool = True
) -> list[str]:
    """The student's middle for each `student_input`: batched greedy generation under `model.generation_config`."""
    return decode_batch(tokenizer, generate_ids(model, tokenizer, student_inputs, cfg, progress, no_blank))
