"""Load teacher and student by hub id or local path through one code path, with clear errors."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import torch
import transformers
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from .config import UserError
from .tiny import TINY_NAMES, ensure_tiny_model, ensure_tiny_tokenizer


def resolve(name: str) -> str:
    """A loadable name: tiny models are built on first use, local paths must exist, hub ids pass through."""
    if name in TINY_NAMES:
        return str(ensure_tiny_model(name))
    if name.startswith((".", "/", "~")) or name.count("/") > 1 or Path(name).exists():
        path = Path(name).expanduser()
        if not path.exists():
            raise UserError(f"model path {name!r} does not exist: give an existing folder, a hub id, or 'tiny-teacher' / 'tiny-student'")
        return str(path)
    return name


def _explain(name: str, err: Exception) -> UserError:
    """Turn a loading failure into one sentence naming the problem and the fix."""
    text = f"{type(err).__name__}: {err}"
    if "gated" in text.lower() or "401" in text or "403" in text:
        return UserError(f"{name!r} is gated or private: accept its licence on the hub and log in (`hf auth login`, or set HF_TOKEN)")
    network = ("couldn't connect", "offline", "Connection", "Name or service", "Temporary failure", "timed out", "Network")
    if any(s in text for s in network):
        return UserError(
            f"cannot fetch {name!r}: no network (or HF_HUB_OFFLINE=1) and it is not in the local cache: "
            "use profile='tiny', or connect and log in to the hub (`hf auth login`)"
        )
    if "not a valid model identifier" in text or "404" in text or "Repository Not Found" in text:
        return UserError(f"unknown model {name!r}: check the hub id (e.g. {'bigcode/gpt_bigcode-santacoder'!r}) or give a local folder")
    return UserError(f"could not load {name!r} ({text.splitlines()[0][:200]})")


def load_tokenizer(name: str) -> PreTrainedTokenizerBase:
    """Tokenizer of a model (hub id, local path or tiny name)."""
    path = str(ensure_tiny_tokenizer(name)) if name in TINY_NAMES else resolve(name)
    try:
        return AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as err:
        raise _explain(name, err) from None


def load_model_config(name: str) -> PretrainedConfig:
    """Configuration only (no weights) of a model."""
    path = resolve(name)
    try:
        return AutoConfig.from_pretrained(path)
    except (OSError, ValueError) as err:
        raise _explain(name, err) from None


def pick_device(device: str = "auto") -> torch.device:
    """`cuda` when asked for or available under `auto`, else `cpu`."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("device='cuda' but no GPU is visible: use device='auto' or 'cpu'")
    return torch.device(device)


def sync(device: torch.device) -> None:
    """Wait for queued GPU work, so a timer reads the work done (a no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with `n` CPU threads in torch (None: torch's setting as is), restored afterwards."""
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def pick_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """fp32 on CPU; on a GPU bf16 where supported, else fp16 (or what the user asked for)."""
    if dtype == "auto":
        if device.type != "cuda":
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    try:
        return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]
    except KeyError:
        raise UserError(f"unknown dtype {dtype!r}: use auto, float32, float16 or bfloat16") from None


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """Silence transformers' load-time notices (flan-t5's untied lm_head, which is how T5 v1.1 is built) and its
    "Loading weights" bar (a fraction of a second here, left behind as a frozen widget in saved notebooks)."""
    level, bars = transformers.logging.get_verbosity(), transformers.logging.is_progress_bar_enabled()
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    try:
        yield
    finally:
        transformers.logging.set_verbosity(level)
        if bars:
            transformers.logging.enable_progress_bar()


def _load(cls, name: str, device: str, dtype: str) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    path = resolve(name)
    dev = pick_device(device)
    try:
        with quiet_loading():
            model = cls.from_pretrained(path, dtype=pick_dtype(dtype, dev))
    except (OSError, ValueError) as err:
        raise _explain(name, err) from None
    return model.to(dev).eval(), load_tokenizer(name)


def load_teacher(name: str, device: str = "auto", dtype: str = "auto") -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The decoder-only teacher (santacoder or the tiny one) and its tokenizer."""
    return _load(AutoModelForCausalLM, name, device, dtype)


def load_student(name: str, device: str = "auto", dtype: str = "float32") -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The encoder-decoder student (flan-t5 or the tiny one) and its tokenizer, as published."""
    return _load(AutoModelForSeq2SeqLM, name, device, dtype)
