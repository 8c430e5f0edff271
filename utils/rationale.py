"""Rationales (notebook 04): an OpenAI-compatible chat model explains what each missing middle must do.

One client path for every server (OpenAI, vLLM, Ollama, `transformers serve`): the shared
endpoint client (`utils.endpoint`: the `openai` package's own retries on 429 / 5xx / timeouts,
`Retry-After` honoured, one error message per failure with secrets redacted), bounded
concurrency, a cost estimate and a spending limit checked before every request, an append-only
cache that makes reruns resume without paying twice, and a quality gate.

Only the splits that use rationales are explained (`rationale_splits`, train by default).
On the tiny profile the server is real but local: the deterministic tiny explainer of `utils.tiny`
(a rule-based reader of MoonScript, no model) behind an OpenAI-compatible chat endpoint on
127.0.0.1, so the client, its retries, the cost accounting and the resume all run for real. A local
model folder as `rationale_model` is served by `transformers serve`; the real profiles call an LLM.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pandas as pd
from datasets import DatasetDict
from tqdm.auto import tqdm

from .artifacts import JsonlCache, load_stage, relative, save_figure, save_stage, stage_dir, stage_lock, write_json
from .config import Config, UserError
from .endpoint import FATAL_KINDS, OPENAI_BASE_URL, EndpointClient, EndpointError, Target, is_loopback
from .endpoint import key_source as _key_source
from .server import local_server
from .tiny import EXPLAINER_VERSION, LOCAL_EXPLAINER, serve_tiny_explainer

# --------------------------------------------------------------------------- constants

PROMPT_VERSION = "v1"  # bump when SYSTEM_PROMPT / USER_TEMPLATE / FEW_SHOT change: cached answers are keyed by it
CHARS_PER_TOKEN = 3.0  # token estimate: ~4 chars/token for English, code is denser, so 3 errs on the expensive side
MESSAGE_OVERHEAD_TOKENS = 4  # chat formatting tokens per message
SPLITS = ("train", "valid", "test")
DEAD_AFTER = 8  # this many failed rows and not one answer: the endpoint is dead, stop sending
LENGTH_RETRY_FACTOR = 4  # an empty answer cut by the budget is asked once more with this many times the budget

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


def _serves_locally(cfg: Config) -> bool:
    return cfg.rationale_base_url is None and (
        cfg.rationale_model == LOCAL_EXPLAINER or Path(cfg.rationale_model).expanduser().is_dir()
    )


def key_source(cfg: Config, endpoint: Endpoint | None = None) -> str:
    """Where the API key will come from, in words (never the key itself)."""
    started_here = endpoint.started_here if endpoint is not None else _serves_locally(cfg)
    base_url = endpoint.base_url if endpoint else (cfg.rationale_base_url or OPENAI_BASE_URL)
    return _key_source(base_url, cfg.rationale_api_key_env, started_here)


@contextlib.contextmanager
def rationale_endpoint(cfg: Config, verbose: bool = True) -> Iterator[Endpoint]:
    """The chat endpoint for `cfg`: one started here (the tiny explainer, or `transformers serve` for a local folder), or the configured / OpenAI URL."""
    if _serves_locally(cfg):
        if cfg.rationale_model == LOCAL_EXPLAINER:
            with serve_tiny_explainer() as url:
                if verbose:
                    print(f"the tiny explainer answers on {url} (rule-based, started here, stopped after this stage)")
                yield Endpoint(base_url=str(url), model=LOCAL_EXPLAINER, cache_model=_cache_model(cfg), started_here=True)
            return
        path = Path(cfg.rationale_model).expanduser().resolve()
        with local_server(str(path)) as url:
            # transformers serve is pinned to the folder it serves: requests must name exactly that folder
            yield Endpoint(base_url=str(url), model=str(path), cache_model=path.name, started_here=True)
        return
    base_url = cfg.rationale_base_url or OPENAI_BASE_URL
    yield Endpoint(base_url=base_url, model=cfg.rationale_model, cache_model=cfg.rationale_model)


def rationale_target(cfg: Config, endpoint: Endpoint) -> Target:
    """The rationale endpoint with the settings its error messages name."""
    return Target(base_url=endpoint.base_url, model=endpoint.model, key_env=cfg.rationale_api_key_env,
                  url_setting="rationale_base_url", model_setting="rationale_model",
                  timeout_setting="rationale_timeout_s", timeout_s=cfg.rationale_timeout_s,
                  retries_setting="rationale_retries", max_retries=cfg.rationale_retries,
                  started_here=endpoint.started_here)


def describe_endpoint(cfg: Config, prices: Mapping[str, tuple[float, float]] | None = None) -> Any:
    """Where this run's requests will go, with which model, key source and price (no secrets), as a table."""
    if _serves_locally(cfg) and cfg.rationale_model == LOCAL_EXPLAINER:
        server = "the rule-based tiny explainer behind a chat endpoint on 127.0.0.1, started and stopped by this code"
    elif _serves_locally(cfg):
        server = "transformers serve on 127.0.0.1, started and stopped by this code"
    else:
        server = cfg.rationale_base_url or OPENAI_BASE_URL
    p = _cfg_price(cfg, prices)
    rows = {"server": server, "model": cfg.rationale_model, "API key": key_source(cfg),
            "price ($ per 1M tokens in / out)": f"{p[0]:g} / {p[1]:g}", "prompt version": prompt_id(cfg),
            "splits explained": ", ".join(cfg.rationale_splits), "concurrency": cfg.rationale_concurrency,
            "retries (by the openai client)": cfg.rationale_retries, "timeout (s)": cfg.rationale_timeout_s,
            "max_cost_usd": cfg.max_cost_usd, "dry_run": cfg.dry_run}
    return pd.DataFrame({"setting": list(rows), "value": [str(v) for v in rows.values()]}).set_index("setting")


