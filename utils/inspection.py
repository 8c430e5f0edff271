"""Model inspection (notebook 01): architectures, sizes, tokenizers side by side, round-trip fidelity."""

from __future__ import annotations

import difflib
import html
import os
from pathlib import Path

import pandas as pd
import torch
import transformers
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    GPTBigCodeConfig,
    PretrainedConfig,
    PreTrainedTokenizerBase,
    T5Config,
)

from .artifacts import read_moon_texts
from .config import STUDENT_HUB_ID, TEACHER_HUB_ID, Config, UserError
from .models import load_model_config, load_tokenizer
from .tokenization import encode_text, make_code_safe, roundtrips

# The published configurations (config.json on the hub), so sizes are computed from the
# real architectures even offline. Values as in each model's config.json on the hub (`real_config(..., online=True)` reads them).
REAL_CONFIGS: dict[str, PretrainedConfig] = {
    TEACHER_HUB_ID: GPTBigCodeConfig(
        vocab_size=49280, n_positions=2048, n_embd=2048, n_layer=24, n_head=16, n_inner=8192,
        multi_query=True, activation_function="gelu_pytorch_tanh", bos_token_id=49152, eos_token_id=49152,
    ),
    STUDENT_HUB_ID: T5Config(
        vocab_size=32128, d_model=512, d_ff=1024, d_kv=64, num_layers=8, num_decoder_layers=8, num_heads=6,
        feed_forward_proj="gated-gelu", tie_word_embeddings=False, decoder_start_token_id=0, n_positions=512,
    ),
}
STUDENT_CONTEXT = 512  # T5 has relative positions; flan-t5 was trained with 512-token inputs


def real_config(hub_id: str, online: bool = True) -> PretrainedConfig:
    """The real model's configuration: from the hub when `online` and reachable, else the copy kept here."""
    if online and os.environ.get("HF_HUB_OFFLINE") != "1":
        try:
            return load_model_config(hub_id)
        except UserError:
            pass
    return REAL_CONFIGS[hub_id]


def lm_head_tied(config: PretrainedConfig) -> bool:
    """Whether the output layer shares the input embedding (T5 v1.1 / flan-t5: no; santacoder: yes).

    transformers 5 always builds T5 tied and records v1.1's untied head as `scale_decoder_outputs=False`.
    """
    if config.model_type == "t5":
        return bool(getattr(config, "scale_decoder_outputs", True))
    return bool(getattr(config, "tie_word_embeddings", True))


def count_parameters(config: PretrainedConfig) -> int:
    """Parameters of a model built from `config` on the meta device (no memory, no weights)."""
    cls = AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM
    with torch.device("meta"):
        model = cls.from_config(config)
    n = sum(p.numel() for p in model.parameters())
    head = model.get_output_embeddings()
    if not lm_head_tied(config) and head.weight is model.get_input_embeddings().weight:
        n += head.weight.numel()  # a separate matrix in the real checkpoint
    return n


def describe(config: PretrainedConfig) -> dict:
    """The architecture facts of a config in plain words and numbers."""
    if config.is_encoder_decoder:
        return {
            "architecture": f"{config.model_type} encoder-decoder",
            "layers": f"{config.num_layers} enc + {config.num_decoder_layers} dec",
            "hidden size": config.d_model,
            "feed-forward": f"{config.d_ff} ({config.feed_forward_proj})",
            "attention heads": config.num_heads,
            "key/value heads": f"{config.num_heads} (multi-head)",
            "vocabulary": config.vocab_size,
            "context (tokens)": getattr(config, "n_positions", STUDENT_CONTEXT),
            "positions": "relative (bucketed)",
            "tied lm_head": lm_head_tied(config),
        }
    mq = getattr(config, "multi_query", False)
    return {
        "architecture": f"{config.model_type} decoder-only",
        "layers": str(config.n_layer),
        "hidden size": config.n_embd,
        "feed-forward": f"{config.n_inner or 4 * config.n_embd} ({config.activation_function})",
        "attention heads": config.n_head,
        "key/value heads": "1 (multi-query)" if mq else f"{config.n_head} (multi-head)",
        "vocabulary": config.vocab_size,
        "context (tokens)": config.n_positions,
        "positions": "learned absolute",
        "tied lm_head": lm_head_tied(config),
    }


def size_table(configs: dict[str, PretrainedConfig]) -> pd.DataFrame:
    """Parameters and weight memory at fp32 / fp16 / int8 for each named config."""
    counts = {name: count_parameters(cfg) for name, cfg in configs.items()}
    unit, scale = ("GiB", 2**30) if max(counts.values()) > 2**27 else ("MiB", 2**20)
    rows = []
    for name, n in counts.items():
        rows.append(
            {
                "model": name,
                "parameters (M)": round(n / 1e6, 1),
                f"fp32 ({unit})": round(n * 4 / scale, 2),
                f"fp16/bf16 ({unit})": round(n * 2 / scale, 2),
                f"int8 ({unit})": round(n / scale, 2),
            }
        )
    return pd.DataFrame(rows).set_index("model")


def architecture_table(configs: dict[str, PretrainedConfig]) -> pd.DataFrame:
    """Architectures side by side, one column per model."""
    return pd.DataFrame({name: describe(cfg) for name, cfg in configs.items()}).astype(str)


