"""The student behind an HTTP endpoint an editor can call: `python -m utils serve [--variant NAME] [--int8] [--port P]`.

The request is OpenAI's completions API with a `suffix`, as OpenAI's insertion API took it: `prompt` is the
code before the cursor, `suffix` the code after it, and `choices[0].text` the middle, for example

    curl -s localhost:8000/v1/completions -H 'Content-Type: application/json' \\
         -d '{"prompt": "add = (a, b) ->\\n", "suffix": "\\nprint add 1, 2\\n", "max_tokens": 64}'

or the `openai` client's `client.completions.create(model=..., prompt=prefix, suffix=suffix)`. The student's
input is built exactly as in training and evaluation (notebook 02's `student_context` + `student_prompt`: the
prefix's tail, `<extra_id_0>`, the suffix's head, cut to the student's input budget), and decoded by
`student.generate_ids` (greedy, the `NoBlankAnswer` guard). The HTTP plumbing is `server.completions_server`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .config import Config, student_prompt
from .fim import student_context, token_counter
from .quantize import INT8, NOTE, int8_dir, load_int8, save_int8, shipped_variant
from .server import Complete, Completion, ServerURL, completions_server
from .student import decode_batch, encode_inputs, generate_ids, load_trained


def student_inputs(tokenizer: PreTrainedTokenizerBase, prefixes: list[str], suffixes: list[str], cfg: Config) -> list[str]:
    """The student's input for each (prefix, suffix): as notebook 02 builds `student_input`, within the same token budget."""
    count = token_counter(tokenizer)
    budget = cfg.student_max_input_tokens - cfg.student_reserve_tokens
    return [student_prompt(*student_context(p, s, count, budget)) for p, s in zip(prefixes, suffixes)]


def student_completer(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, cfg: Config) -> Complete:
    """A `Complete` function for `completions_server`: the middles of (prefix, suffix) pairs, one request at a time."""
    lock = threading.Lock()  # one generation at a time: torch's thread setting is process-wide
    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id

    def complete(prefixes: list[str], suffixes: list[str], max_tokens: int) -> list[Completion]:
        inputs = student_inputs(tokenizer, prefixes, suffixes, cfg)
        prompt_ids, _ = encode_inputs(tokenizer, inputs, "predict", cfg.student_max_input_tokens)
        with lock:
            rows = generate_ids(model, tokenizer, inputs, cfg, max_new_tokens=max_tokens)
        texts = decode_batch(tokenizer, rows)
        return [Completion(text, len(ids), sum(1 for i in row if i != pad), "stop" if eos in row else "length")
                for text, ids, row in zip(texts, prompt_ids, rows)]

    return complete


def load_served(cfg: Config, variant: str | None = None, int8: bool = False) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, str]:
    """(model, tokenizer, served name) of a trained variant; with `int8`, its int8 ONNX copy (quantised and saved now if missing)."""
    variant = shipped_variant(cfg, variant)
    if not int8:
        model, tok = load_trained(cfg, variant, device="cpu" if cfg.device == "auto" else cfg.device)
        return model, tok, variant
    folder = int8_dir(cfg, variant)
    if not (folder / NOTE).exists():
        fp32, tok = load_trained(cfg, variant, device="cpu")
        save_int8(fp32, tok, folder, variant)
    model, tok = load_int8(folder, cfg)
    return model, tok, variant + INT8


@contextlib.contextmanager
def serve_student(cfg: Config, variant: str | None = None, int8: bool = False, port: int | None = None,
                  host: str = "127.0.0.1") -> Iterator[ServerURL]:
    """Serve a trained student's fill-in-the-middle completions on `host`:`port` (None: a free port); yield the `/v1` URL."""
    model, tok, name = load_served(cfg, variant, int8)
    with completions_server(name, student_completer(model, tok, cfg), port, cfg.max_target_tokens, host) as url:
        url.model = name  # type: ignore[attr-defined] - the name requests give as `model`
        yield url