def is_reasoning_model(model: str) -> bool:
    """OpenAI's reasoning chat models (o1 / o3 / o4-mini, gpt-5): `max_completion_tokens`, `reasoning_effort`, no temperature."""
    name = model.split("/")[-1]
    return bool(re.match(r"(o\d|gpt-5)", name)) and "-chat" not in name


def output_budget(cfg: Config, model: str) -> int:
    """Completion tokens allowed per request: the answer, plus the reasoning allowance for reasoning models."""
    return cfg.rationale_max_tokens + (cfg.rationale_reasoning_tokens if is_reasoning_model(model) else 0)


def rationale_splits(cfg: Config) -> tuple[str, ...]:
    """The splits that get rationales (cfg.rationale_splits), checked."""
    bad = [s for s in cfg.rationale_splits if s not in SPLITS]
    if bad or not cfg.rationale_splits:
        raise UserError(f"rationale_splits={cfg.rationale_splits!r}: choose among {SPLITS} (training uses 'train')")
    return tuple(cfg.rationale_splits)


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


def _cfg_price(cfg: Config, prices: Mapping[str, tuple[float, float]] | None = None) -> tuple[float, float]:
    return price_for(cfg.rationale_model, cfg.rationale_base_url or OPENAI_BASE_URL, prices,
                     cfg.rationale_price_per_mtok, local=_serves_locally(cfg))


def cost_usd(tokens_in: int, tokens_out: int, price: tuple[float, float]) -> float:
    """Dollar cost of a request at `price` (USD per 1M input / output tokens)."""
    return (tokens_in * price[0] + tokens_out * price[1]) / 1e6


def price_table(prices: Mapping[str, tuple[float, float]] | None = None) -> Any:
    """The price table as a DataFrame (USD per 1M tokens), with the date it was checked."""
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

    Only the splits in cfg.rationale_splits are counted: the others are never sent.

    `model` prices the same requests for another model (e.g. to show what OpenAI would charge);
    `pending_only` leaves out rows already answered in the cache.
    """
    if model is not None:
        price = price_for(model, OPENAI_BASE_URL, prices)
    else:
        price = _cfg_price(cfg, prices)
    done = _done_ids(cfg) if pending_only else set()
    budget = output_budget(cfg, model or cfg.rationale_model)
    rows = []
    for split in (s for s in fim if s in rationale_splits(cfg)):
        n = n_in = n_out = 0
        for row in fim[split].select_columns(["id", "prefix", "middle", "suffix"]):
            if row["id"] in done:
                continue
            i, o = estimate_request_tokens(row_messages(row, cfg), budget)
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
    return stage_dir(cfg, "rationale") / "cache.jsonl"


def load_cache(path: str | Path | JsonlCache) -> dict[tuple[str, str, str], dict]:
    """Latest record per (id, prompt_version, model); unreadable lines (a killed run, bad bytes) are skipped."""
    cache = path if isinstance(path, JsonlCache) else JsonlCache(Path(path))
    out: dict[tuple[str, str, str], dict] = {}
    for rec in cache.records():
        try:
            key = (rec["id"], rec["prompt_version"], rec["model"])
        except KeyError:
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


def request_params(model: str, cfg: Config, budget: int, temperature: float, seed: int | None) -> dict:
    """The chat request's parameters: reasoning models get max_completion_tokens and the least reasoning effort."""
    if is_reasoning_model(model):
        effort = "minimal" if model.split("/")[-1].startswith("gpt-5") else "low"
        params: dict[str, Any] = {"max_completion_tokens": budget, "reasoning_effort": effort}
    else:
        params = {"max_tokens": budget, "temperature": temperature}
    if seed is not None:
        params["seed"] = seed
    return params


