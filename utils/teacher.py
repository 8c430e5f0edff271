"""Notebook 03: the teacher fills in the middle of every FIM example, fast, resumably, and measured.

- Generation: prompts sorted by token length into batches, left-padded with `<fim-pad>`,
  KV cache on, greedy by default (sampling with `num_samples` answers per prompt as an
  option), fp16/bf16 on a GPU. A row stops at `<|endoftext|>`, at `<fim-pad>`, or as soon
  as its output starts repeating the suffix (`SuffixRepeatStop`); the same rules trim the
  text afterwards (`trim_middle`). `max_new_tokens` is the span budget: the longest true
  middle of the dataset in teacher tokens plus a little slack, capped by cfg.max_new_tokens.
- Two backends, one prompt format: in-process transformers (default) or any
  OpenAI-compatible `/v1/completions` server (vLLM, TGI, `transformers serve`).
- The parser judges: every answer is put back into its whole file (`fim.rebuild`) and MoonScript's
  parser says whether the file still parses (`teacher_parses`, `teacher_parse_error`). With
  `num_samples > 1` the kept answer is one whose file parses, ties broken by the teacher's mean
  log-probability of the answer (`teacher_logprobs`, one per sample, from both backends).
- Cache: each finished batch is appended to artifacts/<run>/teacher/cache.jsonl and
  fsync'ed; a record is reused only when its example id, its prompt and a hash of
  (model, generation settings, prompt format) all match, so a rerun resumes and a
  changed setting regenerates instead of reusing stale answers.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import random
import re
import time
import warnings
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import openai
import pandas as pd
import torch
from datasets import DatasetDict, Value
from datasets.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars
from tqdm.auto import tqdm
from transformers import StoppingCriteria, StoppingCriteriaList

from .artifacts import JsonlCache, load_stage, relative, save_figure, save_stage, stage_dir, stage_lock, write_json
from .config import EOS, FIM_MIDDLE, FIM_PAD, FIM_PREFIX, FIM_SUFFIX, FIM_TOKENS, Config, UserError
from .endpoint import EndpointClient, Target
from .fim import build_fim_dataset, files_parse, fim_prompt, parse_context, rebuild
from .metrics import edit_similarity, exact_match, is_empty, mean_ci
from .models import load_model_config, load_teacher, load_tokenizer, resolve, sync
from .parser import NO_PARSER_HINT, ParseResult, Parser, load_parser

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PROMPT_FORMAT = "santacoder-fim-v1"  # bump when the prompt template changes
STOP_RULES = "eos+fim_pad+suffix16-v1"  # bump when the stopping / trimming rules change
SUFFIX_HEAD_CHARS = 16  # non-blank characters of the suffix whose reappearance means "the middle is over"
SUFFIX_HEAD_MIN_CHARS = 6  # a suffix with fewer non-blank characters than this is not watched
SPAN_SLACK_TOKENS = 8  # budget above the longest true middle: room to emit <|endoftext|>
TEACHER_COLUMNS = ("teacher_middle", "teacher_samples", "teacher_raw", "teacher_stop", "teacher_new_tokens",
                   "teacher_prompt_trimmed", "teacher_logprobs", "teacher_parses", "teacher_parse_error")
ROW_FIELDS = ("source", "segment_start", "prefix", "middle", "suffix")  # what `fim.rebuild` needs of a row


# --------------------------------------------------------------------------- prompts and stopping


def _warn(message: str) -> None:
    """A UserWarning shown as `utils.teacher: ...` (no source path or line in notebook outputs)."""
    warnings.warn_explicit(message, UserWarning, filename="utils.teacher", lineno=0, module="utils.teacher")


def fim_mode_of(prompt: str) -> str:
    """'spm' or 'psm': the order a santacoder FIM prompt was written in."""
    return "spm" if prompt.startswith(FIM_PREFIX + FIM_SUFFIX) else "psm"


def split_fim_prompt(prompt: str) -> tuple[str, str]:
    """(prefix, suffix) read back from a santacoder FIM prompt in either order."""
    if fim_mode_of(prompt) == "spm":
        body = prompt[len(FIM_PREFIX + FIM_SUFFIX):]
        suffix, _, prefix = body.partition(FIM_MIDDLE)
        return prefix, suffix
    body = prompt[len(FIM_PREFIX):] if prompt.startswith(FIM_PREFIX) else prompt
    prefix, _, rest = body.partition(FIM_SUFFIX)
    suffix = rest[: -len(FIM_MIDDLE)] if rest.endswith(FIM_MIDDLE) else rest.partition(FIM_MIDDLE)[0]
    return prefix, suffix


def suffix_pattern(suffix: str, head_chars: int = SUFFIX_HEAD_CHARS) -> re.Pattern | None:
    """Regex matching the start of `suffix` with any whitespace between its words; None if too short to trust."""
    runs, count = [], 0
    for run in re.findall(r"\S+", suffix[:2000]):
        runs.append(run)
        count += len(run)
        if count >= head_chars:
            break
    if count < SUFFIX_HEAD_MIN_CHARS:
        return None
    body = r"\s+".join(re.escape(r) for r in runs)
    # a suffix that starts with whitespace starts a new word: the repeat must too
    lead = r"(?<!\S)" if suffix[:1].isspace() else ""
    return re.compile(lead + body)


def cut_at_stop_tokens(text: str) -> tuple[str, str | None]:
    """`text` up to the first FIM special token, and which token it was (None: none found)."""
    first, which = len(text), None
    for token in FIM_TOKENS:
        i = text.find(token)
        if i != -1 and i < first:
            first, which = i, token
    return text[:first], which


def find_suffix_repeat(text: str, suffix: str, pattern: re.Pattern | None = None) -> int | None:
    """Index where `text` starts repeating `suffix` (leading indentation of that line included), or None."""
    pattern = pattern if pattern is not None else suffix_pattern(suffix)
    if pattern is None:
        return None
    m = pattern.search(text)
    if m is None:
        return None
    cut = m.start()
    lead = suffix[: len(suffix) - len(suffix.lstrip())]
    if lead and text[:cut].endswith(lead):
        return cut - len(lead)
    return len(text[:cut].rstrip(" \t"))


def trim_middle(raw: str, suffix: str) -> tuple[str, str]:
    """(middle, reason): `raw` cut at the first special token, then where it starts repeating the suffix.

    reason is `eos`, `fim_pad`, `special` (another FIM token), `suffix` or `length` (none: the budget ran out).
    """
    text, token = cut_at_stop_tokens(raw)
    reason = {None: "length", EOS: "eos", FIM_PAD: "fim_pad"}.get(token, "special")
    cut = find_suffix_repeat(text, suffix)
    if cut is not None:
        return text[:cut], "suffix"
    return text, reason


class SuffixRepeatStop(StoppingCriteria):
    """Stops each row of a batch as soon as its new text starts repeating that row's suffix."""

    def __init__(self, tokenizer, suffixes: Sequence[str], prompt_len: int):
        """`suffixes[i]` belongs to row i; `prompt_len` is the (padded) prompt width."""
        self.tokenizer = tokenizer
        self.patterns = [suffix_pattern(s) for s in suffixes]
        self.prompt_len = prompt_len

    def __call__(self, input_ids: torch.LongTensor, scores: Any = None, **kwargs: Any) -> torch.BoolTensor:
        """Boolean per row: True where the suffix has reappeared."""
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool)
        rows = [i for i, p in enumerate(self.patterns) if p is not None]
        if rows and input_ids.shape[1] > self.prompt_len:
            texts = self.tokenizer.batch_decode(input_ids[rows, self.prompt_len:].tolist(), skip_special_tokens=False)
            for i, text in zip(rows, texts):
                head, _ = cut_at_stop_tokens(text)
                done[i] = self.patterns[i].search(head) is not None
        return done.to(input_ids.device)


