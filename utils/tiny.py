"""The tiny profile's models: small, seeded, built offline once, loaded like the real ones.

- tiny teacher: GPTBigCode with multi-query attention (santacoder's architecture), a
  byte-level BPE tokenizer carrying santacoder's FIM tokens, trained with the FIM objective
  (PSM and SPM, notebook 02's span types) on the files the series' split puts in train,
  and only those (listed in trained_on.json beside it): the test files stay unseen.
- tiny student: T5 (gated-gelu, untied lm_head), about a tenth of the teacher's size, with a
  Unigram tokenizer built by transformers' own `T5Tokenizer` and pre-trained like flan-t5 in
  miniature: T5's span corruption on English only (the standard library's docstrings), so it
  knows language but not code, and fails on code exactly as flan-t5 does: newlines, tabs and
  runs of spaces collapse, `{` and `}` are unknown.
- tiny explainer: a deterministic, rule-based explainer (`explain_gap`) that says what a gap's
  middle does, served behind a real OpenAI-compatible chat endpoint on 127.0.0.1.
- which sample files the tiny teacher saw in training (`seen_by_tiny_teacher`, from trained_on.json).
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import math
import random
import re
import shutil
import sysconfig
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sentencepiece as spm
import torch
from filelock import FileLock
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    GPTBigCodeConfig,
    GPTBigCodeForCausalLM,
    PreTrainedTokenizerFast,
    T5Config,
    T5ForConditionalGeneration,
    T5Tokenizer,
)

from .artifacts import read_moon_texts
from .config import EOS, FIM_MIDDLE, FIM_PAD, FIM_PREFIX, FIM_SUFFIX, FIM_TOKENS, REPO_ROOT, cache_dir, fim_prompt, load_config
from .data import assign_splits
from .server import chat_server

TINY_NAMES = ("tiny-teacher", "tiny-student")
BUILD_VERSION = "4"  # bump when the recipe changes, so stale caches are rebuilt (v4: no dropout)
STUDENT_BUILD_VERSION = "6"  # the student's own recipe (v3: lm_head at std d_model**-0.5; v5: sentencepiece vocabulary; v6: pre-trained on English); the teacher keeps BUILD_VERSION
SAMPLE_DIR = REPO_ROOT / "data" / "moonscript"


def tiny_dir(name: str) -> Path:
    """Cache folder of a tiny model (`tiny-teacher` or `tiny-student`)."""
    version = STUDENT_BUILD_VERSION if name == "tiny-student" else BUILD_VERSION
    return cache_dir() / f"{name}-v{version}"


def _read_corpus(corpus_dir: Path) -> list[str]:
    """Texts of the corpus' `.moon` files, in path order."""
    return list(read_moon_texts(corpus_dir).values())


def corpus_sources(corpus_dir: Path | None = None) -> dict[str, str]:
    """{source: text} of a corpus folder, each file named as notebook 02 names it (`sample/<path>` for the sample)."""
    folder = Path(corpus_dir or SAMPLE_DIR)
    repo = "sample" if folder.resolve() == SAMPLE_DIR.resolve() else (folder.name or "local")
    texts = read_moon_texts(folder)
    return {f"{repo}/{p}": t for p, t in texts.items()}


def series_splits(sources: Sequence[str]) -> dict[str, str]:
    """{source: train|valid|test} by the series' own rule (`data.assign_splits`) with the default config's seed and fractions."""
    cfg = load_config("tiny")
    return assign_splits(list(sources), tuple(cfg.split_fractions), cfg.seed)


def split_corpus(corpus_dir: Path | None = None) -> dict[str, dict[str, str]]:
    """{split: {source: text}}: the corpus cut by the series' split, so a tiny model trains on `train` only."""
    files = corpus_sources(corpus_dir)
    splits = series_splits(list(files))
    return {name: {s: t for s, t in files.items() if splits[s] == name} for name in ("train", "valid", "test")}


TRAINED_ON = "trained_on.json"


def trained_on(path: str | Path) -> dict:
    """What a tiny model was trained on (saved with it as trained_on.json): {"files": [...], ...}."""
    return json.loads((Path(path) / TRAINED_ON).read_text())


def parameter_count(model: torch.nn.Module) -> int:
    """Parameters of `model`, each shared tensor counted once."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


# --------------------------------------------------------------------------- teacher

TEACHER_SHAPE = {"n_embd": 192, "n_layer": 4, "n_head": 6, "vocab": 2048, "n_positions": 512}
TEACHER_STEPS = 500
TEACHER_WINDOW = 256  # teacher tokens per training window: notebook 02's segment_tokens
# notebook 02's span types and bounds (Config defaults: 0.4 / 0.4 / 0.2, at most 6 lines and 300 characters)
SPAN_WEIGHTS = {"single_line": 0.4, "multi_line": 0.4, "random_span": 0.2}
MAX_MIDDLE_LINES, MAX_MIDDLE_CHARS = 6, 300


def build_teacher_tokenizer(texts: list[str], vocab_size: int = TEACHER_SHAPE["vocab"]) -> PreTrainedTokenizerFast:
    """Byte-level BPE trained on `texts`, with santacoder's special tokens."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(FIM_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=EOS,
        eos_token=EOS,
        unk_token=EOS,
        additional_special_tokens=[FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX, FIM_PAD],
        model_max_length=512,
    )


def _windows(text: str, tok, max_tokens: int) -> list[str]:
    """Cut a file into windows of whole lines holding at most `max_tokens` tokens each."""
    out, cur, cur_len = [], [], 0
    for line in text.splitlines(keepends=True):
        n = len(tok.encode(line, add_special_tokens=False))
        if cur and cur_len + n > max_tokens:
            out.append("".join(cur))
            cur, cur_len = [], 0
        cur.append(line)
        cur_len += n
    if cur:
        out.append("".join(cur))
    return out


def _line_starts(window: str) -> list[int]:
    return [0] + [i + 1 for i, c in enumerate(window) if c == "\n" and i + 1 < len(window)]


def _choose_middle(window: str, rng: random.Random) -> tuple[int, int] | None:
    """A middle drawn as notebook 02 draws them: one whole line, a block of 2-6 lines, or a random span (<= 300 chars)."""
    starts = _line_starts(window)
    ends = starts[1:] + [len(window)]
    kind = rng.choices(list(SPAN_WEIGHTS), list(SPAN_WEIGHTS.values()))[0]
    if kind == "single_line":
        options = [i for i in range(len(starts)) if window[starts[i]:ends[i]].strip() and ends[i] - starts[i] <= MAX_MIDDLE_CHARS]
        if options:
            i = rng.choice(options)
            return starts[i], ends[i]
    elif kind == "multi_line" and len(starts) >= 2:
        n = rng.randint(2, min(MAX_MIDDLE_LINES, len(starts)))
        i = rng.randrange(len(starts) - n + 1)
        while n > 2 and ends[i + n - 1] - starts[i] > MAX_MIDDLE_CHARS:
            n -= 1
        if ends[i + n - 1] - starts[i] <= MAX_MIDDLE_CHARS:
            return starts[i], ends[i + n - 1]
    lo = rng.randrange(len(window))
    return lo, lo + rng.randint(1, min(MAX_MIDDLE_CHARS, len(window) - lo))


