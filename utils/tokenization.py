"""Code-safe student tokenization: whatever the student reads or writes survives byte for byte.

flan-t5's tokenizer splits on whitespace (newlines, tabs and runs of spaces vanish) and
its vocabulary has no `{` or `}`. We keep its Unigram vocabulary, so every pretrained
embedding keeps its meaning, and change only what surrounds it, the way Llama's
sentencepiece tokenizer works:

- no whitespace splitting: spaces become `▁` (as T5 already does); no `▁` is prepended,
  not even at the start, so encoding is plain concatenation: the ids of `a + b` decode to
  `a + b` wherever they are cut or joined (a prepended `▁` was added to every segment
  after a special token, so the suffix after the hole gained a space);
- new pieces for newline, tab, runs of spaces and tabs, and every printable ASCII
  character the vocabulary lacks (`{`, `}`, ...): their embeddings are initialised from
  related rows, not left random;
- byte fallback: any other character the vocabulary lacks is spelled as UTF-8 bytes
  `<0x..>`, so no input can become `<unk>`;
- a decoder that undoes exactly that.

Code may contain `</s>`, `<pad>`, `<unk>`, `<extra_id_7>` or `<0x41>` as plain text, so
the student's text never matches special tokens: `encode_batch` (and `encode_text`) split
a text on the hole marker `HOLE` only, encode every part with special-token matching off
and join the parts with the hole's id. The special and byte pieces that T5 also keeps in
its Unigram vocabulary get scores so low that Viterbi always prefers spelling their text
with ordinary pieces: byte pieces come from byte fallback only. Calling the tokenizer
directly (`tokenizer(text)`) still matches special tokens, as any transformers tokenizer.
"""

from __future__ import annotations

import json
import string

import torch
from tokenizers import Tokenizer
from transformers import PreTrainedTokenizerBase, PreTrainedTokenizerFast

from .config import HOLE

SPACE = "▁"
WHITESPACE_PIECES = ["\n", "\t", "\n\n"] + [SPACE * n for n in (2, 3, 4, 6, 8, 12, 16)] + ["\t" * n for n in (2, 3, 4)]
BYTE_PIECES = [f"<0x{b:02X}>" for b in range(256)]
CODE_SAFE_MARK = "code_safe"  # stored in the tokenizer's init kwargs so a saved one is recognised
CODE_SAFE_VERSION = 2  # 1 (saved as `true`) prepended a space after special tokens: rebuilt, not trusted


def encode_batch(tokenizer: PreTrainedTokenizerBase, texts: list[str]) -> list[list[int]]:
    """Token ids of each text, no special tokens added; a code-safe tokenizer reads only `HOLE` as special."""
    if not is_code_safe(tokenizer):
        return _encode_parts(tokenizer, list(texts), literal=getattr(tokenizer, "split_special_tokens", False))
    pieces = [text.split(HOLE) for text in texts]
    encoded = iter(_encode_parts(tokenizer, [part for parts in pieces for part in parts], literal=True))
    hole = tokenizer.convert_tokens_to_ids(HOLE)
    return [_join([next(encoded) for _ in parts], hole) for parts in pieces]


def _encode_parts(tokenizer: PreTrainedTokenizerBase, texts: list[str], literal: bool) -> list[list[int]]:
    """Backend ids of `texts` (batched, no length warnings); `literal`: special-token text is plain text."""
    backend = tokenizer.backend_tokenizer
    before, backend.encode_special_tokens = backend.encode_special_tokens, literal
    try:
        return [e.ids for e in backend.encode_batch(texts, add_special_tokens=False)] if texts else []
    finally:
        backend.encode_special_tokens = before


def _join(parts: list[list[int]], sep: int) -> list[int]:
    """The id lists of `parts` joined by `sep`."""
    return [i for k, ids in enumerate(parts) for i in ([sep] if k else []) + ids]