@dataclass
class _Answer:
    text: str
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    attempts: int


def _chat(client: EndpointClient, messages: list[dict], params: dict) -> _Answer:
    """One chat completion (the client retries transient failures); raises EndpointError when it gives up."""
    resp, retries = client.chat(messages=messages, **params)
    choice = resp.choices[0]
    usage = getattr(resp, "usage", None)
    return _Answer(((choice.message.content if choice.message else None) or "").strip(), choice.finish_reason,
                   getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None), retries + 1)


@dataclass
class _Ledger:
    """Money spent and reserved by requests in flight, checked before each request is sent.

    Hand-written because the client cannot do it: it knows nothing of prices or of a spending limit.
    """

    limit: float
    price: tuple[float, float]
    spent: float = 0.0
    reserved: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

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


def _explain_row(client: EndpointClient, endpoint: Endpoint, row: dict, cfg: Config, ledger: _Ledger) -> dict:
    """Ask for one row's rationale; never raises for the row's own failure (only for the whole run's: EndpointError).

    Two re-asks are hand-written because the client cannot judge an answer: a quality-gate re-ask
    (temperature 0.7) and, for an answer cut by the budget with no text (a reasoning model that
    thought until the limit), one more request with LENGTH_RETRY_FACTOR times the budget.
    Transport retries (429 / 5xx / timeouts) are the client's.
    """
    messages = row_messages(row, cfg)
    budget = output_budget(cfg, endpoint.model)
    est_in, est_out = estimate_request_tokens(messages, budget)
    est = cost_usd(est_in, est_out, ledger.price)  # the caller reserved this for the first request
    rec: dict[str, Any] = {"id": row["id"], "prompt_version": prompt_id(cfg), "model": endpoint.cache_model,
                           "status": "failed", "rationale": None, "reason": None, "error": None, "requests": 0,
                           "attempts": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0}
    rejected: list[str] = []
    quality_asks, grown = 0, False
    while True:
        temperature, seed = (cfg.rationale_temperature, None) if quality_asks == 0 else (0.7, cfg.seed + quality_asks)
        try:
            ans = _chat(client, messages, request_params(endpoint.model, cfg, budget, temperature, seed))
        except EndpointError as exc:
            if exc.kind in FATAL_KINDS:
                ledger.settle(est, 0.0)
                raise
            ledger.settle(est, est if exc.kind in ("timeout", "server_error") else 0.0)  # may have been billed
            rec["requests"] += 1
            rec.update(status="failed", reason=exc.kind, error=str(exc)[:600])
            break
        p_tok = ans.prompt_tokens if ans.prompt_tokens is not None else est_in
        c_tok = ans.completion_tokens if ans.completion_tokens is not None else estimate_tokens(ans.text)
        actual = cost_usd(p_tok, c_tok, ledger.price)
        ledger.settle(est, actual)
        rec["requests"] += 1
        rec["attempts"] += ans.attempts
        rec["prompt_tokens"] += p_tok
        rec["completion_tokens"] += c_tok
        rec["cost_usd"] += actual
        if not ans.text and ans.finish_reason == "length":  # paid for, and nothing came back
            rec.update(status="failed", reason="length", error=(
                f"the answer came back empty: the model used its whole budget of {budget} completion tokens "
                f"(reasoning counts) without writing; raise rationale_reasoning_tokens or rationale_max_tokens"))
            est = cost_usd(est_in, budget * LENGTH_RETRY_FACTOR, ledger.price)
            if grown or not ledger.reserve(est):
                break
            grown, budget = True, budget * LENGTH_RETRY_FACTOR
            continue
        reason = check_rationale(ans.text, cfg.rationale_max_words, cfg.rationale_min_words)
        if reason is None:
            rec.update(status="ok", rationale=ans.text, reason=None, error=None)
            break
        rejected.append(ans.text)
        rec.update(status="rejected", reason=reason, error=None)
        quality_asks += 1
        est = cost_usd(est_in, budget, ledger.price)
        if quality_asks > max(0, cfg.rationale_quality_retries) or not ledger.reserve(est):
            break  # no re-ask left, or budget left for this answer but not for a re-ask
    if rejected and rec["status"] == "rejected":
        rec["rejected_text"] = client.redact(rejected[-1])[:500]
    rec["time"] = _now()
    return rec