def _fim_ids(tok, prefix: str, middle: str, suffix: str, mode: str) -> tuple[list[int], int]:
    """Token ids of one FIM training example (the prompt in PSM or SPM order, the middle, then EOS so generation
    stops) and the index where the middle starts."""
    enc = lambda t: tok.encode(t, add_special_tokens=False)  # noqa: E731
    ids = tok.convert_tokens_to_ids([FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE, EOS])
    pre, suf, mid, eos = ids
    if mode == "psm":
        prompt = [pre] + enc(prefix) + [suf] + enc(suffix) + [mid]
    else:
        prompt = [pre, suf] + enc(suffix) + [mid] + enc(prefix)
    return prompt + enc(middle) + [eos], len(prompt)


def _fim_example(window: str, tok, rng: random.Random, psm_share: float = 0.5) -> tuple[list[int], int]:
    """A FIM example cut from `window` with notebook 02's span types, in PSM or SPM order: (ids, middle start)."""
    lo, hi = _choose_middle(window, rng)
    mode = "psm" if rng.random() < psm_share else "spm"
    return _fim_ids(tok, window[:lo], window[lo:hi], window[hi:], mode)


def _fim_training_text(window: str, rng: random.Random) -> str:
    """One FIM example cut from `window`, as text (PSM or SPM, EOS right after the middle)."""
    lo, hi = _choose_middle(window, rng)
    mode = "psm" if rng.random() < 0.5 else "spm"
    return fim_prompt(window[:lo], window[hi:], mode) + window[lo:hi] + EOS


def fim_loss(model, tok, windows: list[str], seed: int = 0) -> float:
    """Mean next-token loss of `model` on FIM examples made from `windows` (seeded)."""
    rng = random.Random(seed)
    texts = [_fim_training_text(w, rng) for w in windows]
    losses = []
    model.eval()
    with torch.no_grad():
        for t in texts:
            ids = torch.tensor([tok.encode(t)[: model.config.n_positions]])
            losses.append(model(input_ids=ids, labels=ids).loss.item())
    return sum(losses) / len(losses)


def _random_window(files: list[list[tuple[str, int]]], weights: list[int], rng: random.Random, max_tokens: int) -> str:
    """Whole lines from a random place of a random file (weighted by size), at most `max_tokens` tokens."""
    lines = rng.choices(files, weights)[0]
    start = rng.randrange(len(lines))
    if rng.random() < 0.3:  # often from a file's start, as notebook 02's first window
        start = 0
    out, total = [], 0
    for text, n in lines[start:]:
        if out and total + n > max_tokens:
            break
        out.append(text)
        total += n
    return "".join(out)