def encode_text(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    """Token ids of `text` with no special tokens added (see `encode_batch`)."""
    return encode_batch(tokenizer, [text])[0]


def decode_ids(tokenizer: PreTrainedTokenizerBase, ids: list[int], skip_special_tokens: bool = False) -> str:
    """Text of `ids`, with no clean-up of spaces (which would damage code)."""
    return tokenizer.decode(ids, skip_special_tokens=skip_special_tokens, clean_up_tokenization_spaces=False)


def roundtrips(tokenizer: PreTrainedTokenizerBase, text: str) -> bool:
    """True when encode then decode gives `text` back byte for byte."""
    return decode_ids(tokenizer, encode_text(tokenizer, text)) == text


def is_code_safe(tokenizer: PreTrainedTokenizerBase) -> bool:
    """True for a tokenizer made (or saved) by `make_code_safe`."""
    return getattr(tokenizer, "init_kwargs", {}).get(CODE_SAFE_MARK) == CODE_SAFE_VERSION


def make_code_safe(tokenizer: PreTrainedTokenizerBase) -> PreTrainedTokenizerFast:
    """A copy of a T5 (Unigram) tokenizer that round-trips any text byte for byte."""
    if is_code_safe(tokenizer):
        return tokenizer
    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    if spec["model"]["type"] != "Unigram":
        raise ValueError(f"make_code_safe expects a T5-style Unigram tokenizer, got {spec['model']['type']}")
    vocab = spec["model"]["vocab"]
    known = {piece for piece, _ in vocab}
    new = [p for p in WHITESPACE_PIECES if p not in known]
    # every printable ASCII character gets a piece of its own if it lacks one ({, }, ...)
    new += [c for c in string.printable if c not in " \t\n\r\x0b\x0c" and c not in known]
    new += ["\r"] if "\r" not in known else []
    scores = [s for p, s in vocab if s < 0]
    space_score = dict(vocab).get(SPACE, min(scores))
    for piece in new:
        # whitespace runs must beat n single spaces; other characters are as rare as the rarest piece
        vocab.append([piece, space_score - 0.5 if piece.strip(SPACE + "\t\n") == "" else min(scores) - 1.0])
    vocab += [[b, 0.0] for b in BYTE_PIECES if b not in known]
    _demote(vocab, set(BYTE_PIECES) | set(tokenizer.all_special_tokens))
    spec["model"]["byte_fallback"] = True
    spec["normalizer"] = {"type": "Replace", "pattern": {"String": " "}, "content": SPACE}
    spec["pre_tokenizer"] = None
    spec["decoder"] = {
        "type": "Sequence",
        "decoders": [
            {"type": "Replace", "pattern": {"String": SPACE}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
        ],
    }
    backend = Tokenizer.from_str(json.dumps(spec))
    special = [t for t in tokenizer.all_special_tokens if t not in (tokenizer.eos_token, tokenizer.unk_token, tokenizer.pad_token)]
    safe = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token=tokenizer.eos_token,
        unk_token=tokenizer.unk_token,
        pad_token=tokenizer.pad_token,
        additional_special_tokens=special,
        model_max_length=tokenizer.model_max_length,
        clean_up_tokenization_spaces=False,
        **{CODE_SAFE_MARK: CODE_SAFE_VERSION, "base_vocab_size": len(tokenizer)},
    )
    safe.name_or_path = tokenizer.name_or_path
    return safe


def _demote(vocab: list[list], pieces: set[str]) -> None:
    """Score `pieces` below any spelling of their text with one piece per character, so Viterbi never picks them.

    Every printable ASCII character has a piece scoring at least `lowest`, so the n characters of
    a piece cost at least n * lowest; a score of (n + 1) * lowest loses to that spelling.
    """
    lowest = min(score for _, score in vocab)
    longest = max(len(piece) for piece, _ in vocab if piece in pieces)
    for entry in vocab:
        if entry[0] in pieces:
            entry[1] = (longest + 1) * lowest


def resize_for_tokenizer(model: torch.nn.Module, base: PreTrainedTokenizerBase, safe: PreTrainedTokenizerBase) -> torch.nn.Module:
    """Grow `model`'s embeddings to `safe`'s vocabulary and initialise the new rows sensibly.

    Whitespace pieces start from the embedding of `▁` (a space); every other new piece
    from the mean of the pretrained rows (Hewitt, 2021), in both the input embedding and
    the untied lm_head, which stays untied (and keeps its pretrained rows).
    """
    old_rows = len(base)
    head = model.get_output_embeddings()
    untied = head is not None and head.weight.data_ptr() != model.get_input_embeddings().weight.data_ptr()
    old_head = head.weight.detach().clone() if untied else None
    if model.get_input_embeddings().weight.shape[0] < len(safe):
        model.resize_token_embeddings(len(safe), mean_resizing=False)
    if untied and model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr():
        # transformers 5 forces tie_word_embeddings=True on every T5 config, so resizing re-ties flan-t5's own
        # lm_head to the input embeddings, silently throwing the pretrained head away: give it back, grown
        rows = model.get_input_embeddings().weight.shape[0]
        grown = old_head.new_zeros(rows, old_head.shape[1])
        grown[: old_head.shape[0]] = old_head
        model.get_output_embeddings().weight = torch.nn.Parameter(grown)
        getattr(model, "all_tied_weights_keys", {}).pop("lm_head.weight", None)  # saved (and reloaded) untied
    space_id = base.convert_tokens_to_ids(SPACE)
    with torch.no_grad():
        for matrix in (model.get_input_embeddings().weight, model.get_output_embeddings().weight):
            mean = matrix[:old_rows].mean(0)
            for piece, idx in safe.get_vocab().items():
                if idx < old_rows:
                    continue
                is_space = piece.strip(SPACE + "\t\n\r") == "" and not piece.startswith("<")
                matrix[idx] = matrix[space_id] if is_space else mean
    return model


def token_overhead(tokenizer: PreTrainedTokenizerBase, reference: PreTrainedTokenizerBase, texts: list[str]) -> float:
    """Tokens `tokenizer` needs per token of `reference` on the same texts (1.0 = equal)."""
    mine = sum(len(encode_text(tokenizer, t)) for t in texts)
    theirs = sum(len(encode_text(reference, t)) for t in texts)
    return mine / max(theirs, 1)