# --------------------------------------------------------------------------- the run


def generate_rationales(
    cfg: Config,
    fim: Any = None,
    prices: Mapping[str, tuple[float, float]] | None = None,
    progress: bool = True,
    save: bool = True,
) -> Any:
    """Explain every row of cfg.rationale_splits not yet in the cache, then save fim + rationale columns as the 'rationale' stage.

    Safe against a paid API: refuses (UserError) when the estimate for the pending rows exceeds
    `cfg.max_cost_usd`, and stops sending before any request that could take spending past it.
    `cfg.dry_run` only prints the estimate and returns the dataset built from the cache, unsaved.
    Rows that fail are recorded (status 'failed', with the error) and asked again on the next run;
    when more than half of this run's rows fail, the stage is saved and a UserError says why.
    One run per stage at a time: a second concurrent run stops with a UserError naming the first.
    """
    fim = load_stage(cfg, "fim") if fim is None else fim
    splits = rationale_splits(cfg)
    if cfg.dry_run:
        return _run(cfg, fim, splits, prices, progress, save=False)
    with stage_lock(cfg, "rationale"):
        return _run(cfg, fim, splits, prices, progress, save)


def _run(cfg: Config, fim: Any, splits: tuple[str, ...], prices: Mapping[str, tuple[float, float]] | None,
         progress: bool, save: bool) -> Any:
    """generate_rationales under its lock (or a dry run)."""
    price = _cfg_price(cfg, prices)
    pid, model_key = prompt_id(cfg), _cache_model(cfg)
    store = JsonlCache(cache_path(cfg))
    cache = load_cache(store)
    budget = output_budget(cfg, cfg.rationale_model)

    def done(row_id: str) -> bool:
        return cache.get((row_id, pid, model_key), {}).get("status") in ("ok", "rejected")

    wanted = [dict(r) for split in fim if split in splits
              for r in fim[split].select_columns(["id", "prefix", "middle", "suffix"])]
    todo = [r for r in wanted if not done(r["id"])]
    estimate = sum(cost_usd(*estimate_request_tokens(row_messages(r, cfg), budget), price) for r in todo)
    summary: dict[str, Any] = {"prompt_version": pid, "model": model_key, "splits": list(splits), "rows": len(wanted),
                               "cached": len(wanted) - len(todo), "pending": len(todo),
                               "cache_lines_skipped": store.skipped, "estimated_usd": round(estimate, 6),
                               "max_cost_usd": cfg.max_cost_usd, "price_per_mtok": list(price), "dry_run": cfg.dry_run}
    if progress:
        if store.skipped:
            print(f"{store.skipped} unreadable line(s) of {relative(store.path)} skipped (a torn write or bad bytes)")
        print(f"{len(todo)} of {len(wanted)} rows of {', '.join(splits)} to explain ({len(wanted) - len(todo)} cached); "
              f"estimated cost ${estimate:.4f} (limit ${cfg.max_cost_usd:.2f})")
    if cfg.dry_run:
        if progress:
            print("dry run: nothing sent")
        return _assemble(fim, cache, pid, model_key, splits)
    if estimate > cfg.max_cost_usd:
        raise UserError(
            f"the estimated cost ${estimate:.2f} of {len(todo)} requests exceeds max_cost_usd=${cfg.max_cost_usd:.2f}: "
            "raise max_cost_usd, or make fewer rows (max_examples) before spending"
        )

    stopped, stats, failures = None, Counter(), Counter()
    if todo:
        ledger = _Ledger(limit=cfg.max_cost_usd, price=price)
        with rationale_endpoint(cfg, verbose=progress) as endpoint:
            stopped = _run_requests(todo, cfg, endpoint, ledger, store, cache, stats, failures, progress)
        summary["spent_usd"] = round(ledger.spent, 6)
    if stopped == "budget" and progress:
        print(f"stopped: the next request could take spending past max_cost_usd=${cfg.max_cost_usd:.2f}; "
              "the rows left are marked 'skipped' and will be asked on the next run")
    summary.update(stopped=stopped, this_run=dict(stats))
    out = _assemble(fim, cache, pid, model_key, splits)
    summary["status"] = dict(Counter(s for split in out for s in out[split]["rationale_status"]))
    if save:
        save_stage(out, stage_dir(cfg, "rationale"))
        write_json(stage_dir(cfg, "rationale") / "run_summary.json", summary)
    tried = stats["ok"] + stats["rejected"] + stats["failed"]
    if stats["failed"] and stats["failed"] * 2 > tried:
        why, _ = failures.most_common(1)[0]
        raise UserError(
            f"{stats['failed']} of the {tried} rows sent this run failed{' (stopped early)' if stopped == 'dead' else ''}: "
            f"{why}. The {stats['ok'] + stats['rejected']} answers received are saved in the cache; the next run resumes"
        )
    return out


