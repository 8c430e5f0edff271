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
- tiny explainer: a small GPTBigCode chat model that answers notebook 04's rationale prompt
  with rule-based English (`rule_based_explanation`), served by `transformers serve`.
- which sample files the tiny teacher saw in training (`seen_by_tiny_teacher`, from trained_on.json).
"""

from __future__ import annotations

import json
import math
import random
import re
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

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
from .config import EOS, FIM_MIDDLE, FIM_PAD, FIM_PREFIX, FIM_SUFFIX, FIM_TOKENS, REPO_ROOT, cache_dir, fim_prompt

TINY_NAMES = ("tiny-teacher", "tiny-student")
BUILD_VERSION = "3"  # bump when the recipe changes, so stale caches are rebuilt
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
    from .config import load_config
    from .data import assign_splits

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


def train_causal_lm(
    model: torch.nn.Module,
    next_batch: Callable[[], list[tuple[list[int], int]]],
    steps: int,
    lr: float,
    warmup: int,
    pad_id: int,
    name: str,
    verbose: bool = True,
    floor: float = 0.0,
) -> float:
    """Train a causal LM on batches of (token ids, prompt length), the loss on tokens after the prompt; return the last loss.

    An item may also be (token ids, per-token loss weights). The learning rate warms up over `warmup`
    steps, then follows a cosine down to `floor` x `lr`.
    """
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    )
    model.train()
    start = time.time()
    for step in range(steps):
        batch = next_batch()
        width = max(len(ids) for ids, _ in batch)
        ids = torch.full((len(batch), width), pad_id)
        labels = torch.full((len(batch), width), -100)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        weighted = not isinstance(batch[0][1], int)
        weights = torch.zeros((len(batch), width))
        for i, (e, n_prompt) in enumerate(batch):
            ids[i, : len(e)] = torch.tensor(e)
            mask[i, : len(e)] = 1
            if weighted:
                weights[i, : len(e)] = torch.tensor(n_prompt, dtype=torch.float)
            else:
                labels[i, n_prompt : len(e)] = torch.tensor(e[n_prompt:])
        if weighted:  # weights[t]: how much predicting token t counts
            logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]
            ce = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1), reduction="none")
            w = weights[:, 1:].reshape(-1)
            loss = (ce * w).sum() / w.sum()
        else:
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        if verbose and (step % 100 == 0 or step == steps - 1):
            print(f"  {name} step {step:4d}/{steps}  loss {loss.item():.3f}  ({time.time() - start:.0f}s)")
    return float(loss.item())


def build_tiny_teacher(out: Path, texts: list[str] | dict[str, str], seed: int = 0, steps: int = TEACHER_STEPS,
                       verbose: bool = True, held_out: list[str] | None = None, shape: dict | None = None,
                       batch_size: int = 8, lr: float = 3e-3, dropout: float = 0.1, psm_share: float = 0.7,
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
            resid_pdrop=dropout,  # about 10 passes over a small train split: dropout keeps it from memorising it
            embd_pdrop=dropout,
            attn_pdrop=dropout,
        )
        model = GPTBigCodeForCausalLM(config)
        held_windows = [w for t in (held_out or []) for w in _windows(t, tok, TEACHER_WINDOW)]
        untrained_loss = fim_loss(model, tok, held_windows) if held_windows else None
        files = [[(line, len(tok.encode(line, add_special_tokens=False))) for line in t.splitlines(keepends=True)] for t in texts if t.strip()]
        weights = [sum(n for _, n in f) for f in files]
        pad_id = tok.convert_tokens_to_ids(FIM_PAD)

        def next_batch() -> list[tuple[list[int], int]]:
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
        final = train_causal_lm(model, next_batch, steps, lr=lr, warmup=20, pad_id=pad_id, name="tiny teacher",
                                verbose=verbose, floor=0.1)
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
    import ast
    import sysconfig

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
    import io

    import sentencepiece as spm

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
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min(1.0, (s + 1) / 20) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))))
        model.train()
        train_start = time.time()
        for step in range(steps):
            batch = [span_corruption(rng.choice(train_chunks), rng, sentinel, tok.eos_token_id) for _ in range(batch_size)]
            loss = _t5_loss(model, batch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            if verbose and (step % 100 == 0 or step == steps - 1):
                print(f"  tiny student (span corruption) step {step:4d}/{steps}  loss {loss.item():.3f}  ({time.time() - train_start:.0f}s)")
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


def build_once(out: Path, build: Callable[[Path], dict], what: str, verbose: bool = True) -> Path:
    """Run `build(tmp)` once under a file lock and move its folder to `out` atomically; return `out`."""
    if (out / "config.json").exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        if (out / "config.json").exists():  # built by another process while we waited
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


# --------------------------------------------------------------------------- tiny explainer (rationales, notebook 04)

# The tiny explainer: a ~0.4M-parameter chat model, trained in about a minute to answer notebook 04's
# rationale prompt with rule-based English about the gap. Served by `transformers serve` on 127.0.0.1,
# it makes the rationale stage's plumbing real offline; its answers are plumbing, not quality.
LOCAL_EXPLAINER = "tiny-explainer"
EXPLAINER_VERSION = "1"
_IM_START, _IM_END, _EOT = "<|im_start|>", "<|im_end|>", "<|endoftext|>"
# ChatML, except that the user's turn is condensed to the gap and the code right after it: a model of
# ~1M parameters cannot read a 400-token prompt, so the server-side template hands it what it can use.
# The client still sends the full prompt, exactly as it would to OpenAI.
EXPLAINER_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% set c = message['content'] %}"
    "{% if message['role'] == 'user' and '<middle>' in c and '<after>' in c %}"
    "{% set c = 'GAP: ' + (c.split('<middle>')[-1].split('</middle>')[0]|trim)[:160]"
    " + '\nAFTER: ' + (c.split('<after>')[-1].split('</after>')[0]|trim)[:80] %}"
    "{% elif message['role'] == 'user' %}{% set c = c[-500:] %}{% endif %}"
    "{% if message['role'] != 'system' %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + c + '<|im_end|>\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def explainer_dir() -> Path:
    """Cache folder of the tiny explainer."""
    return cache_dir() / f"{LOCAL_EXPLAINER}-v{EXPLAINER_VERSION}"


_IDENT = r"@?[A-Za-z_][\w.]*"


def rule_based_explanation(middle: str, suffix: str, max_words: int = 60) -> str:
    """A templated English explanation of what `middle` does (the tiny explainer's training target)."""
    clauses: list[str] = []
    names: list[str] = []

    def add(clause: str, name: str | None = None) -> None:
        if clause not in clauses:
            clauses.append(clause)
        if name and name not in names:
            names.append(name)

    for raw in middle.splitlines():
        line = raw.strip()
        if not line or line.startswith("--"):
            continue
        if m := re.match(r"class\s+(\w+)", line):
            add(f"declare the class {m[1]}", m[1])
        elif m := re.match(r"(@?\w+):\s*(\(([^)]*)\))?\s*[-=]>", line):
            args = f" taking {m[3].strip()}" if m[3] and m[3].strip() else ""
            add(f"define the method {m[1]}{args}", m[1])
        elif m := re.match(rf"(?:local\s+)?({_IDENT})\s*=\s*(\(([^)]*)\))?\s*[-=]>", line):
            add(f"define the function {m[1]}", m[1])
        elif m := re.match(r"for\s+(.+?)\s+in\s+(.+)", line):
            target = re.findall(_IDENT, m[2].replace("pairs", "").replace("ipairs", ""))
            add(f"loop over {target[-1] if target else 'the items'}", m[1].split(",")[0].strip())
        elif m := re.match(r"for\s+(\w+)\s*=\s*(.+)", line):
            add(f"count {m[1]} through a range", m[1])
        elif m := re.match(r"(?:while|until)\s+(.+)", line):
            ids = re.findall(_IDENT, m[1])
            add(f"repeat while {ids[0] if ids else 'a condition'} holds")
        elif m := re.match(r"(?:if|unless|elseif)\s+(.+)", line):
            ids = [i for i in re.findall(_IDENT, m[1]) if i not in ("not", "and", "or", "then", "nil")]
            add(f"check {ids[0] if ids else 'a condition'}")
        elif line.startswith("else"):
            add("handle the other case")
        elif m := re.match(r"return\s*(.*)", line):
            ids = re.findall(_IDENT, m[1])
            add(f"return {ids[0] if ids else 'the result'}")
        elif m := re.match(rf"({_IDENT})(?:\[[^\]]*\])?\s*(?:\+|-|\*|/|\.\.|or|and)?=\s*(.*)", line):
            add(f"set {m[1]}", m[1])
        elif m := re.match(rf"({_IDENT})(?:\\(\w+))?\s*[!(\s\"']", line + " "):
            name = m[2] or m[1]
            add(f"call {name}")
        else:
            ids = re.findall(_IDENT, line)
            if ids:
                add(f"compute {ids[0]}")
        if len(clauses) >= 3:
            break
    if not clauses:
        clauses = ["complete the expression at this point"]
    what = clauses[0] if len(clauses) == 1 else ", ".join(clauses[:-1]) + " and " + clauses[-1]
    text = f"The missing code has to {what}."
    used = [n for n in names if re.search(rf"(?<![\w@]){re.escape(n)}(?!\w)", suffix.strip()[:80])]
    if used:
        text += f" The code after the gap uses {used[0]}, so it must be ready there."
    else:
        text += " It completes this part so the code after the gap can run."
    words = text.split()
    return " ".join(words[:max_words])


def gap_messages(prefix: str, middle: str, suffix: str) -> list[dict]:
    """The part of a rationale prompt the explainer's chat template reads: the tagged gap and the code after it.

    The template condenses any user turn holding `<middle>` and `<after>` to those two, so the
    explainer trained on these messages answers notebook 04's full prompt the same way (a test
    checks that both render alike) without this module importing the rationale stage.
    """
    return [{"role": "user", "content": f"<before>\n{prefix}</before>\n<middle>\n{middle}</middle>\n<after>\n{suffix}</after>"}]


def _explainer_examples(texts: list[str], n: int, rng: random.Random) -> list[tuple[list[dict], str]]:
    """(messages, answer) pairs: segments cut from `texts` like notebook 02's, answered by the rule-based writer."""
    out = []
    files = [t.splitlines(keepends=True) for t in texts]
    while len(out) < n:
        lines = rng.choice(files)
        start = rng.randrange(max(1, len(lines) - 8))
        seg = lines[start : start + rng.randint(12, 30)]
        if len(seg) < 4:
            continue
        r = rng.random()
        if r < 0.8:  # one or a few whole lines
            a = rng.randrange(1, len(seg) - 1)
            b = min(len(seg) - 1, a + (1 if r < 0.4 else rng.randint(2, 5)))
            prefix, middle, suffix = "".join(seg[:a]), "".join(seg[a:b]), "".join(seg[b:])
        else:  # a random character span
            text = "".join(seg)
            lo = rng.randrange(len(text) // 2)
            hi = min(len(text), lo + rng.randint(10, 200))
            prefix, middle, suffix = text[:lo], text[lo:hi], text[hi:]
        if not middle.strip():
            continue
        out.append((gap_messages(prefix, middle, suffix), rule_based_explanation(middle, suffix)))
    return out


def build_tiny_explainer(out: Path, texts: list[str], seed: int = 0, steps: int = 500, verbose: bool = True,
                         n_embd: int = 96, lr: float = 4e-3) -> dict:
    """Train a tiny GPTBigCode chat model to answer rationale prompts with rule-based English; save it to `out`."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    examples = _explainer_examples(texts, 3000, rng)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1024, special_tokens=[_EOT, _IM_START, _IM_END],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    bpe.train_from_iterator(texts + [a for _, a in examples[:500]] * 2, trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token=_EOT, eos_token=_IM_END, pad_token=_EOT,
                                  additional_special_tokens=[_IM_START], model_max_length=512)
    tok.chat_template = EXPLAINER_CHAT_TEMPLATE
    config = GPTBigCodeConfig(vocab_size=len(tok), n_positions=512, n_embd=n_embd, n_layer=2, n_head=4, multi_query=False,
                              activation_function="gelu_pytorch_tanh", bos_token_id=tok.bos_token_id,
                              eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                              resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    model = GPTBigCodeForCausalLM(config)
    encoded = []
    for messages, answer in examples:
        prompt = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=False)
        target = tok.encode(answer + _IM_END, add_special_tokens=False)
        ids = (list(prompt) + target)[: config.n_positions]
        encoded.append((ids, len(prompt)))
    model.train()
    start = time.time()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is faster, and much faster on a shared machine
    try:
        final_loss = train_causal_lm(
            model, lambda: [encoded[rng.randrange(len(encoded))] for _ in range(8)], steps, lr=lr, warmup=20,
            pad_id=tok.pad_token_id, name="tiny explainer", verbose=verbose,
        )
    finally:
        torch.set_num_threads(threads)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.do_sample = False
    model.generation_config.no_repeat_ngram_size = 3  # a tiny model loops otherwise
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return {"final_loss": round(final_loss, 4), "steps": steps, "train_seconds": round(time.time() - start, 1), "examples": len(encoded)}


def ensure_tiny_explainer(corpus_dir: Path | None = None, verbose: bool = True) -> Path:
    """Path of the tiny explainer, building it first (once, under a file lock, atomic rename) if missing."""
    texts = lambda: _read_corpus(Path(corpus_dir or SAMPLE_DIR))  # noqa: E731 (read only when building)
    return build_once(explainer_dir(), lambda tmp: build_tiny_explainer(tmp, texts(), verbose=verbose), LOCAL_EXPLAINER, verbose)


# --------------------------------------------------------------------------- which files the tiny models saw


def seen_by_tiny_teacher(sources: Sequence[str], path: str | Path | None = None) -> list[bool]:
    """For each `source`: was the file in the tiny teacher's training set? (read from its trained_on.json)"""
    folder = Path(path) if path else ensure_tiny_model("tiny-teacher", verbose=False)
    seen = set(trained_on(folder)["files"])
    return [s in seen for s in sources]
