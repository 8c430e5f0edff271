"""The tiny profile's models: small, seeded, built offline once, loaded like the real ones.

- tiny teacher: GPTBigCode with multi-query attention (santacoder's architecture), a
  byte-level BPE tokenizer carrying santacoder's FIM tokens, briefly trained on the
  sample corpus with the FIM objective (PSM and SPM) so its fill-ins look like code.
- tiny student: T5 (gated-gelu, untied lm_head) with a Unigram tokenizer built by
  transformers' own `T5Tokenizer`, so it fails on code exactly as flan-t5 does:
  newlines, tabs and runs of spaces collapse, `{` and `}` are unknown.
- tiny explainer: a small GPTBigCode chat model that answers notebook 04's rationale prompt
  with rule-based English (`rule_based_explanation`), served by `transformers serve`.
- which sample files the tiny teacher saw in training (`seen_by_tiny_teacher`).
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
BUILD_VERSION = "2"  # bump when the recipe changes, so stale caches are rebuilt
STUDENT_BUILD_VERSION = "5"  # the student's own recipe (v3: lm_head at std d_model**-0.5; v5: sentencepiece vocabulary); the teacher keeps BUILD_VERSION
SAMPLE_DIR = REPO_ROOT / "data" / "moonscript"


def tiny_dir(name: str) -> Path:
    """Cache folder of a tiny model (`tiny-teacher` or `tiny-student`)."""
    version = STUDENT_BUILD_VERSION if name == "tiny-student" else BUILD_VERSION
    return cache_dir() / f"{name}-v{version}"


def _read_corpus(corpus_dir: Path) -> list[str]:
    """Texts of the corpus' `.moon` files, in path order."""
    return list(read_moon_texts(corpus_dir).values())


def _held_out(texts: list[str]) -> tuple[list[str], list[str]]:
    """Every 8th file is kept out of the tiny teacher's training, to measure it honestly."""
    return [t for i, t in enumerate(texts) if i % 8 != 7], [t for i, t in enumerate(texts) if i % 8 == 7]


# --------------------------------------------------------------------------- teacher


def build_teacher_tokenizer(texts: list[str], vocab_size: int = 512) -> PreTrainedTokenizerFast:
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


def _fim_training_text(window: str, rng: random.Random) -> str:
    """One training string: plain code (10%) or a FIM example in PSM or SPM order."""
    if rng.random() < 0.1 or len(window) < 8:
        return window + EOS
    if rng.random() < 0.5:  # a block of whole lines, as our single_line / multi_line spans
        starts = [0] + [i + 1 for i, c in enumerate(window) if c == "\n" and i + 1 < len(window)]
        a = rng.randrange(len(starts))
        b = min(len(starts), a + rng.randint(1, 4))
        lo = starts[a]
        hi = starts[b] if b < len(starts) else len(window)
    else:  # two random character positions, as santacoder was trained
        lo, hi = sorted(rng.sample(range(len(window) + 1), 2))
    prefix, middle, suffix = window[:lo], window[lo:hi], window[hi:]
    mode = "psm" if rng.random() < 0.5 else "spm"
    return fim_prompt(prefix, suffix, mode) + middle + EOS


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


def train_causal_lm(
    model: torch.nn.Module,
    next_batch: Callable[[], list[tuple[list[int], int]]],
    steps: int,
    lr: float,
    warmup: int,
    pad_id: int,
    name: str,
    verbose: bool = True,
) -> float:
    """Train a causal LM on batches of (token ids, prompt length), the loss on tokens after the prompt; return the last loss."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))
    )
    model.train()
    start = time.time()
    for step in range(steps):
        batch = next_batch()
        width = max(len(ids) for ids, _ in batch)
        ids = torch.full((len(batch), width), pad_id)
        labels = torch.full((len(batch), width), -100)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, (e, n_prompt) in enumerate(batch):
            ids[i, : len(e)] = torch.tensor(e)
            labels[i, n_prompt : len(e)] = torch.tensor(e[n_prompt:])
            mask[i, : len(e)] = 1
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        if verbose and (step % 100 == 0 or step == steps - 1):
            print(f"  {name} step {step:4d}/{steps}  loss {loss.item():.3f}  ({time.time() - start:.0f}s)")
    return float(loss.item())


def build_tiny_teacher(out: Path, texts: list[str], seed: int = 0, steps: int = 300, verbose: bool = True) -> dict:
    """Train the tiny teacher on `texts` with the FIM objective and save it to `out`."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    tok = build_teacher_tokenizer(texts)
    config = GPTBigCodeConfig(
        vocab_size=len(tok),
        n_positions=512,
        n_embd=128,
        n_layer=3,
        n_head=4,
        multi_query=True,
        activation_function="gelu_pytorch_tanh",
        bos_token_id=tok.convert_tokens_to_ids(EOS),
        eos_token_id=tok.convert_tokens_to_ids(EOS),
        resid_pdrop=0.1,  # 40 files are few: dropout keeps it from memorising them
        embd_pdrop=0.1,
        attn_pdrop=0.1,
    )
    model = GPTBigCodeForCausalLM(config)
    train_texts, held_texts = _held_out(texts)
    train_windows = [w for t in train_texts for w in _windows(t, tok, 200)]
    held_windows = [w for t in held_texts for w in _windows(t, tok, 200)]
    untrained_loss = fim_loss(model, tok, held_windows)

    pad_id = tok.convert_tokens_to_ids(FIM_PAD)

    def next_batch() -> list[tuple[list[int], int]]:
        texts = [_fim_training_text(rng.choice(train_windows), rng) for _ in range(16)]
        return [(tok.encode(t)[: config.n_positions], 0) for t in texts]  # the loss covers every token

    train_causal_lm(model, next_batch, steps, lr=3e-3, warmup=30, pad_id=pad_id, name="tiny teacher", verbose=verbose)
    trained_loss = fim_loss(model, tok, held_windows)
    model.generation_config.pad_token_id = pad_id
    model.generation_config.eos_token_id = tok.convert_tokens_to_ids(EOS)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return {"untrained_fim_loss": untrained_loss, "trained_fim_loss": trained_loss}


