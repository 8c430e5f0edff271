"""Rationales (notebook 04): an OpenAI-compatible chat model explains what each missing middle must do.

One client path for every server (OpenAI, vLLM, Ollama, `transformers serve`): the `openai`
package's chat completions, with bounded concurrency, tenacity retries (429 / 5xx / timeouts,
`Retry-After` honoured), a cost estimate and a spending limit checked before every request,
an append-only cache that makes reruns resume without paying twice, and a quality gate.

On the tiny profile the server is real but local: `transformers serve` on 127.0.0.1 with the
"tiny explainer" built here, a ~0.4M-parameter chat model trained in under a minute to write
rule-based English about the gap. Its answers are plumbing, not quality.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import math
import os
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlparse

from .config import REPO_ROOT, Config, UserError, cache_dir

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------- constants

PROMPT_VERSION = "v1"  # bump when SYSTEM_PROMPT / USER_TEMPLATE / FEW_SHOT change: cached answers are keyed by it
OPENAI_BASE_URL = "https://api.openai.com/v1"
LOCAL_EXPLAINER = "tiny-explainer"
PLACEHOLDER_KEY = "local-no-key"  # sent only to loopback servers, which need no key
CHARS_PER_TOKEN = 3.0  # token estimate: ~4 chars/token for English, code is denser, so 3 errs on the expensive side
MESSAGE_OVERHEAD_TOKENS = 4  # chat formatting tokens per message
RETRY_AFTER_CAP_S = 120.0  # a server's Retry-After is honoured up to this

# USD per 1M tokens (input, output), OpenAI standard tier, as published on openai.com/api/pricing.
# Prices change: check before a paid run, or pass your own table / set rationale_price_per_mtok.
PRICES_CHECKED = "2025-08-07"
PRICES_USD_PER_MTOK: Mapping[str, tuple[float, float]] = MappingProxyType(
    {
        "gpt-4o-mini": (0.15, 0.60),
        "gpt-4o": (2.50, 10.00),
        "gpt-4.1-nano": (0.10, 0.40),
        "gpt-4.1-mini": (0.40, 1.60),
        "gpt-4.1": (2.00, 8.00),
        "gpt-5-nano": (0.05, 0.40),
        "gpt-5-mini": (0.25, 2.00),
        "gpt-5": (1.25, 10.00),
    }
)

SYSTEM_PROMPT = (
    "You are a senior MoonScript developer who explains code to a student. "
    "Answer in plain English sentences, without code blocks."
)

USER_TEMPLATE = """Below is a piece of MoonScript code with a gap. The code between <middle> and </middle> was removed from the file; the code before and after it is kept.

Explain in at most {max_words} words what the missing code has to do, given the code around it: what it must define, compute or call, and why the code after the gap needs it. Name the identifiers involved. Do not repeat the code and do not use code blocks.

<before>
{prefix}</before>
<middle>
{middle}</middle>
<after>
{suffix}</after>"""

# hand-written examples for few-shot prompting (prefix, middle, suffix, answer)
FEW_SHOT: tuple[tuple[str, str, str, str], ...] = (
    (
        "class Stack\n\tnew: =>\n\t\t@items = {}\n\n",
        "\tpush: (value) =>\n\t\ttable.insert @items, value\n",
        "\n\tpop: =>\n\t\ttable.remove @items\n",
        "The missing code has to define the method push, which takes a value and appends it to @items "
        "with table.insert. It mirrors pop below, which removes the last element, so the class works as a stack.",
    ),
    (
        "total = (prices) ->\n\tsum = 0\n",
        "\tfor p in *prices\n\t\tsum += p\n",
        "\tsum\n",
        "The missing code has to loop over every entry of prices and add it to sum, "
        "so that the function can return the total on the last line.",
    ),
)

REFUSAL_RE = re.compile(
    r"\b(i'?m sorry|i am sorry|i apologi[sz]e|i cannot|i can'?t|i can not|i'?m unable|i am unable|i won'?t|as an ai\b)",
    re.IGNORECASE,
)
_PROSE_WORD_RE = re.compile(r"[(\"'“]?[A-Za-z][a-z'’-]*[.,;:!?)\"”]*")
_SECRET_RE = re.compile(r"(sk-[A-Za-z0-9_\-*.]{6,}|Bearer\s+\S+)")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- prompt


def prompt_id(cfg: Config) -> str:
    """The prompt's identity, stored with every row and part of the cache key (version, word limit, shots)."""
    return f"{PROMPT_VERSION}-w{cfg.rationale_max_words}-fs{cfg.rationale_few_shot}"