def optimise(model: torch.nn.Module, step_loss: Callable[[], torch.Tensor], steps: int, lr: float, name: str,
             warmup: int = 20, floor: float = 0.1, verbose: bool = True) -> float:
    """AdamW on `step_loss()` for `steps` steps (warm-up, then cosine down to `floor` x `lr`, gradients clipped at 1); the last loss."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    )
    model.train()
    start = time.time()
    for step in range(steps):
        loss = step_loss()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        if verbose and (step % 100 == 0 or step == steps - 1):
            print(f"  {name} step {step:4d}/{steps}  loss {loss.item():.3f}  ({time.time() - start:.0f}s)")
    return float(loss.item())


def causal_lm_loss(model: torch.nn.Module, batch: list[tuple[list[int], list[float]]], pad_id: int) -> torch.Tensor:
    """Weighted next-token loss of a batch of (token ids, per-token weights): weights[t] is how much predicting token t counts."""
    width = max(len(ids) for ids, _ in batch)
    ids = torch.full((len(batch), width), pad_id)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    weights = torch.zeros((len(batch), width))
    for i, (e, w) in enumerate(batch):
        ids[i, : len(e)] = torch.tensor(e)
        mask[i, : len(e)] = 1
        weights[i, : len(e)] = torch.tensor(w, dtype=torch.float)
    logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]
    ce = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1), reduction="none")
    w = weights[:, 1:].reshape(-1)
    return (ce * w).sum() / w.sum()


def build_tiny_teacher(out: Path, texts: list[str] | dict[str, str], seed: int = 0, steps: int = TEACHER_STEPS,
                       verbose: bool = True, held_out: list[str] | None = None, shape: dict | None = None,
                       batch_size: int = 8, lr: float = 3e-3, dropout: float = 0.0, psm_share: float = 0.7,
                       middle_weight: float = 2.0) -> dict:
    """Train the tiny teacher on `texts` (the train split's files) with the FIM objective and save it to `out`.

    `texts` may be {source: text}: the sources are saved as trained_on.json beside the model. `held_out`
    (files it never trains on) measures its FIM loss before and after training.
    """
    start, cpu = time.time(), time.process_time()
    shape = {**TEACHER_SHAPE, **(shape or {})}
    sources = list(texts) if isinstance(texts, dict) else []
    texts = list(texts.values()) if isinstance(texts, dict) else list(texts)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # deterministic, and faster than several threads on matrices this small
    try:
        torch.manual_seed(seed)
        rng = random.Random(seed)
        tok = build_teacher_tokenizer(texts, shape["vocab"])
        config = GPTBigCodeConfig(
            vocab_size=len(tok),
            n_positions=shape["n_positions"],
            n_embd=shape["n_embd"],
            n_layer=shape["n_layer"],
            n_head=shape["n_head"],
            multi_query=True,  # santacoder's multi-query attention: one key/value head
            activation_function="gelu_pytorch_tanh",
            bos_token_id=tok.convert_tokens_to_ids(EOS),
            eos_token_id=tok.convert_tokens_to_ids(EOS),
            # no dropout: in this budget the teacher does as well on its train files as on unseen ones (it is short of
            # compute, not of data), and on a CPU dropout's random masks cost 40% of each step for the same held-out loss
            resid_pdrop=dropout,
            embd_pdrop=dropout,
            attn_pdrop=dropout,
        )
        model = GPTBigCodeForCausalLM(config)
        held_windows = [w for t in (held_out or []) for w in _windows(t, tok, TEACHER_WINDOW)]
        untrained_loss = fim_loss(model, tok, held_windows) if held_windows else None
        files = [[(line, len(tok.encode(line, add_special_tokens=False))) for line in t.splitlines(keepends=True)] for t in texts if t.strip()]
        weights = [sum(n for _, n in f) for f in files]
        pad_id = tok.convert_tokens_to_ids(FIM_PAD)

        def next_batch() -> list[tuple[list[int], list[float]]]:
            out = []
            while len(out) < batch_size:
                window = _random_window(files, weights, rng, TEACHER_WINDOW)
                if len(window) >= 2:
                    ids, mid = _fim_example(window, tok, rng, psm_share)
                    ids = ids[: config.n_positions]
                    # the loss covers every token; the middle's (and EOS's) count `middle_weight` times
                    out.append((ids, [1.0] * mid + [middle_weight] * (len(ids) - mid)))
            return out

        train_start = time.time()
        final = optimise(model, lambda: causal_lm_loss(model, next_batch(), pad_id), steps, lr, "tiny teacher", verbose=verbose)
        train_seconds = time.time() - train_start
        trained_loss = fim_loss(model, tok, held_windows) if held_windows else None
    finally:
        torch.set_num_threads(threads)
    model.generation_config.pad_token_id = pad_id
    model.generation_config.eos_token_id = tok.convert_tokens_to_ids(EOS)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    (out / TRAINED_ON).write_text(json.dumps({"files": sorted(sources), "what": "train split of the series (data.assign_splits)"}, indent=1))
    stats = {"untrained_fim_loss": untrained_loss, "trained_fim_loss": trained_loss, "final_train_loss": round(final, 4),
             "parameters": parameter_count(model), "shape": shape, "steps": steps, "batch_size": batch_size, "lr": lr,
             "dropout": dropout, "psm_share": psm_share, "middle_weight": middle_weight,
             "train_files": len(texts), "held_out_windows": len(held_windows), "train_seconds": round(train_seconds, 1),
             "build_seconds": round(time.time() - start, 1), "cpu_seconds": round(time.process_time() - cpu, 1)}
    if verbose:
        print(f"  tiny teacher: {stats['parameters']:,} parameters, built in {stats['build_seconds']:.0f}s; held-out FIM loss "
              f"{untrained_loss and round(untrained_loss, 3)} -> {trained_loss and round(trained_loss, 3)}")
    return stats


# --------------------------------------------------------------------------- student

STUDENT_SHAPE = {"d_model": 64, "d_ff": 96, "d_kv": 16, "num_heads": 4, "num_layers": 2, "vocab": 384}
STUDENT_STEPS = 300
ENGLISH_CHARS = 400_000  # about this much English text from the standard library's docstrings
_ENGLISH_DROP = re.compile(r"[{}\t]|>>>|\.\.\.\s|::|==|->|\w\(\)|\w_\w|^\s*[-=*]{3,}", re.M)


def english_corpus(max_chars: int = ENGLISH_CHARS) -> tuple[list[str], list[str]]:
    """(paragraphs, module files): English prose from the docstrings of Python's standard library, in a fixed order.

    The tiny student learns language here, as flan-t5 learned it from C4 (English web pages) before
    it ever saw code: no MoonScript, no code examples (doctest lines, braces, `name()` calls are dropped).
    """
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    paragraphs, used, total, seen = [], [], 0, set()
    for path in sorted(stdlib.glob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, OSError):
            continue
        nodes = [tree] + [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        found = 0
        for node in nodes:
            doc = ast.get_docstring(node)
            if not doc:
                continue
            for para in re.split(r"\n\s*\n", doc):
                if _ENGLISH_DROP.search(para):
                    continue
                text = " ".join(para.split())
                letters = sum(c.isalpha() or c == " " for c in text)
                if len(text) < 60 or letters < 0.85 * len(text) or text in seen:
                    continue
                seen.add(text)
                paragraphs.append(text)
                total += len(text) + 1
                found += 1
                if total >= max_chars:
                    break
            if total >= max_chars:
                break
        if found:
            used.append(path.name)
        if total >= max_chars:
            break
    return paragraphs, used


def build_student_tokenizer(texts: list[str], vocab_size: int = STUDENT_SHAPE["vocab"]) -> T5Tokenizer:
    """A T5 tokenizer (transformers' own class) with a small sentencepiece Unigram vocabulary learned from `texts` (English).

    Trained with sentencepiece, as T5's own vocabulary was (single-threaded: deterministic). Braces, tabs and
    newlines are taken out first: flan-t5's vocabulary has none (C4 dropped pages with braces); the code-safe
    tokenizer (utils/tokenization.py) adds them later, as it does for the real flan-t5.
    """

    clean = [re.sub(r"[{}\t\n\r]", " ", t) for t in texts]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(clean),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=1.0,
        max_sentencepiece_length=12,
        max_sentence_length=100_000,
        num_threads=1,
        hard_vocab_limit=False,  # a small corpus may not fill the vocabulary
        minloglevel=2,
    )
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    pieces = [(sp.id_to_piece(i), round(sp.get_score(i), 4)) for i in range(sp.get_piece_size())]
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [(p, s) for i, (p, s) in enumerate(pieces) if not (sp.is_control(i) or sp.is_unknown(i))]
    vocab += [(f"<extra_id_{i}>", 0.0) for i in range(99, -1, -1)]  # T5's sentinels, last ids, reversed
    return T5Tokenizer(vocab=vocab, extra_ids=100, model_max_length=512)


def untie_lm_head(model: T5ForConditionalGeneration) -> None:
    """Give the lm_head its own weights, as flan-t5 (T5 v1.1) has.

    transformers 5 ties T5's lm_head to the shared embedding at construction; a
    checkpoint holding two different matrices is loaded untied, as flan-t5's is.
    """
    # T5's own init (std 1.0) gives an untied head logits of std ~sqrt(d_model): a step-0 loss near 70 (vs
    # ln(vocab) ~ 7). d_model**-0.5 (the scale T5 applies to a tied head) starts it sane.
    std = model.config.d_model**-0.5
    model.lm_head.weight = torch.nn.Parameter(torch.randn_like(model.shared.weight) * std)
    model.all_tied_weights_keys.pop("lm_head.weight", None)


def span_corruption(ids: list[int], rng: random.Random, sentinel: Callable[[int], int], eos: int,
                    noise: float = 0.15, mean_span: float = 3.0) -> tuple[list[int], list[int]]:
    """T5's pre-training objective on one sequence: (input with each noise span replaced by a sentinel, target).

    About `noise` of the tokens are masked in spans of mean length `mean_span`; the target lists each
    sentinel followed by the tokens it hides, then EOS (Raffel et al., 2020, section 3.1.4).
    """
    n = len(ids)
    n_noise = max(1, min(n - 1, round(n * noise)))
    n_spans = max(1, min(n_noise, n - n_noise, round(n_noise / mean_span)))

    def parts(total: int, k: int) -> list[int]:  # `total` split into `k` positive lengths at random
        cuts = sorted(rng.sample(range(1, total), k - 1)) if k > 1 else []
        return [b - a for a, b in zip([0] + cuts, cuts + [total])]

    noise_lens, keep_lens = parts(n_noise, n_spans), parts(n - n_noise, n_spans)
    inputs, target, pos = [], [], 0
    for k, (keep, drop) in enumerate(zip(keep_lens, noise_lens)):
        inputs += ids[pos:pos + keep] + [sentinel(k)]
        target += [sentinel(k)] + ids[pos + keep:pos + keep + drop]
        pos += keep + drop
    return inputs + [eos], target + [eos]


def _t5_loss(model, batch: list[tuple[list[int], list[int]]], pad: int = 0):
    """Mean loss of a T5 model on (input ids, target ids) pairs, padded."""
    width_in, width_out = max(len(a) for a, _ in batch), max(len(b) for _, b in batch)
    ids = torch.full((len(batch), width_in), pad)
    mask = torch.zeros((len(batch), width_in), dtype=torch.long)
    labels = torch.full((len(batch), width_out), -100)
    for i, (a, b) in enumerate(batch):
        ids[i, :len(a)] = torch.tensor(a)
        mask[i, :len(a)] = 1
        labels[i, :len(b)] = torch.tensor(b)
    return model(input_ids=ids, attention_mask=mask, labels=labels).loss


def build_tiny_student(out: Path, texts: list[str] | None = None, seed: int = 0, steps: int = STUDENT_STEPS,
                       verbose: bool = True, shape: dict | None = None, batch_size: int = 32, seq_len: int = 128,
                       lr: float = 3e-3) -> dict:
    """A T5 with flan-t5-small's shape in miniature, pre-trained on English only with T5's span corruption; saved to `out`.

    `texts` (English paragraphs) defaults to `english_corpus()`: the standard library's docstrings. It never
    sees MoonScript: knowing language but not code is where the real flan-t5 starts. Every 20th paragraph
    is held out to show that pre-training lowered the loss on English it did not see.
    """
    start, cpu = time.time(), time.process_time()
    shape = {**STUDENT_SHAPE, **(shape or {})}
    modules: list[str] = []
    if texts is None:
        texts, modules = english_corpus()
    train_texts = [t for i, t in enumerate(texts) if i % 20 != 19]
    held_texts = [t for i, t in enumerate(texts) if i % 20 == 19]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        rng = random.Random(seed)
        tok = build_student_tokenizer(train_texts, shape["vocab"])
        config = T5Config(
            vocab_size=64 * math.ceil(len(tok) / 64),  # padded like flan-t5's 32128
            d_model=shape["d_model"],
            d_ff=shape["d_ff"],
            d_kv=shape["d_kv"],
            num_heads=shape["num_heads"],
            num_layers=shape["num_layers"],
            num_decoder_layers=shape["num_layers"],
            feed_forward_proj="gated-gelu",
            tie_word_embeddings=False,
            relative_attention_num_buckets=32,
            dropout_rate=0.0,  # pre-training sees each text a few times only (T5 v1.1 pre-trained without dropout)
            pad_token_id=0,
            eos_token_id=1,
            decoder_start_token_id=0,
        )
        model = T5ForConditionalGeneration(config)
        untie_lm_head(model)
        sentinel = lambda k: tok.convert_tokens_to_ids(f"<extra_id_{k}>")  # noqa: E731

        def chunks(paragraphs: list[str]) -> list[list[int]]:  # the token stream cut in seq_len pieces, as T5 packs C4
            stream = [i for ids in tok(paragraphs, add_special_tokens=False)["input_ids"] for i in ids]
            return [stream[i:i + seq_len] for i in range(0, len(stream) - seq_len // 2, seq_len)]

        train_chunks, held_chunks = chunks(train_texts), chunks(held_texts)
        held_rng = random.Random(seed + 1)
        held = [span_corruption(c, held_rng, sentinel, tok.eos_token_id) for c in held_chunks]

        def held_loss() -> float:
            model.eval()
            with torch.no_grad():
                losses = [_t5_loss(model, held[i:i + 32]).item() for i in range(0, len(held), 32)]
            model.train()
            return sum(losses) / len(losses)

        before = held_loss()
        train_start = time.time()

        def step_loss() -> torch.Tensor:
            return _t5_loss(model, [span_corruption(rng.choice(train_chunks), rng, sentinel, tok.eos_token_id) for _ in range(batch_size)])

        optimise(model, step_loss, steps, lr, "tiny student (span corruption)", verbose=verbose)
        train_seconds = time.time() - train_start
        after = held_loss()
    finally:
        torch.set_num_threads(threads)
    model.config.dropout_rate = 0.1  # fine-tuning (notebook 05) trains with T5's usual dropout
    model.generation_config.decoder_start_token_id = 0
    model.generation_config.pad_token_id = 0
    model.generation_config.eos_token_id = 1
    model.save_pretrained(out)
    tok.save_pretrained(out)
    (out / TRAINED_ON).write_text(json.dumps({"files": modules, "what": "docstrings of Python's standard library modules "
                                              "(English only, span corruption)", "paragraphs": len(train_texts),
                                              "chars": sum(len(t) for t in train_texts)}, indent=1))
    stats = {"vocab_size": len(tok), "parameters": parameter_count(model), "shape": shape, "steps": steps,
             "batch_size": batch_size, "seq_len": seq_len, "train_chunks": len(train_chunks), "held_out_chunks": len(held),
             "held_out_span_loss_before": round(before, 4), "held_out_span_loss_after": round(after, 4),
             "train_seconds": round(train_seconds, 1), "build_seconds": round(time.time() - start, 1),
             "cpu_seconds": round(time.process_time() - cpu, 1)}
    if verbose:
        print(f"  tiny student: {stats['parameters']:,} parameters, pre-trained in {stats['build_seconds']:.0f}s; "
              f"held-out span-corruption loss {before:.3f} -> {after:.3f}")
    return stats


# --------------------------------------------------------------------------- cache


def build_once(out: Path, build: Callable[[Path], dict], what: str, verbose: bool = True, marker: str = "config.json") -> Path:
    """Run `build(tmp)` once under a file lock and move its folder to `out` atomically; return `out` (built: it holds `marker`)."""
    if (out / marker).exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        if (out / marker).exists():  # built by another process while we waited
            return out
        tmp = out.with_name(out.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        if verbose:
            print(f"building {what} into {out} (once; a few minutes on 2 CPU cores)")
        start = time.time()
        stats = build(tmp)
        if verbose:
            print(f"built {what} in {time.time() - start:.0f}s")
        (tmp / "build_stats.json").write_text(json.dumps(stats, indent=1))
        tmp.rename(out)
    return out


def ensure_tiny_model(name: str, corpus_dir: Path | None = None, verbose: bool = True) -> Path:
    """Path of a tiny model, building it first (once, under a lock) if the cache lacks it.

    The teacher trains on the train split of the series (`data.assign_splits`, the default config's seed and
    fractions) and measures its FIM loss on the other files; the student never sees the corpus.
    """
    if name not in TINY_NAMES:
        raise ValueError(f"unknown tiny model {name!r}: choose one of {TINY_NAMES}")
    if name == "tiny-teacher":
        def build(tmp: Path) -> dict:
            parts = split_corpus(corpus_dir)
            held = list(parts["valid"].values()) + list(parts["test"].values())
            return build_tiny_teacher(tmp, parts["train"], held_out=held, verbose=verbose)
    else:
        def build(tmp: Path) -> dict:
            return build_tiny_student(tmp, verbose=verbose)
    return build_once(tiny_dir(name), build, name, verbose)


def ensure_tiny_tokenizer(name: str) -> Path:
    """Folder of a tiny model's tokenizer: the model's own once it is built; until then (the teacher trains for
    minutes) the teacher's tokenizer built alone, in seconds, by the same function on the same files."""
    if name != "tiny-teacher" or (tiny_dir(name) / "config.json").exists():
        return ensure_tiny_model(name)

    def build(tmp: Path) -> dict:
        texts = list(split_corpus()["train"].values())
        build_teacher_tokenizer(texts).save_pretrained(tmp)
        return {"what": "the tiny teacher's tokenizer alone (the model's own is the same)", "train_files": len(texts)}

    return build_once(tiny_dir(name).with_name(tiny_dir(name).name + "-tokenizer"), build, "tiny-teacher tokenizer",
                      verbose=False, marker="tokenizer.json")


# --------------------------------------------------------------------------- tiny explainer (rationales, notebook 04)

# The tiny explainer: no model at all, a deterministic reader of MoonScript that says in plain English
# what the missing middle does (what it defines, assigns, calls, loops over, checks and returns, and
# what the code after the gap takes from it). `serve_tiny_explainer` puts it behind a real
# OpenAI-compatible chat endpoint on 127.0.0.1, so notebook 04's `openai` client, retries, cost
# accounting and resume run for real offline. The real profiles ask a real LLM instead.
LOCAL_EXPLAINER = "tiny-explainer"
EXPLAINER_VERSION = "2"  # v1 was a trained chat model; v2 the rule-based reader (cached rationales are keyed by it)
_KEYWORDS = frozenset(
    "and break class continue do else elseif export extends false for from if import in local nil not or return "
    "self super switch then true unless until using when while with".split()
)
_ARG_KEYWORDS = frozenset({"not", "nil", "true", "false", "self", "super"})  # keywords that can start an argument
_NOT_CALLS = frozenset({"pairs", "ipairs"})  # described as loops, not as calls
_TOKEN_RE = re.compile(
    r"""(?P<str>"(?:\\.|[^"\\])*"?|'(?:\\.|[^'\\])*'?)
    |(?P<num>\d[\w.]*)
    |(?P<name>@@?(?:[A-Za-z_]\w*)?(?:\.[A-Za-z_]\w*)*|[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)
    |(?P<op>\.\.\.|[-=]>|[-+*/%^]=|\.\.=?|==|!=|~=|<=|>=|.)""",
    re.X,
)
_COMMENT_RE = re.compile(r"""("(?:\\.|[^"\\])*"?|'(?:\\.|[^'\\])*'?)|--(.*)$""")
_INTERP_RE = re.compile(r"#\{([^}]*)\}")
_ARGS = r"(?:\(([^)]*)\)\s*)?"
_NAME = r"@{0,2}[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
_OPS_IN_WORDS = {"==": "equals", "!=": "differs from", "~=": "differs from", "<": "is below", ">": "is above",
                 "<=": "is at most", ">=": "is at least", "#": "the length of", "+": "plus", "-": "minus",
                 "*": "times", "/": "divided by", "..": "joined with", "%": "modulo"}
_UPDATES = {"+=": "adds to", "-=": "subtracts from", "*=": "multiplies", "/=": "divides", "..=": "appends to",
            "%=": "takes the remainder of", "^=": "raises"}


@dataclass
class _Tok:
    """One token of a line: its kind, its text, and whether whitespace came before it."""

    kind: str  # str, num, name, op
    text: str
    space_before: bool


def _tokens(code: str) -> list[_Tok]:
    """MoonScript tokens of one line (strings whole, whitespace folded into `space_before`)."""
    out, space = [], False
    for m in _TOKEN_RE.finditer(code):
        if m.group().isspace():
            space = True
            continue
        out.append(_Tok(m.lastgroup or "op", m.group(), space))
        space = False
    return out


def _listing(items: Sequence[str], limit: int = 4) -> str:
    """'a', 'a and b', 'a, b and c' (at most `limit` items, then 'and N more')."""
    items = list(dict.fromkeys(items))
    if len(items) > limit:
        items = items[: limit - 1] + [f"{len(items) - limit + 1} more"]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _names(toks: Sequence[_Tok]) -> list[str]:
    """The identifiers among `toks` (no keywords), in order, once each."""
    return list(dict.fromkeys(t.text for t in toks if t.kind == "name" and t.text not in _KEYWORDS and t.text != "@"))


def _in_words(code: str, limit: int = 12) -> str | None:
    """A short expression in words ('#t == 0' -> 'the length of t equals 0'); None when it is not that simple."""
    words = []
    for t in _tokens(code):
        if t.kind == "name":
            words.append(t.text)
        elif t.kind == "num":
            words.append(t.text)
        elif t.kind == "str" and len(t.text) <= 24:
            words.append(t.text)
        elif t.kind == "op" and t.text in _OPS_IN_WORDS:
            words.append(_OPS_IN_WORDS[t.text])
        else:
            return None
    return " ".join(words) if 0 < len(words) <= limit else None


def _expr(code: str) -> str:
    """An expression in words, or the names it uses, or 'a value'."""
    said = _in_words(code)
    if said:
        return said
    if code.strip().startswith("{"):
        names = _names(_tokens(code))
        return f"a table of {_listing(names, 3)}" if names else "a table"
    names = _names(_tokens(code))
    return f"a value built from {_listing(names, 3)}" if names else "a value"


def _params(args: str | None) -> list[str]:
    """Parameter names of `(a, b = 1, @c)` or `{dx, dy}`, defaults dropped."""
    return _names(_tokens(" ".join(p.split("=")[0] for p in (args or "").split(","))))


@dataclass
class _Facts:
    """What the middle contains, gathered line by line, in order of appearance."""

    defines: list[str] = field(default_factory=list)
    introduced: list[str] = field(default_factory=list)  # names the code after the gap may use
    members: list[str] = field(default_factory=list)  # methods and keys: used as `@name`, `obj\\name`, `obj.name`
    assigns: list[str] = field(default_factory=list)
    updates: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    loops: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    flow: list[str] = field(default_factory=list)  # returns, break, continue
    misc: list[str] = field(default_factory=list)  # imports, table literals, bare expressions
    strings: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    used: list[str] = field(default_factory=list)  # every identifier the middle uses


def _guard(toks: list[_Tok]) -> str | None:
    """A statement's trailing `if` / `unless` guard in words ('when the length of t equals 0'), or None."""
    for i, t in enumerate(toks):
        if i and t.kind == "name" and t.text in ("if", "unless"):
            cond = " ".join(x.text for x in toks[i + 1:])
            return f"{'when' if t.text == 'if' else 'unless'} {_expr(cond)}"
    return None


def _statement(code: str, toks: list[_Tok], complete: bool, facts: _Facts) -> None:
    """Facts of a line that starts a statement (anchored patterns: definitions, loops, branches, assignments)."""
    first = toks[0].text if toks else ""
    if m := re.match(rf"class\s+({_NAME})?(?:\s+extends\s+({_NAME}))?", code):
        name = m[1] or "an anonymous class"
        facts.defines.append(f"declares the class {name}" + (f", extending {m[2]}" if m[2] else ""))
        facts.introduced.append(m[1] or "")
    elif m := re.match(rf"(@?[A-Za-z_]\w*)\s*:\s*{_ARGS}([-=])>", code):
        args = _params(m[2])
        kind = "constructor" if m[1] == "new" else "class method" if m[1].startswith("@") else \
            "method" if m[3] == "=" else "function"
        facts.defines.append(f"defines the {kind} {m[1]}" + (f" taking {_listing(args)}" if args else " with no parameters"))
        facts.introduced.append(m[1])
        facts.members.append(m[1])
    elif m := re.match(rf"(?:local\s+)?({_NAME})\s*=\s*{_ARGS}([-=])>", code):
        args = _params(m[2])
        facts.defines.append(f"defines the function {m[1]}" + (f" taking {_listing(args)}" if args else " with no parameters"))
        facts.introduced.append(m[1])
    elif m := re.match(r"for\s+(.+?)\s+in\s+(.+?)(?:\s+do\b.*)?$", code):
        names, source = _params(m[1]), m[2].strip()
        facts.introduced += names  # loop variables are the middle's own, never "defined before the gap"
        if source.startswith("*"):
            facts.loops.append(f"loops over each {_listing(names)} in {_expr(source[1:])}")
        elif pm := re.match(r"(i?pairs)\s*\(?\s*(.+?)\)?$", source):
            what = "indexes and values" if pm[1] == "ipairs" else "keys and values"
            facts.loops.append(f"loops over the {what} of {_expr(pm[2])} as {_listing(names)}")
        else:
            facts.loops.append(f"loops {_listing(names)} over {_expr(source)}")
    elif m := re.match(r"for\s+(\w+)\s*=\s*(.+?)(?:\s+do\b.*)?$", code):
        bounds = [b.strip() for b in m[2].split(",")]
        facts.introduced.append(m[1])
        if len(bounds) >= 2 and all(_in_words(b, 3) for b in bounds[:2]):
            facts.loops.append(f"counts {m[1]} from {_in_words(bounds[0])} to {_in_words(bounds[1])}")
        else:
            facts.loops.append(f"counts {m[1]} through a range")
    elif m := re.match(r"(while|until)\s+(.+?)(?:\s+do\b.*)?$", code):
        facts.loops.append(f"repeats {m[1]} {_expr(m[2])}")
    elif m := re.match(rf"(if|unless|elseif)\s+({_NAME})\s*=(?!=)\s*(.+?)(?:\s+then\b.*)?$", code):
        facts.checks.append(f"checks whether {_expr(m[3])} gives a value, naming it {m[2]}")
        facts.introduced.append(m[2])
    elif m := re.match(r"(if|unless|elseif)\s+(.+?)(?:\s+then\b.*)?$", code):
        word = {"if": "checks whether", "elseif": "otherwise checks whether", "unless": "runs a branch unless"}[m[1]]
        facts.checks.append(f"{word} {_expr(m[2])}")
    elif first == "else":
        facts.checks.append("handles the remaining case in an else branch")
    elif m := re.match(r"switch\s+(.+)", code):
        facts.checks.append(f"switches on {_expr(m[1])}")
    elif m := re.match(r"when\s+(.+?)(?:\s+then\b.*)?$", code):
        facts.checks.append(f"handles the case {_expr(m[1])}")
    elif m := re.match(r"with\s+(.+)", code):
        facts.misc.append(f"works on {_expr(m[1])} in a with block")
    elif first == "return":
        guard = _guard(toks)
        cut = next((i for i, t in enumerate(toks) if i and t.text in ("if", "unless")), len(toks))
        value = " ".join(t.text for t in toks[1:cut])
        what = f"returns {_expr(value)}" if value else "returns with no value"
        facts.flow.append(f"{what}{' early, ' + guard if guard else ''}")
    elif first in ("break", "continue"):
        guard = _guard(toks)
        what = "leaves the loop" if first == "break" else "skips to the next iteration"
        facts.flow.append(f"{what}{', ' + guard if guard else ''}")
    elif m := re.match(r"import\s+(.+?)\s+from\s+(.+)", code):
        facts.misc.append(f"imports {_listing(_names(_tokens(m[1])))} from {_expr(m[2])}")
        facts.introduced += _names(_tokens(m[1]))
    elif m := re.match(r"(local|export)\s+(.+)", code):
        names = _names(_tokens(m[2]))
        facts.assigns += names
        facts.introduced += names
    elif m := re.match(r"((?:\{[^}]*\}|[@\w.\[\]#\"']+)(?:\s*,\s*(?:\{[^}]*\}|[@\w.\[\]#\"']+))*)\s*([-+*/%^]|\.\.)?=(?!=|>)\s*(.*)", code):
        targets = []
        for t in re.findall(r"\{[^}]*\}|[^,\s]+", m[1]):
            if t.startswith("{"):
                targets += _names(_tokens(t))
            elif "[" in t:
                targets.append(f"an entry of {t.split('[')[0]}")
            else:
                targets.append(t)
        facts.introduced += [t for t in targets if not t.startswith("an entry")]
        if m[2]:
            facts.updates.append(f"{_UPDATES.get(m[2] + '=', 'updates')} {_listing(targets)}")
        else:
            facts.assigns += targets
    elif m := re.match(r"(@?[A-Za-z_]\w*)\s*:\s+(.+)", code):
        value = m[2].strip()
        literal = _in_words(value, 1)
        facts.keys.append(f"{m[1]}" + (f" to {literal}" if literal else ""))
        facts.introduced.append(m[1])
        facts.members.append(m[1])
    elif code.startswith("{") or code.startswith("}"):
        names = _names(toks)
        what = "writes a table literal" if code.startswith("{") else "closes a table literal"
        facts.misc.append(what + (f" holding {_listing(names, 3)}" if names else ""))
    elif complete and toks and toks[0].kind == "name" and len(toks) <= 6 and not _calls_in(toks):
        facts.misc.append(f"evaluates {_expr(code)}")


def _calls_in(toks: list[_Tok]) -> list[tuple[str, str | None]]:
    """(callee, receiver) for every call in `toks`: `f x`, `f(x)`, `f!`, `obj\\m x`, `obj.field x`, `super x`."""
    calls: list[tuple[str, str | None]] = []
    operand_position = True
    for i, t in enumerate(toks):
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        after = toks[i + 2] if i + 2 < len(toks) else None
        prev = toks[i - 1].text if i else ""
        if t.kind == "name" and prev == "\\":  # the method of `obj\\method`, recorded with its receiver
            operand_position = bool(nxt and nxt.space_before and _starts_argument(nxt))
        elif t.kind == "name" and (t.text not in _KEYWORDS or t.text == "super"):
            if nxt and nxt.text == "\\" and not nxt.space_before and after and after.kind == "name":
                calls.append((after.text, t.text))
            elif nxt and not nxt.space_before and nxt.text in ("!", "("):
                calls.append((t.text, None))
            elif nxt and nxt.space_before and operand_position and _starts_argument(nxt):
                calls.append((t.text, None))
                continue  # its argument is an operand: `print pretty doc` calls both
            operand_position = False
        elif t.text == "\\":
            if nxt and nxt.kind == "name" and (prev in (")", "]") or operand_position):
                calls.append((nxt.text, "the result before it" if prev in (")", "]") else "the with-block object"))
            operand_position = False
        elif t.kind == "name":  # a keyword: what follows it is an operand
            operand_position = t.text not in ("nil", "true", "false", "self")
        elif t.kind in ("str", "num"):
            operand_position = False
        else:
            operand_position = t.text not in (")", "]", "}", "!")
    return [(c, r) for c, r in calls if c not in _NOT_CALLS]


def _starts_argument(t: _Tok) -> bool:
    """Can `t`, after a space, start the argument list of a command call (`print x`)?"""
    if t.kind in ("str", "num"):
        return True
    if t.kind == "name":
        return t.text not in _KEYWORDS or t.text in _ARG_KEYWORDS
    return t.text in ("{", "(", "#", "...", "[")


def _describe_line(code: str, starts_statement: bool, complete: bool, facts: _Facts) -> None:
    """Add the facts of one line of the middle (code without its comment) to `facts`; `complete`: not cut at its end."""
    toks = _tokens(code)
    facts.used += _names(toks)
    if starts_statement:
        _statement(code, toks, complete, facts)
    for callee, receiver in _calls_in(toks):
        if receiver is None:
            facts.calls.append("super" if callee == "super" else callee)
        else:
            owner = "its own" if receiver == "@" else f"on {receiver}"
            facts.methods.append(f"{callee} {owner}".replace(f"{callee} its own", f"its own {callee}"))
    for t in toks:
        if t.kind == "str" and len(t.text) > 1:
            inner = _INTERP_RE.findall(t.text)
            if inner:
                facts.strings.append(f"builds a string interpolating {_listing(_names(_tokens(' '.join(inner))), 3)}")
                facts.used += _names(_tokens(" ".join(inner)))
    rest = [t.text for t in toks]
    if not starts_statement or (toks and toks[0].text not in ("for", "return", "if", "unless", "while")):
        if "for" in rest[1:] and any(t.text in ("[", "{") for t in toks):
            facts.loops.append("builds a list or table with a comprehension")
        elif any(t.text in ("->", "=>") for t in toks) and not facts.defines:
            facts.misc.append("passes or stores a function")


def _open_at_end(line: str) -> str:
    """'"' or "'" when `line` ends inside a string, '--' when inside a comment, else ''."""
    for m in _COMMENT_RE.finditer(line):
        if m[1] is None:
            return "--"
        if m.end() == len(line) and (len(m[1]) == 1 or m[1][-1] != m[1][0] or m[1].endswith("\\" + m[1][0])):
            return m[1][0]
    return ""


def _cut_names(prefix: str, middle: str, suffix: str) -> tuple[str, str]:
    """Words cut by the gap's edges, made whole: (the word the middle finishes, the word it starts); '' if none."""
    head = tail = ""
    if re.search(r"\w\Z", prefix) and re.match(r"\w", middle):
        head = re.search(r"\w+\Z", prefix)[0] + re.match(r"\w+", middle)[0]
    if re.search(r"\w\Z", middle) and re.match(r"\w", suffix):
        tail = re.search(r"\w+\Z", middle)[0] + re.match(r"\w+", suffix)[0]
        if re.fullmatch(r"\w+", middle) and head:
            head = tail = re.search(r"\w+\Z", prefix)[0] + middle + re.match(r"\w+", suffix)[0]
    return head, tail


def gap_facts(prefix: str, middle: str, suffix: str) -> _Facts:
    """Read the middle line by line: what it defines, assigns, calls, loops over, checks and returns."""
    facts = _Facts()
    head, tail = _cut_names(prefix, middle, suffix)
    lines = middle.split("\n")
    starts_mid_line = bool(prefix) and not prefix.endswith("\n") and prefix.rsplit("\n", 1)[-1].strip() != ""
    opened = _open_at_end(prefix.rsplit("\n", 1)[-1]) if starts_mid_line else ""
    for i, raw in enumerate(lines):
        code = raw
        if i == 0 and head and (cut := re.match(r"\w+", code)):
            code = code[cut.end():]  # a cut word is not a name the middle uses
        if i == 0:
            code = opened + code  # text inside a string or comment begun before the gap stays a string or comment
        if i == len(lines) - 1 and tail and (cut := re.search(r"\w+\Z", code)):
            code = code[: cut.start()]
        comment = None

        def strip(m: re.Match) -> str:
            nonlocal comment
            if m[1] is not None:
                return m[1]
            comment = m[2].strip()
            return ""

        code = _COMMENT_RE.sub(strip, code).strip()
        if comment:
            facts.comments.append(comment)
        if code:
            ends_mid_line = i == len(lines) - 1 and bool(raw.strip()) and bool(suffix) and not suffix.startswith("\n")
            _describe_line(code, not (i == 0 and starts_mid_line), not ends_mid_line, facts)
    facts.introduced = [n for n in dict.fromkeys(facts.introduced) if n]
    return facts


def _sentences(facts: _Facts, prefix: str, middle: str, suffix: str) -> list[tuple[int, str]]:
    """(priority, verb phrase) in reading order; lower priorities are kept first when words run short."""
    out: list[tuple[int, str]] = [(1, d) for d in facts.defines]
    if facts.comments:
        words = " ".join(" ".join(facts.comments).split()[:14])
        out.append((1, f"holds the comment \u201c{words}\u201d"))
    if facts.assigns:
        out.append((2, f"assigns {_listing(facts.assigns)}"))
    out += [(2, u) for u in dict.fromkeys(facts.updates)]
    if facts.keys:
        out.append((2, f"sets the key{'s' if len(set(facts.keys)) > 1 else ''} {_listing(facts.keys, 3)}"))
    out += [(2, loop) for loop in dict.fromkeys(facts.loops)]
    out += [(3, c) for c in list(dict.fromkeys(facts.checks))[:3]]
    calls = [c for c in dict.fromkeys(facts.calls)]
    if calls:
        out.append((3, f"calls {_listing(calls)}"))
    if facts.methods:
        out.append((3, f"calls the method{'s' if len(set(facts.methods)) > 1 else ''} {_listing(facts.methods, 3)}"))
    out += [(3, f) for f in list(dict.fromkeys(facts.flow))[:3]]
    out += [(4, m) for m in list(dict.fromkeys(facts.misc))[:2]]
    out += [(5, s) for s in list(dict.fromkeys(facts.strings))[:2]]
    head, tail = _cut_names(prefix, middle, suffix)
    if head:
        out.append((3, f"finishes the word {head} begun before the gap"))
    if tail and tail != head:
        out.append((3, f"starts the word {tail} that the code after the gap completes"))
    return out


def _headline(prefix: str, middle: str, suffix: str) -> str:
    """'The missing code (3 lines)' or '(part of a line)': how much of the file is missing."""
    lines = middle.count("\n") + (0 if middle.endswith("\n") else 1)
    mid_start = bool(prefix) and not prefix.endswith("\n")
    mid_end = not middle.endswith("\n") and bool(suffix) and not suffix.startswith("\n")
    if lines <= 1 and (mid_start or mid_end):
        size = "part of a line"
    else:
        size = f"{lines} line{'s' if lines != 1 else ''}"
        if mid_start:
            size += ", starting mid-line"
        if mid_end:
            size += ", ending mid-line"
    return f"The missing code ({size})"


def _uses_after(facts: _Facts, prefix: str, suffix: str) -> tuple[list[str], list[str]]:
    """(names the middle introduces that the code after the gap uses, names it takes from the code before)."""

    def seen(name: str, text: str, member: bool = False) -> bool:
        before = r"(?<!\w)" if member else r"(?<![\w@])"  # a method is used as `@name` or `obj\\name` too
        return bool(re.search(rf"{before}{re.escape(name)}(?!\w)", text))

    later = [n for n in facts.introduced if seen(n, suffix, n in facts.members)]
    before = _defined_names(prefix)
    earlier = [n for n in dict.fromkeys(facts.used) if n not in facts.introduced and n in before]
    return later, earlier


def _defined_names(code: str) -> set[str]:
    """Names `code` defines: assignment targets, parameters, loop variables, keys, classes, imports."""
    out: set[str] = set()
    for line in code.split("\n"):
        line = _COMMENT_RE.sub(lambda m: m[1] or "", line).strip()
        if m := re.match(r"((?:\{[^}]*\}|[@\w.]+)(?:\s*,\s*(?:\{[^}]*\}|[@\w.]+))*)\s*(?:[-+*/%^]|\.\.)?=(?!=)", line):
            out.update(_names(_tokens(m[1])))
        if m := re.match(r"(?:for|import|local|export)\s+(.+?)(?:\s+(?:in|from)\s|\s*=|$)", line):
            out.update(_names(_tokens(m[1])))
        if m := re.match(r"(?:class\s+)?(@?[A-Za-z_]\w*)\s*:?", line):
            if line.startswith("class") or re.match(r"@?\w+\s*:", line):
                out.add(m[1])
        for args in re.findall(r"\(([^()]*)\)\s*[-=]>", line):
            out.update(_params(args))
    return out


def explain_gap(prefix: str, middle: str, suffix: str, max_words: int = 60) -> str:
    """What the missing `middle` does, in plain English of at most `max_words` words; the same input, the same text."""
    if not middle.strip():
        n = middle.count("\n")
        blank = f"is only blank space ({n} line break{'s' if n != 1 else ''}), separating the code before and after the gap"
        return _fit("The missing code", [(1, blank)], [], max_words)
    facts = gap_facts(prefix, middle, suffix)
    phrases = _sentences(facts, prefix, middle, suffix)
    later, earlier = _uses_after(facts, prefix, suffix)
    closing = []
    if later:
        closing.append((2, f"The code after the gap uses {_listing(later, 3)}, so the missing code must provide "
                           f"{'it' if len(later) == 1 else 'them'}."))
    if earlier:
        closing.append((4, f"It uses {_listing(earlier, 3)}, defined before the gap."))
    if not phrases:
        names = _names(_tokens(middle))
        what = f"mentions {_listing(names, 4)}" if names else "adds punctuation and operators"
        phrases = [(1, f"{what}, continuing the expression around the gap")]
    return _fit(_headline(prefix, middle, suffix), phrases, closing, max_words)


def _fit(headline: str, phrases: list[tuple[int, str]], closing: list[tuple[int, str]], max_words: int) -> str:
    """Join the phrases into sentences, dropping the least important ones until the text fits `max_words`."""
    items = [(p, i, text) for i, (p, text) in enumerate(phrases)] + [(p, len(phrases) + i, text) for i, (p, text) in enumerate(closing)]

    def render(keep: list[tuple[int, int, str]]) -> str:
        keep = sorted(keep, key=lambda x: x[1])
        body = [t for _, i, t in keep if i < len(phrases)]
        tail = [t for _, i, t in keep if i >= len(phrases)]
        parts = [f"{headline} {body[0]}."] if body else [f"{headline}."]
        parts += [f"It {b}." if i % 2 else f"It also {b}." for i, b in enumerate(body[1:], 1)]
        return " ".join(parts + tail)

    kept: list[tuple[int, int, str]] = []
    for item in sorted(items, key=lambda x: (x[0], x[1])):
        if not kept or len(render(kept + [item]).split()) <= max_words:
            kept.append(item)
    text = render(kept)
    words = text.split()
    return text if len(words) <= max_words else " ".join(words[:max_words]).rstrip(",;") + "."


def parse_gap_prompt(text: str) -> tuple[str, str, str, int] | None:
    """(prefix, middle, suffix, max_words) from notebook 04's user prompt (rationale.USER_TEMPLATE), or None."""
    m = re.search(r"<before>\n(.*)</before>\n<middle>\n(.*)</middle>\n<after>\n(.*)</after>\s*\Z", text, re.S)
    if not m:
        return None
    words = re.search(r"in at most (\d+) words", text)
    return m[1], m[2], m[3], int(words[1]) if words else 60


def explainer_reply(messages: list[dict]) -> str | None:
    """The tiny explainer's answer to a chat request: the last user turn's gap explained; None if it holds no gap."""
    users = [m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    if not users or not isinstance(users[-1], str):
        return None
    parsed = parse_gap_prompt(users[-1])
    if parsed is None:
        return None
    prefix, middle, suffix, max_words = parsed
    return explain_gap(prefix, middle, suffix, max_words)


@contextlib.contextmanager
def serve_tiny_explainer() -> Iterator[str]:
    """The tiny explainer behind an OpenAI-compatible chat endpoint on 127.0.0.1; yields its `/v1` base URL."""
    with chat_server(LOCAL_EXPLAINER, explainer_reply) as url:
        yield url


# --------------------------------------------------------------------------- which files the tiny models saw


def seen_by_tiny_teacher(sources: Sequence[str], path: str | Path | None = None) -> list[bool]:
    """For each `source`: was the file in the tiny teacher's training set? (read from its trained_on.json)"""
    folder = Path(path) if path else ensure_tiny_model("tiny-teacher", verbose=False)
    seen = set(trained_on(folder)["files"])
    return [s in seen for s in sources]