def encode(tok, text: str) -> list[int]:
    """Token ids of `text` exactly as the server would see them (no added special tokens)."""
    return tok(text, add_special_tokens=False)["input_ids"]


def fit_prompt(tok, prefix: str, suffix: str, mode: str, max_tokens: int) -> tuple[str, list[int], bool]:
    """(prompt, ids, trimmed): the FIM prompt, its prefix cut from the left (on a line start when possible) to fit."""
    prompt = fim_prompt(prefix, suffix, mode)
    ids = encode(tok, prompt)
    if len(ids) <= max_tokens:
        return prompt, ids, False
    for _ in range(64):  # each pass removes at least one character; a few passes are the norm
        excess = len(ids) - max_tokens
        if excess <= 0:
            break
        if prefix:
            chars_per_token = max(1.0, len(prefix) / max(1, len(encode(tok, prefix))))
            cut = min(len(prefix), max(1, int(excess * chars_per_token)))
            rest = prefix[cut:]
            nl = rest.find("\n")
            prefix = rest[nl + 1:] if 0 <= nl < len(rest) - 1 else rest
        else:  # no prefix left: cut the suffix from the right
            chars_per_token = max(1.0, len(suffix) / max(1, len(encode(tok, suffix))))
            suffix = suffix[: max(0, len(suffix) - max(1, int(excess * chars_per_token)))]
        prompt = fim_prompt(prefix, suffix, mode)
        ids = encode(tok, prompt)
    if len(ids) > max_tokens:  # give up on text: keep the structure tokens, drop the middle of the ids
        ids = ids[: max_tokens // 2] + ids[-(max_tokens - max_tokens // 2):]
        prompt = tok.decode(ids)
    return prompt, ids, True


def span_budget(tok, middles: Iterable[str], cap: int) -> int:
    """max_new_tokens from the span rules: the longest true middle in teacher tokens + slack, at most `cap`.

    This is a dataset-wide bound (the longest span notebook 02 can cut), not a per-example
    hint, so it tells the teacher nothing about any one answer.
    """
    longest = max((len(encode(tok, m)) for m in middles), default=cap)
    return max(1, min(cap, longest + SPAN_SLACK_TOKENS))


def length_sorted(lengths: Sequence[int], ids: Sequence[str]) -> list[int]:
    """Row indices, longest prompt first (ties by id): batches of similar length waste no padding."""
    return sorted(range(len(lengths)), key=lambda i: (-lengths[i], ids[i]))


# --------------------------------------------------------------------------- settings and cache


def model_fingerprint(name: str) -> str:
    """Identity of a model: its name, and for a local folder a hash of its config and weight file sizes."""
    path = Path(resolve(name))
    if not path.is_dir():
        return name
    h = hashlib.sha256()
    for f in sorted(path.iterdir()):
        if f.name == "config.json":
            h.update(f.read_bytes())
        elif f.suffix in (".safetensors", ".bin"):
            h.update(f"{f.name}:{f.stat().st_size}".encode())
    return f"{name}@{h.hexdigest()[:12]}"


@dataclass
class GenSettings:
    """Everything that decides the teacher's answer; its hash keys the cache."""

    model: str
    backend: str
    served_model: str | None
    prompt_format: str
    fim_mode: str
    max_new_tokens: int
    max_prompt_tokens: int
    do_sample: bool
    temperature: float | None
    top_p: float | None
    num_samples: int
    seed: int | None
    dtype: str
    stop_rules: str = STOP_RULES

    def key(self) -> str:
        """Short stable hash of the settings."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


def prompt_hash(prompt: str) -> str:
    """Short hash of one prompt (a rebuilt dataset with the same ids but other text is not reused)."""
    return hashlib.sha256(prompt.encode()).hexdigest()[:16]


def cache_path(cfg: Config) -> Path:
    """artifacts/<run>/teacher/cache.jsonl."""
    return stage_dir(cfg, "teacher") / "cache.jsonl"


def load_cache(path: str | Path | JsonlCache, key: str) -> dict[tuple[str, str], dict]:
    """Finished records of settings `key`, by (id, prompt hash); unreadable lines (a torn write, bad bytes) skipped."""
    cache = path if isinstance(path, JsonlCache) else JsonlCache(Path(path))
    return {(r["id"], r["prompt_sha"]): r for r in cache.records()
            if r.get("key") == key and "id" in r and "prompt_sha" in r}


# --------------------------------------------------------------------------- backends


@dataclass
class Generation:
    """One prompt's answer(s): raw texts (one per sample), the tokens generated, each sample's mean log-probability."""

    raw: list[str]
    new_tokens: int
    logprobs: list[float | None] = field(default_factory=list)  # per sample; None where the backend gave none


def mean_logprobs(scores: torch.Tensor, counts: Sequence[int]) -> list[float | None]:
    """Mean of each row's first `counts[i]` token log-probabilities (None for a row with no token)."""
    out: list[float | None] = []
    for row, k in zip(scores.float().cpu(), counts):
        out.append(float(row[:k].mean()) if k > 0 else None)
    return out


def _count_new_tokens(row: list[int], stop_ids: set[int]) -> int:
    """Tokens generated up to and including the first stop token."""
    for i, t in enumerate(row):
        if t in stop_ids:
            return i + 1
    return len(row)


class TransformersBackend:
    """In-process generation: length-sorted left-padded batches, KV cache, stop rules, OOM -> smaller batch."""

    name = "transformers"

    def __init__(self, cfg: Config, model=None, tokenizer=None):
        """Load cfg.teacher (or use the given model and tokenizer)."""
        if model is None or tokenizer is None:
            model, tokenizer = load_teacher(cfg.teacher, cfg.device, cfg.dtype)
        self.model, self.tok = model, tokenizer
        self.cfg = cfg
        self.batch_size = max(1, cfg.teacher_batch_size)
        self.context = _context_size(model.config)
        self.dtype = str(model.dtype).replace("torch.", "")
        vocab = tokenizer.get_vocab()
        self.eos_id = vocab.get(EOS, tokenizer.eos_token_id)
        self.pad_id = vocab.get(FIM_PAD, self.eos_id)
        self.stop_ids = {i for i in (self.eos_id, self.pad_id) if i is not None}

    @property
    def device(self) -> torch.device:
        """Where the model runs."""
        return next(self.model.parameters()).device

    def generate(self, prompts: Sequence[str], ids: Sequence[list[int]], suffixes: Sequence[str], settings: GenSettings,
                 seed: int = 0) -> list[Generation]:
        """Answers for one batch; on CUDA out-of-memory the batch is halved (and stays halved)."""
        try:
            return self._generate(ids, suffixes, settings, seed)
        except torch.cuda.OutOfMemoryError:
            if len(ids) == 1:
                raise UserError(
                    "the GPU ran out of memory on a single example: lower max_new_tokens, use dtype='float16', "
                    "or a GPU with more memory") from None
            torch.cuda.empty_cache()
            half = max(1, len(ids) // 2)
            self.batch_size = min(self.batch_size, half)
            _warn(f"CUDA out of memory at batch size {len(ids)}: continuing with batch size {half}")
            return self.generate(prompts[:half], ids[:half], suffixes[:half], settings, seed) + \
                self.generate(prompts[half:], ids[half:], suffixes[half:], settings, seed + 1)

    def _generate(self, ids: Sequence[list[int]], suffixes: Sequence[str], settings: GenSettings, seed: int) -> list[Generation]:
        n = settings.num_samples
        width = max(len(x) for x in ids)
        input_ids = torch.full((len(ids), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for i, x in enumerate(ids):  # left padding: every prompt ends where generation starts
            input_ids[i, width - len(x):] = torch.tensor(x, dtype=torch.long)
            mask[i, width - len(x):] = 1
        kwargs: dict[str, Any] = dict(do_sample=False)
        if settings.do_sample:
            kwargs = dict(do_sample=True, temperature=settings.temperature, top_p=settings.top_p, num_return_sequences=n)
            torch.manual_seed(seed)
        stop = SuffixRepeatStop(self.tok, [s for s in suffixes for _ in range(n if settings.do_sample else 1)], width)
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=input_ids.to(self.device),
                attention_mask=mask.to(self.device),
                max_new_tokens=settings.max_new_tokens,
                eos_token_id=sorted(self.stop_ids),
                pad_token_id=self.pad_id,
                use_cache=True,
                stopping_criteria=StoppingCriteriaList([stop]),
                return_dict_in_generate=True,
                output_logits=True,  # the model's own distribution, before temperature / top-p
                **kwargs,
            )
            scores = self.model.compute_transition_scores(out.sequences, out.logits, normalize_logits=True)
        new = out.sequences[:, width:].tolist()
        texts = self.tok.batch_decode(new, skip_special_tokens=False)
        counts = [_count_new_tokens(r, self.stop_ids) for r in new]
        logprobs = mean_logprobs(scores, counts)
        per = n if settings.do_sample else 1
        return [
            Generation(raw=texts[i * per:(i + 1) * per], new_tokens=sum(counts[i * per:(i + 1) * per]),
                       logprobs=logprobs[i * per:(i + 1) * per])
            for i in range(len(ids))
        ]


TEACHER_API_KEY_ENV = "TEACHER_API_KEY"  # never the OpenAI key: this URL may be anyone's


def teacher_target(cfg: Config, served_model: str) -> Target:
    """The teacher endpoint of `cfg` with the settings its error messages name."""
    return Target(base_url=cfg.teacher_base_url or "", model=served_model, key_env=TEACHER_API_KEY_ENV,
                  url_setting="teacher_base_url", model_setting="teacher_served_model",
                  timeout_setting="teacher_timeout_s", timeout_s=cfg.teacher_timeout_s,
                  retries_setting="teacher_max_retries", max_retries=cfg.teacher_max_retries)


def choice_logprob(choice: Any) -> float | None:
    """Mean token log-probability of one completion choice, or None when the server sent none."""
    found = getattr(choice, "logprobs", None)
    values = [v for v in (getattr(found, "token_logprobs", None) or []) if v is not None]
    return sum(values) / len(values) if values else None


class OpenAIBackend:
    """Any OpenAI-compatible `/v1/completions` server, through the shared endpoint client (its retries, its errors)."""

    name = "openai"

    def __init__(self, cfg: Config, tokenizer=None):
        """Client for cfg.teacher_base_url; the local tokenizer counts and fits prompts."""
        if not cfg.teacher_base_url:
            raise UserError("teacher_backend='openai' needs teacher_base_url, e.g. 'http://127.0.0.1:8000/v1' (vLLM or `transformers serve`)")
        self.cfg = cfg
        self.url = cfg.teacher_base_url
        self.tok = tokenizer or load_tokenizer(cfg.teacher)
        self.context = _context_size(load_model_config(cfg.teacher))
        self.served_model = cfg.teacher_served_model or resolve(cfg.teacher)
        self.batch_size = max(1, cfg.teacher_batch_size)
        self.dtype = "server"
        self.one_prompt_per_request = False  # learnt on the first batch: `transformers serve` takes one prompt
        self.endpoint = EndpointClient(teacher_target(cfg, self.served_model))

    def _params(self, settings: GenSettings, seed: int) -> dict:
        p: dict[str, Any] = dict(max_tokens=settings.max_new_tokens, stop=[EOS, FIM_PAD])
        if settings.do_sample:
            p.update(temperature=settings.temperature, top_p=settings.top_p, seed=seed)
            if settings.num_samples > 1:
                p.update(logprobs=1)  # the chosen tokens' log-probabilities break ties between samples
        else:
            p.update(temperature=0.0)
        return p

    def _one(self, prompt: str, settings: GenSettings, seed: int) -> Generation:
        raw, tokens, logprobs = [], 0, []
        for j in range(settings.num_samples if settings.do_sample else 1):  # `n` is not honoured by every server
            r, _ = self.endpoint.completions(prompt=prompt, **self._params(settings, seed + j))
            raw.append(r.choices[0].text)
            logprobs.append(choice_logprob(r.choices[0]))
            tokens += r.usage.completion_tokens if r.usage else len(encode(self.tok, r.choices[0].text))
        return Generation(raw=raw, new_tokens=tokens, logprobs=logprobs)

    def generate(self, prompts: Sequence[str], ids: Sequence[list[int]], suffixes: Sequence[str], settings: GenSettings,
                 seed: int = 0) -> list[Generation]:
        """Answers for one batch: one request with a list of prompts, or concurrent single requests."""
        prompts = list(prompts)
        n = settings.num_samples if settings.do_sample else 1
        if not self.one_prompt_per_request:
            # a server that takes one prompt per request refuses a list (400 / 422): learn that, don't fail
            refused = (openai.BadRequestError, openai.UnprocessableEntityError)
            try:
                r, _ = self.endpoint.completions(refused, prompt=prompts, **({"n": n} if n > 1 else {}),
                                                 **self._params(settings, seed))
                choices = sorted(r.choices, key=lambda c: c.index)
                if len(choices) == len(prompts) * n:  # usage is per request: count each answer locally
                    return [Generation(raw=[c.text for c in choices[i * n:(i + 1) * n]],
                                       new_tokens=sum(len(encode(self.tok, c.text)) for c in choices[i * n:(i + 1) * n]),
                                       logprobs=[choice_logprob(c) for c in choices[i * n:(i + 1) * n]])
                            for i in range(len(prompts))]
            except refused:
                pass
            self.one_prompt_per_request = True
        with ThreadPoolExecutor(max_workers=max(1, self.cfg.teacher_concurrency)) as pool:
            return list(pool.map(lambda p: self._one(p, settings, seed), prompts))


def _context_size(config) -> int:
    for name in ("n_positions", "max_position_embeddings", "n_ctx"):
        if getattr(config, name, None):
            return int(getattr(config, name))
    return 2048


def make_backend(cfg: Config, model=None, tokenizer=None) -> TransformersBackend | OpenAIBackend:
    """The backend cfg.teacher_backend names: 'transformers' (in-process) or 'openai' (an endpoint)."""
    if cfg.teacher_backend == "transformers":
        return TransformersBackend(cfg, model, tokenizer)
    if cfg.teacher_backend == "openai":
        return OpenAIBackend(cfg, tokenizer)
    raise UserError(f"unknown teacher_backend {cfg.teacher_backend!r}: use 'transformers' or 'openai'")


# --------------------------------------------------------------------------- the run


@dataclass
class Prepared:
    """Prompts of every row, fitted to the context, with what had to be done to them."""

    rows: list[tuple[str, int]]  # (split, index in split)
    ids: list[str]
    prompts: list[str]
    token_ids: list[list[int]]
    suffixes: list[str]
    trimmed: list[bool]
    empty: list[bool]
    stats: dict = field(default_factory=dict)


def make_settings(cfg: Config, backend, max_new_tokens: int) -> GenSettings:
    """The generation settings of this run (what the cache key hashes)."""
    if cfg.num_samples > 1 and not cfg.do_sample:
        raise UserError(f"num_samples={cfg.num_samples} needs sampling: set do_sample=True (greedy gives one answer)")
    return GenSettings(
        model=model_fingerprint(cfg.teacher),
        backend=backend.name,
        served_model=getattr(backend, "served_model", None),
        prompt_format=PROMPT_FORMAT,
        fim_mode=cfg.fim_mode,
        max_new_tokens=max_new_tokens,
        max_prompt_tokens=backend.context - max_new_tokens,
        do_sample=cfg.do_sample,
        temperature=cfg.temperature if cfg.do_sample else None,
        top_p=cfg.top_p if cfg.do_sample else None,
        num_samples=cfg.num_samples if cfg.do_sample else 1,
        seed=cfg.seed if cfg.do_sample else None,
        dtype=backend.dtype,
    )


def prepare_prompts(ds: DatasetDict, tok, cfg: Config, max_prompt_tokens: int) -> Prepared:
    """Every row's prompt (its `teacher_input`, rebuilt if cfg.fim_mode asks for the other order), fitted to `max_prompt_tokens`; trims and empties counted."""
    p = Prepared([], [], [], [], [], [], [])
    for split in ds:
        part = ds[split]
        has_input = "teacher_input" in part.column_names
        for i, row in enumerate(part):
            prefix, suffix = row["prefix"], row["suffix"]
            prompt = row["teacher_input"] if has_input else ""
            if fim_mode_of(prompt) != cfg.fim_mode or not prompt.startswith(FIM_PREFIX):  # asked for the other order
                prompt = fim_prompt(prefix, suffix, cfg.fim_mode)
            ids = encode(tok, prompt)
            trimmed = False
            if len(ids) > max_prompt_tokens:
                prompt, ids, trimmed = fit_prompt(tok, prefix, suffix, fim_mode_of(prompt), max_prompt_tokens)
            p.rows.append((split, i))
            p.ids.append(row["id"])
            p.prompts.append(prompt)
            p.token_ids.append(ids)
            p.suffixes.append(split_fim_prompt(prompt)[1])
            p.trimmed.append(trimmed)
            p.empty.append(not (prefix + suffix).strip())
    p.stats = {"prompts_trimmed": sum(p.trimmed), "prompts_empty": sum(p.empty)}
    return p


def _record(pid: str, prompt: str, key: str, gen: Generation | None, suffix: str, trimmed: bool) -> dict:
    """The cache record of one row: every sample trimmed, its raw text, stop reason and mean log-probability."""
    if gen is None:  # empty prompt: nothing to fill in
        samples, raws, reasons, tokens, logprobs = [""], [""], ["empty_prompt"], 0, [None]
    else:
        trims = [trim_middle(r, suffix) for r in gen.raw]
        samples, reasons = [t[0] for t in trims], [t[1] for t in trims]
        raws, tokens = list(gen.raw), gen.new_tokens
        logprobs = list(gen.logprobs) or [None] * len(samples)
    return {"id": pid, "prompt_sha": prompt_hash(prompt), "key": key, "samples": samples, "raw": raws[0], "raws": raws,
            "stop": reasons[0], "stops": reasons, "logprobs": logprobs, "new_tokens": tokens, "trimmed": trimmed}


def _resume(cache: JsonlCache, prep: Prepared, key: str) -> tuple[dict[tuple[str, str], dict], list[str], list[int]]:
    """(finished records by (id, prompt hash), every row's prompt hash, indices of the rows still to generate)."""
    done = load_cache(cache, key)
    shas = [prompt_hash(p) for p in prep.prompts]
    todo = [i for i in range(len(prep.ids)) if (prep.ids[i], shas[i]) not in done]
    return done, shas, todo


def _record_empty_prompts(cache: JsonlCache, prep: Prepared, key: str, todo: list[int], done: dict) -> list[int]:
    """Record the rows with nothing around the hole (empty answer, no request); return the rows left to generate."""
    empties = [i for i in todo if prep.empty[i]]
    if empties:
        recs = [_record(prep.ids[i], prep.prompts[i], key, None, prep.suffixes[i], prep.trimmed[i]) for i in empties]
        cache.append(recs)
        done.update({(r["id"], r["prompt_sha"]): r for r in recs})
        _warn(f"{len(empties)} example(s) have an empty prefix and suffix: nothing to fill in between, "
              "teacher_middle is left empty for them")
    return [i for i in todo if not prep.empty[i]]


def cached_batches(prep: Prepared, todo: list[int], batch_size: Callable[[], int], work: Callable[[list[int]], list[dict]],
                   cache: JsonlCache, done: dict, desc: str, progress: bool,
                   status: Callable[[float], str] | None = None) -> float:
    """Rows `todo` of `prep`, longest prompt first, in batches: `work(batch)` gives each row's record, on disk before the next batch.

    The resumable loop every cached stage of the teacher shares (generation here, distributions in
    utils/logits.py): each batch's records are appended to `cache` (fsync'ed) and added to `done` by
    (id, prompt hash), so a kill loses at most the batch in flight. `batch_size()` is read before
    each batch (a backend halves it on CUDA out-of-memory); `status(seconds)` is the bar's postfix.
    Returns the seconds spent.
    """
    order = [todo[j] for j in length_sorted([len(prep.token_ids[i]) for i in todo], [prep.ids[i] for i in todo])]
    start = time.perf_counter()
    bar = tqdm(total=len(order), desc=desc, unit="ex", disable=not progress)
    try:
        cursor = 0
        while cursor < len(order):
            batch = order[cursor:cursor + max(1, batch_size())]
            cursor += len(batch)
            recs = work(batch)
            cache.append(recs)  # the batch is on disk before the next starts
            done.update({(r["id"], r["prompt_sha"]): r for r in recs})
            bar.update(len(batch))
            if status is not None:
                bar.set_postfix_str(status(time.perf_counter() - start))
    finally:
        bar.close()
    return time.perf_counter() - start


def _generate_missing(backend, cfg: Config, prep: Prepared, settings: GenSettings, todo: list[int], cache: JsonlCache,
                      done: dict, progress: bool) -> dict:
    """Generate the rows in `todo`, longest prompt first, appending each finished batch to the cache; timing stats."""
    key = settings.key()
    tokens = 0

    def work(batch: list[int]) -> list[dict]:
        nonlocal tokens
        seed = (cfg.seed * 1_000_003 + zlib.crc32(prep.ids[batch[0]].encode())) % 2**31
        gens = backend.generate([prep.prompts[i] for i in batch], [prep.token_ids[i] for i in batch],
                                [prep.suffixes[i] for i in batch], settings, seed)
        tokens += sum(g.new_tokens for g in gens)
        return [_record(prep.ids[i], prep.prompts[i], key, g, prep.suffixes[i], prep.trimmed[i]) for i, g in zip(batch, gens)]

    seconds = cached_batches(prep, todo, lambda: backend.batch_size, work, cache, done, "teacher", progress,
                             lambda s: f"{tokens / max(s, 1e-9):.0f} tok/s")
    n = len(todo)
    return {"generated": n, "new_tokens": tokens, "seconds": round(seconds, 3),
            "tokens_per_s": round(tokens / seconds, 1) if n else None,
            "examples_per_s": round(n / seconds, 2) if n else None}


def pick_sample(parses: Sequence[bool | None], logprobs: Sequence[float | None]) -> int:
    """Index of the sample to keep: one whose file parses, then the highest mean log-probability, then the first."""
    def rank(i: int) -> tuple[bool, float, int]:
        lp = logprobs[i] if i < len(logprobs) and logprobs[i] is not None else -math.inf
        return parses[i] is True, lp, -i
    return max(range(len(parses)), key=rank)


def _row_fields(ds: DatasetDict) -> list[dict | None]:
    """What `fim.rebuild` needs of every row (split by split), or None for rows of a dataset without it."""
    rows: list[dict | None] = []
    for split in ds:
        part = ds[split]
        if set(ROW_FIELDS) <= set(part.column_names):
            rows.extend(part.select_columns(list(ROW_FIELDS)).to_list())
        else:
            rows.extend([None] * len(part))
    return rows


def judge_samples(ds: DatasetDict, records: list[dict], files: dict[str, str] | None,
                  parser: Parser | None) -> list[tuple[int, ParseResult | None]]:
    """For every row (split by split, as `records`): the kept sample's index and whether its file parses."""
    picks = []
    for row, rec in zip(_row_fields(ds), records):
        samples = rec["samples"]
        results = files_parse([row] * len(samples), samples, files, parser) if row else [None] * len(samples)
        i = pick_sample([None if r is None else r.ok for r in results], rec.get("logprobs") or [])
        picks.append((i, results[i]))
    return picks


def parse_error(result: ParseResult | None) -> str:
    """`line:column message` of a failed parse; "" when it parsed or was not checked."""
    return "" if result is None or result.ok else f"{result.line}:{result.column} {result.message}"


def _of_sample(rec: dict, name: str, i: int) -> Any:
    """Field `name` of sample i of a cache record (older records keep only sample 0's, under the singular name)."""
    many = rec.get(name + "s")
    return many[i] if many and i < len(many) else rec[name]


def _assemble(ds: DatasetDict, records: list[dict], picks: list[tuple[int, ParseResult | None]]) -> DatasetDict:
    """`ds` with the teacher's columns, from one record and one pick per row (rows split by split)."""
    out = DatasetDict()
    pos = 0
    for split in ds:
        part = ds[split].remove_columns([c for c in TEACHER_COLUMNS if c in ds[split].column_names])
        recs, chosen = records[pos:pos + len(part)], picks[pos:pos + len(part)]
        pos += len(part)
        kept = [i for i, _ in chosen]
        cols = {
            "teacher_middle": [r["samples"][i] for r, i in zip(recs, kept)],
            "teacher_samples": [r["samples"] for r in recs],
            "teacher_raw": [_of_sample(r, "raw", i) for r, i in zip(recs, kept)],
            "teacher_stop": [_of_sample(r, "stop", i) for r, i in zip(recs, kept)],
            "teacher_new_tokens": [int(r["new_tokens"]) for r in recs],
            "teacher_prompt_trimmed": [bool(r["trimmed"]) for r in recs],
            "teacher_logprobs": [[None if v is None else float(v) for v in (r.get("logprobs") or [None] * len(r["samples"]))] for r in recs],
            "teacher_parses": [None if res is None else bool(res.ok) for _, res in chosen],
            "teacher_parse_error": [parse_error(res) for _, res in chosen],
        }
        features = {"teacher_logprobs": [Value("float64")], "teacher_parses": Value("bool"), "teacher_parse_error": Value("string")}
        for name in TEACHER_COLUMNS:
            part = part.add_column(name, cols[name], feature=features.get(name))
        out[split] = part
    return out


def _generate_teacher(cfg: Config, ds: DatasetDict, backend, cache: str | Path | None,
                      progress: bool) -> tuple[DatasetDict, dict]:
    """generate_teacher without the stage lock (the caller holds it)."""
    backend = backend or make_backend(cfg)
    max_new = span_budget(backend.tok, [m for split in ds for m in ds[split]["middle"]], cfg.max_new_tokens)
    if max_new >= backend.context:
        raise UserError(f"max_new_tokens={max_new} leaves no room for a prompt in the teacher's {backend.context}-token context")
    settings = make_settings(cfg, backend, max_new)
    key = settings.key()
    prep = prepare_prompts(ds, backend.tok, cfg, settings.max_prompt_tokens)
    store = JsonlCache(Path(cache) if cache is not None else cache_path(cfg))

    done, shas, todo = _resume(store, prep, key)
    reused = len(prep.ids) - len(todo)
    if store.skipped:
        _warn(f"{store.skipped} unreadable line(s) of the teacher cache {relative(store.path)} were skipped "
              "(a torn write or bad bytes); rows with no readable record are generated again")
    todo = _record_empty_prompts(store, prep, key, todo, done)
    trimmed = sum(prep.trimmed[i] for i in todo)
    if trimmed:  # warned once per run, and only about the rows this run generates
        _warn(f"{trimmed} prompt(s) longer than {settings.max_prompt_tokens} tokens (the teacher's context minus "
              f"max_new_tokens={max_new}) were trimmed from the left of the prefix")
    timing = _generate_missing(backend, cfg, prep, settings, todo, store, done, progress)

    records = [done[(pid, sha)] for pid, sha in zip(prep.ids, shas)]
    files, parser = parse_context(cfg)
    if parser is None:
        _warn(NO_PARSER_HINT)
    picks = judge_samples(ds, records, files, parser)
    out = _assemble(ds, records, picks)
    checked = [res for _, res in picks if res is not None]
    stats = {"rows": len(prep.ids), "generated": timing.pop("generated"), "reused_from_cache": reused,
             "cache_lines_skipped": store.skipped, **prep.stats, **timing,
             "batch_size": backend.batch_size, "settings": asdict(settings), "settings_key": key,
             "parser": str(parser.folder) if parser is not None else None, "parse_checked": len(checked),
             "breaks_file": sum(not r.ok for r in checked) if parser is not None else None}
    return out, stats


def generate_teacher(
    cfg: Config,
    ds: DatasetDict,
    backend=None,
    cache: str | Path | None = None,
    progress: bool = True,
) -> tuple[DatasetDict, dict]:
    """Add the teacher's columns to every row of `ds`, resuming from (and appending to) the cache; return (dataset, stats).

    One run per stage at a time: a second concurrent run stops with a UserError naming the first.
    """
    with stage_lock(cfg, "teacher"):
        return _generate_teacher(cfg, ds, backend, cache, progress)


def generate_middles(model, tokenizer, prompts: Sequence[str], cfg: Config) -> list[str]:
    """Greedy (or cfg) middles for raw FIM prompts, no cache: the same batching and stop rules, for timing."""
    backend = TransformersBackend(cfg, model, tokenizer)
    max_new = min(cfg.max_new_tokens, backend.context - 1)
    settings = make_settings(cfg, backend, max_new)
    prompts = list(prompts)
    ids = [encode(tokenizer, p) for p in prompts]
    for i, x in enumerate(ids):  # too long for the context: trim the prefix from the left, as generate_teacher does
        if len(x) > backend.context - max_new:
            prefix, suffix = split_fim_prompt(prompts[i])
            prompts[i], ids[i], _ = fit_prompt(tokenizer, prefix, suffix, fim_mode_of(prompts[i]), backend.context - max_new)
    suffixes = [split_fim_prompt(p)[1] for p in prompts]
    out: list[str] = [""] * len(prompts)
    order = length_sorted([len(x) for x in ids], [str(i) for i in range(len(ids))])
    for s in range(0, len(order), backend.batch_size):
        batch = order[s:s + backend.batch_size]
        gens = backend.generate([prompts[i] for i in batch], [ids[i] for i in batch], [suffixes[i] for i in batch],
                                settings, cfg.seed)
        for i, g in zip(batch, gens):
            out[i] = trim_middle(g.raw[0], suffixes[i])[0]
    return out


def run_teacher(cfg: Config, progress: bool = True, backend=None) -> tuple[DatasetDict, dict]:
    """Notebook 03 in one call: load the FIM stage, generate (resuming), save the teacher stage and stats.json."""
    fim = load_stage(cfg, "fim")
    folder = stage_dir(cfg, "teacher")
    with stage_lock(cfg, "teacher"):
        ds, stats = _generate_teacher(cfg, fim, backend, None, progress)
        was_disabled = are_progress_bars_disabled()
        disable_progress_bars()  # "Saving the dataset" bars would bury the teacher's own
        try:
            save_stage(ds, folder)
        finally:
            if not was_disabled:
                enable_progress_bars()
        stats["quality"] = quality_table(ds).to_dict(orient="records")
        stats["breaks_file_by_span"] = parse_table(ds, cfg.bootstrap_samples, cfg.seed).to_dict(orient="records")
        write_json(folder / "stats.json", stats)
    return ds, stats


# --------------------------------------------------------------------------- the teacher, measured


def teacher_scores(ds: DatasetDict) -> pd.DataFrame:
    """One row per example: id, source, split, span_type, exact match, edit similarity, empty output, stop reason."""
    frames = []
    for split in ds:
        part = ds[split]
        frames.append(pd.DataFrame({
            "id": part["id"], "source": part["source"], "split": split, "span_type": part["span_type"],
            "exact_match": [exact_match(p, r) for p, r in zip(part["teacher_middle"], part["middle"])],
            "edit_similarity": [edit_similarity(p, r) for p, r in zip(part["teacher_middle"], part["middle"])],
            "empty": [is_empty(p) for p in part["teacher_middle"]],
            "stop": part["teacher_stop"] if "teacher_stop" in part.column_names else "",
        }))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def quality_table(ds_or_scores: DatasetDict | pd.DataFrame) -> pd.DataFrame:
    """Exact match, mean edit similarity and empty-output rate per split and span type ('all' included)."""
    scores = teacher_scores(ds_or_scores) if isinstance(ds_or_scores, DatasetDict) else ds_or_scores
    rows = []
    for split in dict.fromkeys(scores["split"]):
        part = scores[scores["split"] == split]
        for span in ["all", *sorted(part["span_type"].unique())]:
            sub = part if span == "all" else part[part["span_type"] == span]
            rows.append({"split": split, "span_type": span, "n": len(sub),
                         "exact_match": round(float(sub["exact_match"].mean()), 3),
                         "edit_similarity": round(float(sub["edit_similarity"].mean()), 3),
                         "empty_rate": round(float(sub["empty"].mean()), 3)})
    return pd.DataFrame(rows)


def parse_table(ds: DatasetDict, n_samples: int = 1000, seed: int = 42) -> pd.DataFrame:
    """Share of teacher middles that leave their file unparsable, per span type and overall, with a 95% bootstrap interval.

    All splits together; `checked` rows are those the parser judged. Without a parser the shares read "n/a".
    """
    frames = [pd.DataFrame({"span_type": ds[s]["span_type"],
                            "parses": ds[s]["teacher_parses"] if "teacher_parses" in ds[s].column_names else [None] * len(ds[s])})
              for s in ds]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["span_type", "parses"])
    rows = []
    for span in ["all", *sorted(df["span_type"].unique())]:
        sub = df if span == "all" else df[df["span_type"] == span]
        breaks = [None if v is None or pd.isna(v) else float(not v) for v in sub["parses"]]
        share, low, high = mean_ci(breaks, n_samples, seed)
        checked = sum(b is not None for b in breaks)
        rows.append({"span_type": span, "n": len(sub), "checked": checked, "breaks the file": int(sum(b or 0 for b in breaks)) if checked else "n/a",
                     "share": share, "ci_low": low, "ci_high": high})
    out = pd.DataFrame(rows)
    for col in ("share", "ci_low", "ci_high"):
        out[col] = [round(v, 3) if not math.isnan(v) else "n/a" for v in out[col]]
    return out


def broken_example(ds: DatasetDict, files: dict[str, str] | None, parser: Parser | None) -> dict | None:
    """The first row (test split first) whose teacher middle breaks its file, with the repaired file's parse; None if none."""
    if files is None or parser is None:
        return None
    for split in sorted(ds, key=lambda s: s != "test"):
        part = ds[split]
        if "teacher_parses" not in part.column_names:
            continue
        for i, ok in enumerate(part["teacher_parses"]):
            if ok is False:
                row = part[i]
                broken = parser.parses(rebuild(row, row["teacher_middle"], files))
                repaired = parser.parses(rebuild(row, row["middle"], files))
                return {"row": row, "broken": broken, "repaired": repaired}
    return None


def _excerpt(text: str, line: int | None, around: int = 3) -> str:
    """Lines `line - around` .. `line + around` of text, numbered, the named line marked with >."""
    lines = text.split("\n")
    line = line or len(lines)
    lo, hi = max(1, line - around), min(len(lines), line + around)
    return "\n".join(f"{'>' if k == line else ' '}{k:>4} | {lines[k - 1]}" for k in range(lo, hi + 1))


def broken_example_html(example: dict | None, files: dict[str, str] | None) -> str:
    """HTML of a teacher middle that breaks its file: the middle, the parser's error and where, the repaired file's verdict."""
    if example is None or files is None:
        return "<i>no teacher middle breaks its file here (or no parser: see the hint above)</i>"
    row, broken, repaired = example["row"], example["broken"], example["repaired"]
    esc = html.escape
    pre = "<pre style='white-space:pre-wrap;font-size:12px;border:1px solid #ccc;padding:4px;color:#111'>"
    verdict = "parses" if repaired.ok else f"does not parse either ({parse_error(repaired)})"
    return (f"<div><b>{esc(row['id'])}</b> · {esc(row['span_type'])}<br>"
            f"<b>teacher_middle</b>{pre}{esc(row['teacher_middle']) or '<i>(empty)</i>'}</pre>"
            f"<b>the parser, on the whole file with it</b>: line {broken.line}, column {broken.column}: {esc(broken.message or '')}"
            f"{pre}{esc(_excerpt(rebuild(row, row['teacher_middle'], files), broken.line))}</pre>"
            f"<b>the true middle in its place</b>: the file {esc(verdict)}{pre}{esc(row['middle'])}</pre></div>")


def plot_edit_similarity(scores: pd.DataFrame, path: str | Path | None = None) -> Figure:
    """Histogram of the teacher's edit similarity per split; saved to `path` if given."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2))
    bins = [i / 20 for i in range(21)]
    for split in dict.fromkeys(scores["split"]):
        ax.hist(scores.loc[scores["split"] == split, "edit_similarity"], bins=bins, alpha=0.55, label=split)
    ax.set_xlabel("edit similarity of teacher_middle to the true middle (1 = identical)")
    ax.set_ylabel("examples")
    ax.set_title("How close is the teacher?")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    return fig


def fill_in_html(row: dict, context_lines: int = 6) -> str:
    """Side-by-side HTML of one example: the true middle and the teacher's, each between its context."""
    pre = "".join(row["prefix"].splitlines(keepends=True)[-context_lines:])
    suf = "".join(row["suffix"].splitlines(keepends=True)[:context_lines])
    esc = html.escape
    score = edit_similarity(row["teacher_middle"], row["middle"])

    def pane(title: str, middle: str, colour: str) -> str:
        shown = esc(middle) if middle else "<i>(empty)</i>"
        return (f"<td style='vertical-align:top;width:50%'><b>{title}</b><pre style='white-space:pre-wrap;"
                f"font-size:12px;border:1px solid #ccc;padding:4px;color:#111'><span style='color:#888'>{esc(pre)}</span>"
                f"<span style='background:{colour}'>{shown}</span><span style='color:#888'>{esc(suf)}</span></pre></td>")

    head = esc(f"{row['id']} · {row['span_type']} · edit similarity {score:.2f} · stop: {row.get('teacher_stop', '?')}")
    return (f"<div><b>{head}</b><table style='width:100%;table-layout:fixed'><tr>"
            f"{pane('true middle', row['middle'], '#c8f7c5')}{pane('teacher_middle', row['teacher_middle'], '#fde2a7')}"
            "</tr></table></div>")


def trim_example_html(ds: DatasetDict) -> str:
    """HTML of one answer before and after the stop rules (a suffix repeat if any, else a runaway, else an EOS)."""
    rows = [r for split in ds for r in ds[split] if r["teacher_middle"].strip()]
    row = next((r for stop in ("suffix", "length", "eos", "fim_pad") for r in rows if r["teacher_stop"] == stop), None)
    if row is None:
        return "<i>no non-empty answer to show</i>"
    raw = re.sub(f"({re.escape(FIM_PAD)})+", lambda m: f"{FIM_PAD}×{len(m.group(0)) // len(FIM_PAD)}", row["teacher_raw"])
    esc = html.escape
    cols = [("teacher_raw (generated)", raw), ("teacher_middle (kept)", row["teacher_middle"]),
            ("suffix (start)", row["suffix"][:240])]
    cells = "".join(f"<td style='vertical-align:top'><b>{t}</b><pre style='white-space:pre-wrap;font-size:12px;"
                    f"border:1px solid #ccc;padding:4px;color:#111'>{esc(x)}</pre></td>" for t, x in cols)
    return (f"<div><b>{esc(row['id'])}</b>: stopped by <code>{esc(row['teacher_stop'])}</code>"
            f"<table style='width:100%;table-layout:fixed'><tr>{cells}</tr></table></div>")


def pick_examples(ds: DatasetDict, split: str = "test", best: bool = True, n: int = 2) -> list[dict]:
    """The `n` best (or worst) fill-ins of a split by edit similarity (ties by id), non-empty middles only."""
    part = ds[split] if split in ds and len(ds[split]) else ds[next(s for s in ds if len(ds[s]))]
    rows = [r for r in part if r["middle"].strip()]
    rows.sort(key=lambda r: ((-1 if best else 1) * edit_similarity(r["teacher_middle"], r["middle"]), r["id"]))
    return rows[:n]


def stop_reasons(ds: DatasetDict) -> pd.DataFrame:
    """How the teacher's answers ended, per split: counts of eos / fim_pad / suffix / length / ..."""
    rows = [{"split": s, "stop": r} for s in ds for r in ds[s]["teacher_stop"]]
    if not rows:
        return pd.DataFrame()
    return pd.crosstab(pd.DataFrame(rows)["split"], pd.DataFrame(rows)["stop"])


# --------------------------------------------------------------------------- benchmark


def _bench_examples(cfg: Config, n: int) -> tuple[list[dict], list[str]]:
    """`n` seeded-random rows of the FIM dataset, and every true middle (for the span budget)."""
    try:
        ds = load_stage(cfg, "fim")
    except UserError:
        print("no FIM artifact for this run: building the FIM dataset in memory (notebook 02 saves it)")
        ds = build_fim_dataset(cfg)
    rows = [r for s in ("test", "valid", "train") if s in ds for r in ds[s]]
    rows = [r for r in rows if (r["prefix"] + r["suffix"]).strip()]
    middles = [r["middle"] for r in rows]
    random.Random(cfg.seed).shuffle(rows)
    return rows[:n], middles


def _seed_way(model, tok, prompts: Sequence[str], context: int) -> tuple[int, float]:
    """The seed project's loop: one prompt at a time, max_new_tokens=512, only the model's own EOS stops it."""
    device = next(model.parameters()).device
    tokens, start = 0, time.perf_counter()
    for p in prompts:
        ids = torch.tensor([encode(tok, p)], device=device)
        budget = min(512, context - ids.shape[1])  # 512, unless the (tiny) context ends first
        with torch.inference_mode():
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=budget,
                                 do_sample=False, pad_token_id=tok.convert_tokens_to_ids(FIM_PAD))
        tokens += out.shape[1] - ids.shape[1]
    sync(device)
    return tokens, time.perf_counter() - start


def bench_teacher(cfg: Config, examples: int | None = None) -> None:
    """`python -m utils bench teacher`: the seed project's generation loop vs ours, same examples, one process."""
    n = examples or cfg.teacher_bench_examples
    rows, all_middles = _bench_examples(cfg, n)
    if not rows:
        raise UserError("no examples to time: build the FIM dataset first (notebook 02 or `python -m utils fim`)")
    backend = TransformersBackend(cfg)
    model, tok = backend.model, backend.tok
    max_new = span_budget(tok, all_middles, cfg.max_new_tokens)  # as generate_teacher: the dataset's span budget
    settings = make_settings(cfg, backend, max_new)
    prompts = [r["teacher_input"] for r in rows]
    ids = [encode(tok, p) for p in prompts]
    suffixes = [split_fim_prompt(p)[1] for p in prompts]
    print(f"teacher {cfg.teacher} on {backend.device.type} ({backend.dtype}, {torch.get_num_threads()} threads), "
          f"{len(rows)} examples, prompts of {min(map(len, ids))}-{max(map(len, ids))} tokens")
    backend.generate(prompts[:2], ids[:2], suffixes[:2], settings)  # warm-up: first-call overheads are nobody's speed

    seed_tokens, seed_s = _seed_way(model, tok, prompts, backend.context)
    sync(backend.device)
    start = time.perf_counter()
    our_tokens = 0
    order = length_sorted([len(x) for x in ids], [r["id"] for r in rows])
    for s in range(0, len(order), backend.batch_size):
        batch = order[s:s + backend.batch_size]
        gens = backend.generate([prompts[i] for i in batch], [ids[i] for i in batch], [suffixes[i] for i in batch], settings)
        our_tokens += sum(g.new_tokens for g in gens)
    sync(backend.device)
    our_s = time.perf_counter() - start

    def line(name: str, tokens: int, secs: float) -> str:
        return f"{name:<58} {tokens:>7} tokens {secs:>7.2f} s {tokens / secs:>9.1f} tok/s {len(rows) / secs:>8.2f} ex/s"

    print(line("seed: one at a time, max_new_tokens=512, EOS only", seed_tokens, seed_s))
    print(line(f"ours: batches of {backend.batch_size} by length, max_new_tokens={max_new}, stop rules", our_tokens, our_s))
    print(f"speedup: {seed_s / our_s:.1f}x")


__all__ = [
    "GenSettings", "Generation", "OpenAIBackend", "SuffixRepeatStop", "TransformersBackend", "bench_teacher",
    "cache_path", "fill_in_html", "find_suffix_repeat", "fit_prompt", "generate_middles", "generate_teacher",
    "broken_example", "broken_example_html", "cached_batches", "choice_logprob", "judge_samples", "mean_logprobs", "parse_error", "parse_table",
    "pick_sample", "load_cache", "make_backend", "teacher_target", "trim_example_html", "pick_examples", "plot_edit_similarity", "quality_table", "run_teacher",
    "span_budget", "split_fim_prompt", "stop_reasons", "suffix_pattern", "teacher_scores", "trim_middle",
]