def build_messages(prefix: str, middle: str, suffix: str, max_words: int = 60, few_shot: int = 0) -> list[dict]:
    """Chat messages asking to explain, in at most `max_words` words, what the missing `middle` must do."""
    if not 0 <= few_shot <= len(FEW_SHOT):
        raise UserError(f"rationale_few_shot={few_shot}: choose 0 to {len(FEW_SHOT)}")

    def user(p: str, m: str, s: str) -> dict:
        return {"role": "user", "content": USER_TEMPLATE.format(max_words=max_words, prefix=p, middle=m, suffix=s)}

    messages = [{"role": "system", "content": SYSTEM_PROMPT}]
    for p, m, s, answer in FEW_SHOT[:few_shot]:
        messages += [user(p, m, s), {"role": "assistant", "content": answer}]
    messages.append(user(prefix, middle, suffix))
    return messages


def row_messages(row: Mapping[str, Any], cfg: Config) -> list[dict]:
    """The messages for one FIM row under `cfg`'s prompt settings."""
    return build_messages(row["prefix"], row["middle"], row["suffix"], cfg.rationale_max_words, cfg.rationale_few_shot)


# --------------------------------------------------------------------------- endpoint and key


@dataclass(frozen=True)
class Endpoint:
    """Where requests go: base URL, the model name sent, the name used in cache keys, and who started it."""

    base_url: str
    model: str
    cache_model: str
    started_here: bool = False


