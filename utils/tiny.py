"""The tiny profile's models: small, seeded, built offline once, loaded like the real ones.

- tiny teacher: GPTBigCode with multi-query attention (santacoder's architecture), a
  byte-level BPE tokenizer carrying santacoder's FIM tokens, briefly trained on the
  sample corpus with the FIM objective (PSM and SPM) so its fill-ins look like code.
- tiny student: T5 (gated-gelu, untied lm_head) with a Unigram tokenizer built by
  transformers' own `T5Tokenizer`, so it fails on code exactly as flan-t5 does:
  newlines, tabs and runs of spaces collapse, `{` and `}` are unknown.
- tiny explainer: a deterministic, rule-based explainer (`explain_gap`) that says what a gap's
  middle does, served behind a real OpenAI-compatible chat endpoint on 127.0.0.1.
- which sample files the tiny teacher saw in training (`seen_by_tiny_teacher`).
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import re
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
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
from .server import chat_server

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


def seen_by_tiny_teacher(sources: Sequence[str]) -> list[bool]:
    """For each `source` of the sample corpus: was the file in the tiny teacher's training set (7 of every 8 files)?"""
    files = [str(p.relative_to(SAMPLE_DIR)) for p in sorted(SAMPLE_DIR.rglob("*.moon"))]
    held_out = {f for i, f in enumerate(files) if i % 8 == 7}  # _held_out keeps every 8th file out
    return [s.partition("/")[2] not in held_out for s in sources]