def _run_requests(todo: list[dict], cfg: Config, endpoint: Endpoint, ledger: _Ledger, store: JsonlCache, cache: dict,
                  stats: Counter, failures: Counter, progress: bool) -> str | None:
    """Send the rows through a bounded thread pool; each record is appended to the cache by the worker that got it.

    Returns "budget" when it stopped before a request that could exceed `cfg.max_cost_usd`, "dead" when the
    first DEAD_AFTER rows all failed (the endpoint is down), else None.
    """
    client = EndpointClient(rationale_target(cfg, endpoint))
    lock = threading.Lock()
    width = max(1, cfg.rationale_concurrency)
    budget = output_budget(cfg, endpoint.model)
    stopped = None

    def work(row: dict) -> dict:
        rec = _explain_row(client, endpoint, row, cfg, ledger)
        with lock:  # written the moment it arrives, even if the main loop is being interrupted
            store.append([rec])
            cache[(rec["id"], rec["prompt_version"], rec["model"])] = rec
        return rec

    bar = tqdm(total=len(todo), desc="rationales", unit="row", disable=not progress)
    with ThreadPoolExecutor(width) as pool:
        queue = iter(todo)
        inflight: set[Future] = set()
        try:
            while True:
                while stopped is None and len(inflight) < width:
                    row = next(queue, None)
                    if row is None:
                        break
                    est = cost_usd(*estimate_request_tokens(row_messages(row, cfg), budget), ledger.price)
                    if not ledger.reserve(est):
                        stopped = "budget"
                        break
                    inflight.add(pool.submit(work, row))
                if not inflight:
                    break
                finished, inflight = wait(inflight, return_when=FIRST_COMPLETED)
                for fut in finished:
                    rec = fut.result()  # an EndpointError here is the whole run's (a refused key, an unknown model)
                    stats[rec["status"]] += 1
                    stats["requests"] += rec["requests"]
                    if rec["status"] == "failed":
                        failures[rec["error"]] += 1
                    bar.update(1)
                    bar.set_postfix(ok=stats["ok"], failed=stats["failed"], usd=f"{ledger.spent:.4f}")
                if stopped is None and stats["failed"] >= DEAD_AFTER and not stats["ok"] + stats["rejected"]:
                    stopped = "dead"
        finally:
            for fut in inflight:
                fut.cancel()
            bar.close()
    return stopped


def _assemble(fim: Any, cache: dict, pid: str, model_key: str, splits: tuple[str, ...]) -> Any:
    """fim rows + rationale, rationale_status, rationale_reason, rationale_error, prompt version, model, duplicate flag.

    Rows of splits outside `splits` are 'skipped' with no rationale, whatever an older run cached.
    """
    out = {}
    texts = Counter()
    recs_by_split = {}
    for split in fim:
        recs = [cache.get((i, pid, model_key)) if split in splits else None for i in fim[split]["id"]]
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
    save_figure(fig, path)
    return fig


def usage_table(cfg: Config) -> Any:
    """Requests, tokens (estimated vs reported by the server) and dollars of every cached answer of this prompt/model."""
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