def kv_cache_bytes(config: PretrainedConfig, tokens: int, bytes_per_value: int = 2) -> int:
    """Memory of the key/value cache for one sequence of `tokens` (why multi-query matters)."""
    if config.is_encoder_decoder:
        heads, layers, dim = config.num_heads, config.num_decoder_layers, config.d_kv
    else:
        heads = 1 if getattr(config, "multi_query", False) else config.n_head
        layers, dim = config.n_layer, config.n_embd // config.n_head
    return 2 * layers * heads * dim * tokens * bytes_per_value


def multi_head_twin(config: PretrainedConfig) -> PretrainedConfig | None:
    """The same decoder-only config with multi-head attention (`multi_query=False`); None when it is not multi-query."""
    if config.is_encoder_decoder or not getattr(config, "multi_query", False):
        return None
    return type(config)(**(config.to_dict() | {"multi_query": False}))


def kv_cache_table(configs: dict[str, PretrainedConfig], tokens: int = 2048, bytes_per_value: int = 2) -> pd.DataFrame:
    """KV cache of one `tokens`-long sequence per model, with each multi-query model's multi-head twin as a comparison row."""
    named: dict[str, PretrainedConfig] = {}
    for name, config in configs.items():
        named[name] = config
        if (twin := multi_head_twin(config)) is not None:
            named[f"{name}, multi-head (comparison)"] = twin
    column = f"KV cache, {tokens} tokens, {8 * bytes_per_value}-bit (MiB)"
    rows = [{"model": name, "key/value heads": describe(config)["key/value heads"],
             column: round(kv_cache_bytes(config, tokens, bytes_per_value) / 2**20, 1)} for name, config in named.items()]
    return pd.DataFrame(rows).set_index("model")


# --------------------------------------------------------------------------- tokenizers


def profile_tokenizers(cfg: Config) -> dict[str, PreTrainedTokenizerBase]:
    """The run's tokenizers: teacher, student as published, and the student made code-safe."""
    transformers.logging.set_verbosity_error()  # we count tokens of whole files: no "longer than 512" warnings
    student = load_tokenizer(cfg.student)
    return {
        "teacher": load_tokenizer(cfg.teacher),
        "student (raw)": student,
        "student (code-safe)": make_code_safe(student),
    }


def token_counts(tokenizers: dict[str, PreTrainedTokenizerBase], texts: list[str]) -> pd.DataFrame:
    """Tokens per text for each tokenizer (one column each)."""
    return pd.DataFrame({name: [len(encode_text(tok, t)) for t in texts] for name, tok in tokenizers.items()})


def roundtrip_table(tokenizers: dict[str, PreTrainedTokenizerBase], texts: dict[str, str]) -> pd.DataFrame:
    """For each file and tokenizer: does encode then decode give the file back byte for byte?"""
    return pd.DataFrame(
        {name: [roundtrips(tok, t) for t in texts.values()] for name, tok in tokenizers.items()},
        index=pd.Index(list(texts), name="file"),
    )


def roundtrip_report(folder: str | Path, cfg: Config, show_files: bool = True) -> str:
    """Text report for `python -m utils roundtrip DIR`: a per-file table and the rate per tokenizer."""
    texts = read_moon_texts(folder)
    files = list(texts)
    table = roundtrip_table(profile_tokenizers(cfg), texts)
    lines = [f"tokenizers of profile {cfg.profile!r}: teacher {cfg.teacher}, student {cfg.student}", ""]
    if show_files:
        lines.append(table.replace({True: "ok", False: "DAMAGED"}).to_string())
        lines.append("")
    rates = (table.mean() * 100).round(1)
    lines.append(f"round-trip rate over {len(files)} files under {folder}:")
    for name, rate in rates.items():
        lines.append(f"  {name:<22} {rate:5.1f}%  ({int(table[name].sum())}/{len(files)})")
    return "\n".join(lines)


def visible(text: str) -> str:
    """Whitespace made visible: newline ⏎, tab →, space ·."""
    return text.replace(" ", "·").replace("\t", "→").replace("\n", "⏎\n")


def diff_html(original: str, damaged: str, max_chars: int = 1500) -> str:
    """A character-level diff as HTML: lost text struck red, added text green, whitespace visible."""
    sm = difflib.SequenceMatcher(None, original[:max_chars], damaged[:max_chars], autojunk=False)
    out = []
    for op, a0, a1, b0, b1 in sm.get_opcodes():
        if op == "equal":
            out.append(html.escape(original[a0:a1]))
            continue
        if a1 > a0:
            out.append(f'<del style="background:#fdd;color:#900">{html.escape(visible(original[a0:a1]))}</del>')
        if b1 > b0:
            out.append(f'<ins style="background:#dfd;color:#060">{html.escape(visible(damaged[b0:b1]))}</ins>')
    return f'<pre style="font-size:12px;line-height:1.35;white-space:pre-wrap">{"".join(out)}</pre>'


def segment_fit(tokenizers: dict[str, PreTrainedTokenizerBase], texts: list[str], window_lines: int = 20) -> pd.DataFrame:
    """Tokens per window of `window_lines` lines for each tokenizer, to see what segment length fits both contexts."""
    rows = []
    for text in texts:
        lines = text.splitlines(keepends=True)
        for i in range(0, len(lines), window_lines):
            chunk = "".join(lines[i : i + window_lines])
            rows.append({name: len(encode_text(tok, chunk)) for name, tok in tokenizers.items()})
    return pd.DataFrame(rows)