def is_loopback(url: str) -> bool:
    """True when `url` points at this machine (127.0.0.0/8, ::1 or localhost)."""
    host = (urlparse(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _serves_locally(cfg: Config) -> bool:
    return cfg.rationale_base_url is None and (
        cfg.rationale_model == LOCAL_EXPLAINER or Path(cfg.rationale_model).expanduser().is_dir()
    )


def _colab_secret(name: str) -> str | None:
    if "google.colab" not in sys.modules:
        return None
    try:  # pragma: no cover - only on Colab
        from google.colab import userdata

        return userdata.get(name)
    except Exception:  # noqa: BLE001 - secret missing or notebook access not granted
        return None


def key_source(cfg: Config, endpoint: Endpoint | None = None) -> str:
    """Where the API key will come from, in words (never the key itself)."""
    name = cfg.rationale_api_key_env
    if (endpoint is not None and endpoint.started_here) or (endpoint is None and _serves_locally(cfg)):
        return f"placeholder {PLACEHOLDER_KEY!r} (our own local server needs no key)"
    if os.environ.get(name, "").strip():
        return f"environment variable {name} (set)"
    if _colab_secret(name):
        return f"Colab secret {name}"
    base_url = endpoint.base_url if endpoint else (cfg.rationale_base_url or OPENAI_BASE_URL)
    if is_loopback(base_url):
        return f"placeholder {PLACEHOLDER_KEY!r} (loopback server)"
    return f"missing: set {name}"


def resolve_api_key(base_url: str, env_var: str = "OPENAI_API_KEY", started_here: bool = False) -> str:
    """The API key for `base_url`: env variable, then Colab secret; a placeholder only for loopback servers."""
    if started_here:
        return PLACEHOLDER_KEY
    key = os.environ.get(env_var, "").strip() or (_colab_secret(env_var) or "").strip()
    if key:
        return key
    if is_loopback(base_url):
        return PLACEHOLDER_KEY
    raise UserError(
        f"no API key for {base_url}: set the environment variable {env_var} (on Colab: add a secret named {env_var} "
        "and allow this notebook to read it); never type the key into a notebook cell"
    )


@contextlib.contextmanager
def rationale_endpoint(cfg: Config, verbose: bool = True) -> Iterator[Endpoint]:
    """The chat endpoint for `cfg`: a local `transformers serve` started here, or the configured / OpenAI URL."""
    if _serves_locally(cfg):
        from .server import local_server

        if cfg.rationale_model == LOCAL_EXPLAINER:
            path, name = ensure_tiny_explainer(verbose=verbose), f"{LOCAL_EXPLAINER}-v{EXPLAINER_VERSION}"
        else:
            path = Path(cfg.rationale_model).expanduser().resolve()
            name = path.name
        with local_server(str(path)) as url:
            # transformers serve is pinned to the folder it serves: requests must name exactly that folder
            yield Endpoint(base_url=url, model=str(path), cache_model=name, started_here=True)
        return
    base_url = cfg.rationale_base_url or OPENAI_BASE_URL
    yield Endpoint(base_url=base_url, model=cfg.rationale_model, cache_model=cfg.rationale_model)


def make_client(endpoint: Endpoint, cfg: Config) -> Any:
    """An `openai.OpenAI` client for `endpoint` with its own retries off (tenacity is the one retry layer)."""
    import openai

    key = resolve_api_key(endpoint.base_url, cfg.rationale_api_key_env, endpoint.started_here)
    return openai.OpenAI(base_url=endpoint.base_url, api_key=key, max_retries=0, timeout=cfg.rationale_timeout_s)


def describe_endpoint(cfg: Config, prices: Mapping[str, tuple[float, float]] | None = None) -> Any:
    """Where this run's requests will go, with which model, key source and price (no secrets), as a table."""
    import pandas as pd

    if _serves_locally(cfg):
        server = "transformers serve on 127.0.0.1, started and stopped by this code"
    else:
        server = cfg.rationale_base_url or OPENAI_BASE_URL
    p = _cfg_price(cfg, prices)
    rows = {"server": server, "model": cfg.rationale_model, "API key": key_source(cfg),
            "price ($ per 1M tokens in / out)": f"{p[0]:g} / {p[1]:g}", "prompt version": prompt_id(cfg),
            "concurrency": cfg.rationale_concurrency, "retries": cfg.rationale_retries,
            "max_cost_usd": cfg.max_cost_usd, "dry_run": cfg.dry_run}
    return pd.DataFrame({"setting": list(rows), "value": [str(v) for v in rows.values()]}).set_index("setting")

def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """`text` with the given secrets and anything shaped like an API key or bearer token masked."""
    for s in secrets:
        if s and len(s) >= 4 and s != PLACEHOLDER_KEY:
            text = text.replace(s, "***")
    return _SECRET_RE.sub("***", text)


# --------------------------------------------------------------------------- cost


def estimate_tokens(text: str) -> int:
    """Token estimate without a tokenizer: characters / CHARS_PER_TOKEN, rounded up."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def estimate_request_tokens(messages: list[dict], max_tokens: int) -> tuple[int, int]:
    """(input, output) tokens of one request: estimated prompt tokens, and the completion limit as output."""
    n_in = sum(estimate_tokens(m["content"]) + MESSAGE_OVERHEAD_TOKENS for m in messages) + 3
    return n_in, max_tokens


def price_for(
    model: str,
    base_url: str | None,
    prices: Mapping[str, tuple[float, float]] | None = None,
    override: tuple[float, float] | None = None,
    local: bool = False,
) -> tuple[float, float]:
    """(input, output) USD per 1M tokens for `model`: the override, 0 on local servers, else the table."""
    if override is not None:
        return float(override[0]), float(override[1])
    if local or (base_url is not None and is_loopback(base_url)):
        return 0.0, 0.0
    table = PRICES_USD_PER_MTOK if prices is None else prices
    matches = [name for name in table if model == name or model.startswith(name + "-")]
    if not matches:
        raise UserError(
            f"no price known for model {model!r}: set rationale_price_per_mtok=(input, output) in USD per 1M tokens, "
            f"or pass a price table (known: {', '.join(table)})"
        )
    return tuple(table[max(matches, key=len)])  # type: ignore[return-value]


def _cfg_price(cfg: Config, prices: Mapping[str, tuple[float, float]] | None) -> tuple[float, float]:
    return price_for(cfg.rationale_model, cfg.rationale_base_url or OPENAI_BASE_URL, prices,
                     cfg.rationale_price_per_mtok, local=_serves_locally(cfg))


def cost_usd(tokens_in: int, tokens_out: int, price: tuple[float, float]) -> float:
    """Dollar cost of a request at `price` (USD per 1M input / output tokens)."""
    return (tokens_in * price[0] + tokens_out * price[1]) / 1e6


def price_table(prices: Mapping[str, tuple[float, float]] | None = None) -> Any:
    """The price table as a DataFrame (USD per 1M tokens), with the date it was checked."""
    import pandas as pd

    table = PRICES_USD_PER_MTOK if prices is None else prices
    return pd.DataFrame(
        [{"model": m, "input $/1M tok": p[0], "output $/1M tok": p[1], "checked": PRICES_CHECKED} for m, p in table.items()]
    ).set_index("model")


def estimate_cost(
    fim: Any,
    cfg: Config,
    prices: Mapping[str, tuple[float, float]] | None = None,
    pending_only: bool = False,
    model: str | None = None,
) -> Any:
    """Per-split table of requests, estimated tokens and USD (output at the completion limit: an upper bound).

    `model` prices the same requests for another model (e.g. to show what OpenAI would charge);
    `pending_only` leaves out rows already answered in the cache.
    """
    import pandas as pd

    if model is not None:
        price = price_for(model, OPENAI_BASE_URL, prices)
    else:
        price = _cfg_price(cfg, prices)
    done = _done_ids(cfg) if pending_only else set()
    rows = []
    for split, ds in fim.items():
        n = n_in = n_out = 0
        for row in ds.select_columns(["id", "prefix", "middle", "suffix"]):
            if row["id"] in done:
                continue
            i, o = estimate_request_tokens(row_messages(row, cfg), cfg.rationale_max_tokens)
            n, n_in, n_out = n + 1, n_in + i, n_out + o
        rows.append({"split": split, "requests": n, "input tokens": n_in, "output tokens (max)": n_out,
                     "usd": cost_usd(n_in, n_out, price)})
    table = pd.DataFrame(rows)
    total = {"split": "total", **{c: table[c].sum() for c in table.columns if c != "split"}}
    table = pd.concat([table, pd.DataFrame([total])], ignore_index=True).set_index("split")
    table["usd"] = table["usd"].round(4)
    return table


# --------------------------------------------------------------------------- quality gate


def count_words(text: str | None) -> int:
    """Whitespace-separated words of `text` (0 for None)."""
    return len(text.split()) if text else 0


def check_rationale(text: str | None, max_words: int = 60, min_words: int = 6) -> str | None:
    """Why an answer is unusable ('empty', 'refusal', 'code_only', 'too_short'), or None if it passes.

    Over-long answers pass (they are counted in the statistics); `max_words` is kept for symmetry.
    """
    if text is None or not text.strip():
        return "empty"
    t = text.strip()
    if REFUSAL_RE.search(t):
        return "refusal"
    prose = re.sub(r"```.*?(```|$)", " ", t, flags=re.S)
    words = prose.split()
    if "```" in t and len(words) < min_words:
        return "code_only"
    if words and sum(bool(_PROSE_WORD_RE.fullmatch(w)) for w in words) / len(words) < 0.5:
        return "code_only"
    if len(words) < min_words:
        return "too_short"
    return None


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w@]+", " ", text.lower()).split())


# --------------------------------------------------------------------------- cache


def cache_path(cfg: Config) -> Path:
    """artifacts/<run>/rationale/cache.jsonl: one JSON line per answered (or failed) row."""
    from .artifacts import stage_dir

    return stage_dir(cfg, "rationale") / "cache.jsonl"


def load_cache(path: str | Path) -> dict[tuple[str, str, str], dict]:
    """Latest record per (id, prompt_version, model); a half-written last line (a killed run) is skipped."""
    out: dict[tuple[str, str, str], dict] = {}
    path = Path(path)
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
            key = (rec["id"], rec["prompt_version"], rec["model"])
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
        if out.get(key, {}).get("status") in ("ok", "rejected") and rec.get("status") == "failed":
            continue  # an answer already paid for is never replaced by a later failure
        out[key] = rec
    return out


def _cache_model(cfg: Config) -> str:
    if cfg.rationale_base_url is None and cfg.rationale_model == LOCAL_EXPLAINER:
        return f"{LOCAL_EXPLAINER}-v{EXPLAINER_VERSION}"
    if _serves_locally(cfg):
        return Path(cfg.rationale_model).expanduser().resolve().name
    return cfg.rationale_model


def _done_ids(cfg: Config) -> set[str]:
    pid, model = prompt_id(cfg), _cache_model(cfg)
    return {k[0] for k, r in load_cache(cache_path(cfg)).items()
            if k[1] == pid and k[2] == model and r.get("status") in ("ok", "rejected")}


# --------------------------------------------------------------------------- requests


class _Fatal(Exception):
    """A problem with the whole run (bad key, unknown model), not with one row."""


def _retry_after_s(exc: BaseException | None) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) / scale)
        except ValueError:
            try:
                from email.utils import parsedate_to_datetime

                return max(0.0, (parsedate_to_datetime(value) - datetime.now(timezone.utc)).total_seconds())
            except (TypeError, ValueError):
                return None
    return None


def _is_transient(exc: BaseException) -> bool:
    import openai

    if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError)):
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return False


def _make_retrying(cfg: Config) -> Any:
    """tenacity: exponential backoff with full jitter, or the server's Retry-After when it sends one."""
    import tenacity

    backoff = tenacity.wait_random_exponential(multiplier=cfg.rationale_backoff_s, max=cfg.rationale_backoff_max_s)

    def wait(state: tenacity.RetryCallState) -> float:
        after = _retry_after_s(state.outcome.exception() if state.outcome else None)
        if after is not None:
            return min(after, RETRY_AFTER_CAP_S) + random.uniform(0, cfg.rationale_backoff_s / 10)
        return backoff(state)

    def log(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        status = getattr(exc, "status_code", "")
        logger.info("retrying after %s %s (attempt %d, waiting %.2fs)", type(exc).__name__, status,
                    state.attempt_number, state.next_action.sleep if state.next_action else 0.0)

    return tenacity.Retrying(
        stop=tenacity.stop_after_attempt(cfg.rationale_retries + 1),
        wait=wait,
        retry=tenacity.retry_if_exception(_is_transient),
        before_sleep=log,
        reraise=True,
    )


def _uses_completion_tokens(model: str) -> bool:
    """OpenAI's reasoning models take `max_completion_tokens` and no temperature."""
    return bool(re.match(r"(o\d|gpt-5)", model.split("/")[-1]))


def _chat(client: Any, endpoint: Endpoint, messages: list[dict], cfg: Config, temperature: float,
          seed: int | None) -> tuple[str, int | None, int | None, int]:
    """One chat completion through tenacity; returns (text, prompt tokens, completion tokens, attempts)."""
    kwargs: dict[str, Any] = {"model": endpoint.model, "messages": messages}
    if _uses_completion_tokens(endpoint.model):
        kwargs["max_completion_tokens"] = cfg.rationale_max_tokens
    else:
        kwargs["max_tokens"] = cfg.rationale_max_tokens
        kwargs["temperature"] = temperature
    if seed is not None:
        kwargs["seed"] = seed
    attempts = 0
    for attempt in _make_retrying(cfg):
        with attempt:
            attempts += 1
            resp = client.chat.completions.create(**kwargs)
    text = (resp.choices[0].message.content or "") if resp.choices else ""
    usage = getattr(resp, "usage", None)
    return text.strip(), getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None), attempts


@dataclass
class _Ledger:
    """Money spent and reserved by requests in flight, checked before each request is sent."""

    limit: float
    price: tuple[float, float]
    spent: float = 0.0
    reserved: float = 0.0

    def __post_init__(self) -> None:
        import threading

        self.lock = threading.Lock()

    def reserve(self, est: float) -> bool:
        with self.lock:
            if self.spent + self.reserved + est > self.limit + 1e-12:
                return False
            self.reserved += est
            return True

    def settle(self, est: float, actual: float) -> None:
        with self.lock:
            self.reserved -= est
            self.spent += actual


def _explain_row(client: Any, endpoint: Endpoint, row: dict, cfg: Config, ledger: _Ledger, secret: str) -> dict:
    """Ask for one row's rationale (re-asking on a failed quality gate); never raises for a row's own failure."""
    import openai

    messages = row_messages(row, cfg)
    est_in, est_out = estimate_request_tokens(messages, cfg.rationale_max_tokens)
    est = cost_usd(est_in, est_out, ledger.price)
    rec: dict[str, Any] = {"id": row["id"], "prompt_version": prompt_id(cfg), "model": endpoint.cache_model,
                           "status": "failed", "rationale": None, "reason": None, "error": None, "requests": 0,
                           "attempts": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0}
    rejected: list[str] = []
    for k in range(1 + max(0, cfg.rationale_quality_retries)):
        if k > 0 and not ledger.reserve(est):
            break  # budget left for this answer but not for a re-ask
        temperature, seed = (cfg.rationale_temperature, None) if k == 0 else (0.7, cfg.seed + k)
        try:
            text, p_tok, c_tok, attempts = _chat(client, endpoint, messages, cfg, temperature, seed)
        except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as exc:
            ledger.settle(est, 0.0)
            raise _Fatal(f"{type(exc).__name__} ({exc.status_code}): {redact(str(exc), (secret,))[:300]}") from None
        except Exception as exc:  # noqa: BLE001 - recorded on the row and retried next run
            ledger.settle(est, est if _is_transient(exc) else 0.0)  # a timed-out request may have been billed
            rec["requests"] += 1
            status = getattr(exc, "status_code", None)
            rec["error"] = redact(f"{type(exc).__name__}{f' {status}' if status else ''}: {exc}", (secret,))[:400]
            break
        p_tok = p_tok if p_tok is not None else est_in
        c_tok = c_tok if c_tok is not None else estimate_tokens(text)
        actual = cost_usd(p_tok, c_tok, ledger.price)
        ledger.settle(est, actual)
        rec["requests"] += 1
        rec["attempts"] += attempts
        rec["prompt_tokens"] += p_tok
        rec["completion_tokens"] += c_tok
        rec["cost_usd"] += actual
        reason = check_rationale(text, cfg.rationale_max_words, cfg.rationale_min_words)
        if reason is None:
            rec.update(status="ok", rationale=text, reason=None, error=None)
            break
        rejected.append(text)
        rec.update(status="rejected", reason=reason, error=None)
    if rejected and rec["status"] == "rejected":
        rec["rejected_text"] = redact(rejected[-1], (secret,))[:500]
    rec["time"] = _now()
    return rec


def _append(fh: Any, rec: dict) -> None:
    fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    fh.flush()
    os.fsync(fh.fileno())


# --------------------------------------------------------------------------- the run


def generate_rationales(
    cfg: Config,
    fim: Any = None,
    prices: Mapping[str, tuple[float, float]] | None = None,
    progress: bool = True,
    save: bool = True,
) -> Any:
    """Explain every FIM row not yet in the cache, then save fim columns + rationale columns as the 'rationale' stage.

    Safe against a paid API: refuses (UserError) when the estimate for the pending rows exceeds
    `cfg.max_cost_usd`, and stops sending before any request that could take spending past it.
    `cfg.dry_run` only prints the estimate and returns the dataset built from the cache, unsaved.
    Rows that fail are recorded (status 'failed', with the error) and asked again on the next run.
    """
    from .artifacts import load_stage, save_stage, stage_dir, write_json

    fim = load_stage(cfg, "fim") if fim is None else fim
    price = _cfg_price(cfg, prices)
    pid, model_key = prompt_id(cfg), _cache_model(cfg)
    path = cache_path(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    cache = load_cache(path)

    def done(row_id: str) -> bool:
        return cache.get((row_id, pid, model_key), {}).get("status") in ("ok", "rejected")

    todo = [dict(r) for split in fim for r in fim[split].select_columns(["id", "prefix", "middle", "suffix"])
            if not done(r["id"])]
    estimate = sum(cost_usd(*estimate_request_tokens(row_messages(r, cfg), cfg.rationale_max_tokens), price)
                   for r in todo)
    n_rows = sum(len(fim[s]) for s in fim)
    summary: dict[str, Any] = {"prompt_version": pid, "model": model_key, "rows": n_rows, "cached": n_rows - len(todo),
                               "pending": len(todo), "estimated_usd": round(estimate, 6), "max_cost_usd": cfg.max_cost_usd,
                               "price_per_mtok": list(price), "dry_run": cfg.dry_run}
    if progress:
        print(f"{len(todo)} of {n_rows} rows to explain ({n_rows - len(todo)} cached); "
              f"estimated cost ${estimate:.4f} (limit ${cfg.max_cost_usd:.2f})")
    if cfg.dry_run:
        if progress:
            print("dry run: nothing sent")
        return _assemble(fim, cache, pid, model_key)
    if estimate > cfg.max_cost_usd:
        raise UserError(
            f"the estimated cost ${estimate:.2f} of {len(todo)} requests exceeds max_cost_usd=${cfg.max_cost_usd:.2f}: "
            "raise max_cost_usd, or make fewer rows (max_examples) before spending"
        )

    stopped = None
    stats = Counter()
    if todo:
        ledger = _Ledger(limit=cfg.max_cost_usd, price=price)
        with rationale_endpoint(cfg, verbose=progress) as endpoint:
            stopped = _run_requests(todo, cfg, endpoint, ledger, cache, stats, progress)
        summary["spent_usd"] = round(ledger.spent, 6)
    if stopped == "budget" and progress:
        print(f"stopped: the next request could take spending past max_cost_usd=${cfg.max_cost_usd:.2f}; "
              "the rows left are marked 'skipped' and will be asked on the next run")
    summary.update(stopped=stopped, this_run=dict(stats))
    out = _assemble(fim, cache, pid, model_key)
    summary["status"] = dict(Counter(s for split in out for s in out[split]["rationale_status"]))
    if save:
        save_stage(out, stage_dir(cfg, "rationale"))
        write_json(stage_dir(cfg, "rationale") / "run_summary.json", summary)
    return out


def _run_requests(todo: list[dict], cfg: Config, endpoint: Endpoint, ledger: _Ledger, cache: dict, stats: Counter,
                  progress: bool) -> str | None:
    """Send the rows through a bounded thread pool; each record is appended to the cache by the worker that got it.

    Returns "budget" when it stopped before a request that could exceed `cfg.max_cost_usd`, else None.
    """
    import threading

    from tqdm.auto import tqdm

    client = make_client(endpoint, cfg)
    secret = client.api_key
    path = cache_path(cfg)
    lock = threading.Lock()
    width = max(1, cfg.rationale_concurrency)
    stopped = None

    def work(row: dict) -> dict:
        rec = _explain_row(client, endpoint, row, cfg, ledger, secret)
        with lock:  # written the moment it arrives, even if the main loop is being interrupted
            _append(fh, rec)
            cache[(rec["id"], rec["prompt_version"], rec["model"])] = rec
        return rec

    bar = tqdm(total=len(todo), desc="rationales", unit="row", disable=not progress)
    with open(path, "a", encoding="utf-8") as fh, ThreadPoolExecutor(width) as pool:
        if fh.tell() > 0 and not path.read_bytes().endswith(b"\n"):
            fh.write("\n")  # close a line half-written by a killed run
        queue = iter(todo)
        inflight: set[Future] = set()
        try:
            while True:
                while stopped is None and len(inflight) < width:
                    row = next(queue, None)
                    if row is None:
                        break
                    est = cost_usd(*estimate_request_tokens(row_messages(row, cfg), cfg.rationale_max_tokens),
                                   ledger.price)
                    if not ledger.reserve(est):
                        stopped = "budget"
                        break
                    inflight.add(pool.submit(work, row))
                if not inflight:
                    break
                finished, inflight = wait(inflight, return_when=FIRST_COMPLETED)
                for fut in finished:
                    try:
                        rec = fut.result()
                    except _Fatal as exc:
                        raise UserError(
                            f"the server at {endpoint.base_url} refused the run: {exc}; check the API key "
                            f"({cfg.rationale_api_key_env}) and rationale_model={cfg.rationale_model!r}"
                        ) from None
                    stats[rec["status"]] += 1
                    stats["requests"] += rec["requests"]
                    bar.update(1)
                    bar.set_postfix(ok=stats["ok"], failed=stats["failed"], usd=f"{ledger.spent:.4f}")
        finally:
            for fut in inflight:
                fut.cancel()
            bar.close()
    return stopped


def _assemble(fim: Any, cache: dict, pid: str, model_key: str) -> Any:
    """fim rows + rationale, rationale_status, rationale_reason, rationale_error, prompt version, model, duplicate flag."""
    from datasets import DatasetDict

    out = {}
    texts = Counter()
    recs_by_split = {}
    for split in fim:
        recs = [cache.get((i, pid, model_key)) for i in fim[split]["id"]]
        recs_by_split[split] = recs
        texts.update(_norm(r["rationale"]) for r in recs if r and r.get("status") == "ok")
    for split, recs in recs_by_split.items():
        ok = [bool(r and r.get("status") == "ok") for r in recs]
        cols = {
            "rationale": [r["rationale"] if o else None for r, o in zip(recs, ok)],
            "rationale_status": [r["status"] if r else "skipped" for r in recs],
            "rationale_reason": [r.get("reason") if r else None for r in recs],
            "rationale_error": [r.get("error") if r else None for r in recs],
            "rationale_prompt_version": [pid] * len(recs),
            "rationale_model": [model_key] * len(recs),
            "rationale_duplicate": [o and texts[_norm(r["rationale"])] > 1 for r, o in zip(recs, ok)],
        }
        ds = fim[split]
        for name, values in cols.items():
            if name in ds.column_names:
                ds = ds.remove_columns(name)
            ds = ds.add_column(name, values)
        out[split] = ds
    return DatasetDict(out)


# --------------------------------------------------------------------------- statistics


def rationale_stats(ds: Any, max_words: int = 60) -> Any:
    """Per-split counts by status and gate reason, duplicates, and word-length statistics of kept rationales."""
    import pandas as pd

    rows = []
    for split in ds:
        d = ds[split]
        status = Counter(d["rationale_status"])
        reasons = Counter(r for r, s in zip(d["rationale_reason"], d["rationale_status"]) if s == "rejected")
        words = pd.Series([count_words(t) for t in d["rationale"] if t], dtype="float64")
        rows.append({
            "split": split, "rows": len(d), "ok": status["ok"], "failed": status["failed"],
            "skipped": status["skipped"], "rejected": status["rejected"],
            **{f"rejected: {k}": reasons[k] for k in ("empty", "refusal", "code_only", "too_short")},
            "duplicates": sum(d["rationale_duplicate"]),
            f"over {max_words} words": int((words > max_words).sum()),
            "words mean": round(words.mean(), 1) if len(words) else None,
            "words median": words.median() if len(words) else None,
            "words p90": words.quantile(0.9) if len(words) else None,
            "words max": words.max() if len(words) else None,
        })
    return pd.DataFrame(rows).set_index("split")


def gate_examples(max_words: int = 60, min_words: int = 6) -> Any:
    """The quality gate applied to hand-written answers, as a table (for the notebook)."""
    import pandas as pd

    samples = [
        "",
        "I'm sorry, but I cannot help with that request.",
        "```moonscript\n@items[@last] = value\n```",
        "@last += 1; @items[@last] = value",
        "Sets the value.",
        "The missing code has to add one to @last and store value at that index of @items, so pop_back can find it.",
    ]
    return pd.DataFrame([{"answer": s, "verdict": check_rationale(s, max_words, min_words) or "kept"} for s in samples])



def examples_table(ds: Any, split: str = "test", n: int = 5, width: int = 70) -> Any:
    """A few rows side by side: the middle (shortened, newlines shown as ⏎), status and rationale."""
    import pandas as pd

    d = ds[split].select(range(min(n, len(ds[split]))))
    short = [m.replace("\n", "⏎")[:width] + ("…" if len(m) > width else "") for m in d["middle"]]
    return pd.DataFrame({"id": d["id"], "middle": short, "status": d["rationale_status"], "rationale": d["rationale"]})


def length_plot(ds: Any, max_words: int = 60, path: str | Path | None = None) -> Any:
    """Histogram of rationale lengths in words per split, with the prompt's limit; saved to `path` if given."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3))
    for split in ds:
        words = [count_words(t) for t in ds[split]["rationale"] if t]
        if words:
            ax.hist(words, bins=range(0, max(max(words), max_words) + 3, 2), alpha=0.6, label=split)
    ax.axvline(max_words, color="k", linestyle="--", label=f"limit ({max_words} words)")
    ax.set_xlabel("words per rationale")
    ax.set_ylabel("rows")
    ax.legend()
    fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
    return fig


def usage_table(cfg: Config) -> Any:
    """Requests, tokens (estimated vs reported by the server) and dollars of every cached answer of this prompt/model."""
    import pandas as pd

    pid, model = prompt_id(cfg), _cache_model(cfg)
    recs = [r for k, r in load_cache(cache_path(cfg)).items() if k[1] == pid and k[2] == model]
    summary_path = cache_path(cfg).parent / "run_summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    rows = {
        "rows answered (ok + rejected)": sum(r["status"] in ("ok", "rejected") for r in recs),
        "rows failed (asked again next run)": sum(r["status"] == "failed" for r in recs),
        "requests sent": sum(r.get("requests", 0) for r in recs),
        "retried attempts (429 / 5xx / timeouts)": sum(r.get("attempts", 0) - r.get("requests", 0)
                                                                  for r in recs if r["status"] != "failed"),
        "prompt tokens reported by the server": sum(r.get("prompt_tokens", 0) for r in recs),
        "completion tokens reported by the server": sum(r.get("completion_tokens", 0) for r in recs),
        "cost of the cached answers ($)": round(sum(r.get("cost_usd", 0.0) for r in recs), 6),
        "estimated before the last run ($)": summary.get("estimated_usd"),
        "spent in the last run ($)": summary.get("spent_usd", 0.0),
    }
    return pd.DataFrame({"value": pd.Series(rows, dtype=object)})

# --------------------------------------------------------------------------- tiny explainer

EXPLAINER_VERSION = "1"
SAMPLE_DIR = REPO_ROOT / "data" / "moonscript"
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
        out.append((build_messages(prefix, middle, suffix), rule_based_explanation(middle, suffix)))
    return out


def build_tiny_explainer(out: Path, texts: list[str], seed: int = 0, steps: int = 500, verbose: bool = True,
                         n_embd: int = 96, lr: float = 4e-3) -> dict:
    """Train a tiny GPTBigCode chat model to answer rationale prompts with rule-based English; save it to `out`."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPTBigCodeConfig, GPTBigCodeForCausalLM, PreTrainedTokenizerFast

    from .tiny import train_causal_lm

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
    from .tiny import _read_corpus, build_once

    texts = lambda: _read_corpus(Path(corpus_dir or SAMPLE_DIR))  # noqa: E731 (read only when building)
    return build_once(explainer_dir(), lambda tmp: build_tiny_explainer(tmp, texts(), verbose=verbose), LOCAL_EXPLAINER, verbose)