# --------------------------------------------------------------------------- student


def build_student_tokenizer(texts: list[str], vocab_size: int = 1200) -> T5Tokenizer:
    """A T5 tokenizer (transformers' own class) with a small sentencepiece Unigram vocabulary that lacks `{`, `}`.

    Trained with sentencepiece, as T5's own vocabulary was (single-threaded: deterministic).
    """
    import io

    import sentencepiece as spm

    # flan-t5's vocabulary has no braces (C4 dropped pages containing them), no newline, no tab
    clean = [re.sub(r"[{}\t\n\r]", " ", t) for t in texts]
    english = [
        "The missing middle has to define the function that the code below calls, returning the value.",
        "It must loop over the items in the table and add each one to the result list before returning it.",
        "This line sets the field of the object, so that the method which follows can use it.",
    ]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(clean + english * 20),
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
    # ln(vocab) ~ 7) and a student that, trained for a few hundred CPU steps, answers with whitespace only.
    # A pretrained head is far smaller; d_model**-0.5 (the scale T5 applies to a tied head) starts it sane.
    std = model.config.d_model**-0.5
    model.lm_head.weight = torch.nn.Parameter(torch.randn_like(model.shared.weight) * std)
    model.all_tied_weights_keys.pop("lm_head.weight", None)


def build_tiny_student(out: Path, texts: list[str], seed: int = 0) -> dict:
    """Save an untrained T5 with flan-t5-small's shape in miniature to `out`."""
    torch.manual_seed(seed)
    tok = build_student_tokenizer(texts)
    config = T5Config(
        vocab_size=64 * math.ceil(len(tok) / 64),  # padded like flan-t5's 32128
        d_model=128,
        d_ff=256,
        d_kv=32,
        num_heads=4,
        num_layers=2,
        num_decoder_layers=2,
        feed_forward_proj="gated-gelu",
        tie_word_embeddings=False,
        relative_attention_num_buckets=32,
        dropout_rate=0.1,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    model = T5ForConditionalGeneration(config)
    untie_lm_head(model)
    model.generation_config.decoder_start_token_id = 0
    model.generation_config.pad_token_id = 0
    model.generation_config.eos_token_id = 1
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return {"vocab_size": len(tok)}


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
            print(f"building {what} into {out} (once; about a minute on 2 CPU cores)")
        stats = build(tmp)
        (tmp / "build_stats.json").write_text(json.dumps(stats, indent=1))
        tmp.rename(out)
    return out


def ensure_tiny_model(name: str, corpus_dir: Path | None = None, verbose: bool = True) -> Path:
    """Path of a tiny model, building it first (once, under a lock) if the cache lacks it."""
    if name not in TINY_NAMES:
        raise ValueError(f"unknown tiny model {name!r}: choose one of {TINY_NAMES}")
    builder = build_tiny_teacher if name == "tiny-teacher" else build_tiny_student
    return build_once(tiny_dir(name), lambda tmp: builder(tmp, _read_corpus(corpus_dir or SAMPLE_DIR)), name, verbose)


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


def seen_by_tiny_teacher(sources: Sequence[str]) -> list[bool]:
    """For each `source` of the sample corpus: was the file in the tiny teacher's training set (7 of every 8 files)?"""
    files = [str(p.relative_to(SAMPLE_DIR)) for p in sorted(SAMPLE_DIR.rglob("*.moon"))]
    held_out = {f for i, f in enumerate(files) if i % 8 == 7}  # _held_out keeps every 8th file out
    return [s.partition("/")[2] not in held_out for s in sources]
