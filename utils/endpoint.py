"""One client for every OpenAI-compatible endpoint the series talks to.

The teacher's `/v1/completions` backend (notebook 03) and the rationale writer's
`/v1/chat/completions` (notebook 04) both go through `EndpointClient`:

- the `openai.OpenAI` client is built in one place (base URL, key, timeout, `max_retries`).
  Retries are the client's own: it retries 408 / 409 / 429 / 5xx and connection errors with
  exponential backoff and jitter, and honours `Retry-After`. No second retry layer is stacked on it.
- the API key comes from an environment variable or a Colab secret (`artifacts.secret`); a
  placeholder key is sent only to loopback servers, which need none.
- every failure becomes one `UserError` that names the URL, says what went wrong in words and
  which setting to change, with every secret (the key, `Bearer ...`, `sk-...`) redacted.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import openai

from .artifacts import secret
from .config import UserError

OPENAI_BASE_URL = "https://api.openai.com/v1"
PLACEHOLDER_KEY = "local-no-key"  # sent only to loopback servers, which need no key
_SECRET_RE = re.compile(r"(sk-[A-Za-z0-9_\-*.]{6,}|Bearer\s+\S+)")


def is_loopback(url: str) -> bool:
    """True when `url` points at this machine (127.0.0.0/8, ::1 or localhost)."""
    host = (urlparse(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """`text` with the given secrets and anything shaped like an API key or bearer token masked."""
    for s in secrets:
        if s and len(s) >= 4 and s != PLACEHOLDER_KEY:
            text = text.replace(s, "***")
    return _SECRET_RE.sub("***", text)


def resolve_api_key(base_url: str, env_var: str, url_setting: str = "the base URL", started_here: bool = False) -> str:
    """The API key for `base_url`: env variable, then Colab secret; a placeholder only for loopback servers."""
    if started_here:
        return PLACEHOLDER_KEY
    key = secret(env_var)
    if key:
        return key
    if is_loopback(base_url):
        return PLACEHOLDER_KEY
    raise UserError(
        f"no API key for {base_url}: set the environment variable {env_var} (on Colab: add a secret named {env_var} "
        f"and allow this notebook to read it), or point {url_setting} at a server on 127.0.0.1; "
        "never type the key into a notebook cell"
    )


def key_source(base_url: str, env_var: str, started_here: bool = False) -> str:
    """Where the API key will come from, in words (never the key itself)."""
    if started_here:
        return f"placeholder {PLACEHOLDER_KEY!r} (our own local server needs no key)"
    if secret(env_var):
        return f"{env_var} (set)"
    if is_loopback(base_url):
        return f"placeholder {PLACEHOLDER_KEY!r} (loopback server)"
    return f"missing: set {env_var}"


@dataclass(frozen=True)
class Target:
    """One endpoint and the settings a user changes when it fails (named in every error message)."""

    base_url: str
    model: str
    key_env: str  # NAME of the env variable / Colab secret holding the key
    url_setting: str  # e.g. "teacher_base_url"
    model_setting: str  # e.g. "teacher_served_model"
    timeout_setting: str  # e.g. "teacher_timeout_s"
    timeout_s: float
    retries_setting: str  # e.g. "teacher_max_retries"
    max_retries: int
    started_here: bool = False  # a server this code started (it needs no key)


class EndpointError(UserError):
    """A failed endpoint call, in words; `kind` says which failure (e.g. "unauthorised", "timeout", "server_error")."""

    def __init__(self, message: str, kind: str):
        """`message` is already redacted."""
        super().__init__(message)
        self.kind = kind


# failures of the whole run, not of one request: every other request would fail the same way
FATAL_KINDS = ("unauthorised", "forbidden", "not_found")


class NotAnAnswer(Exception):
    """The server answered 200 with something that is not an OpenAI-style JSON response."""


class EndpointClient:
    """`openai.OpenAI` for one `Target`, with its retries, and every failure translated by `explain`."""

    def __init__(self, target: Target):
        """Resolve the key (UserError when a remote server has none) and build the client."""
        self.target = target
        self.api_key = resolve_api_key(target.base_url, target.key_env, target.url_setting, target.started_here)
        self.client = openai.OpenAI(base_url=target.base_url, api_key=self.api_key, timeout=target.timeout_s,
                                    max_retries=max(0, int(target.max_retries)))

    def redact(self, text: str) -> str:
        """`text` with this client's key and anything key-shaped masked."""
        return redact(text, (self.api_key,))

    def _create(self, create: Callable[..., Any], passthrough: tuple[type[BaseException], ...], **params: Any) -> Any:
        """Call `create` (a `with_raw_response.create`) and return (parsed response, retries taken)."""
        failure: EndpointError | None = None
        try:
            raw = create(model=self.target.model, **params)
            resp = raw.parse()
        except passthrough:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure of an endpoint becomes one clear UserError
            failure = self.explain(exc)
        if failure is not None:  # raised outside the handler: the original (which may quote the key) is not chained
            raise failure
        if isinstance(resp, str) or not getattr(resp, "choices", None):
            raise self.explain(NotAnAnswer(str(resp)[:200]))
        return resp, int(getattr(raw, "retries_taken", 0) or 0)

    def completions(self, passthrough: tuple[type[BaseException], ...] = (), **params: Any) -> tuple[Any, int]:
        """POST /v1/completions; returns (response, retries taken by the client)."""
        return self._create(self.client.completions.with_raw_response.create, passthrough, **params)

    def chat(self, passthrough: tuple[type[BaseException], ...] = (), **params: Any) -> tuple[Any, int]:
        """POST /v1/chat/completions; returns (response, retries taken by the client)."""
        return self._create(self.client.chat.completions.with_raw_response.create, passthrough, **params)

    def explain(self, exc: BaseException) -> EndpointError:
        """`exc` as an EndpointError (a UserError): the URL, what went wrong, the setting to change; secrets redacted."""
        kind, message = describe_failure(exc, self.target)
        return EndpointError(self.redact(message), kind)


def _server_says(exc: BaseException) -> str:
    """The server's own error message (from a JSON body), or the exception text, shortened."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        body = body.get("error", body)
        if isinstance(body, dict):
            body = body.get("message", body)
    text = body if isinstance(body, str) else str(exc) if body is None else json.dumps(body)
    return " ".join(str(text).split())[:300]


def describe_failure(exc: BaseException, t: Target) -> tuple[str, str]:
    """(kind, message): what went wrong with endpoint `t`, in words, with the setting to change (not yet redacted)."""
    url = t.base_url
    after = f"after {t.max_retries} retries ({t.retries_setting})"
    if isinstance(exc, openai.APITimeoutError):
        return "timeout", (f"the endpoint {url} timed out: no answer within {t.timeout_s:g} s, {after}; raise {t.timeout_setting} "
                f"for a slow server, or check that the server at {t.url_setting}={url!r} is working")
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        why = "connection refused" if "refused" in str(cause).lower() or isinstance(cause, ConnectionRefusedError) else \
            f"could not connect ({type(cause).__name__ if cause else 'connection error'})"
        return "connection", (f"the endpoint {url} is not reachable: {why}, {after}; start the server, or fix {t.url_setting}")
    if isinstance(exc, (json.JSONDecodeError, NotAnAnswer, openai.APIResponseValidationError)):
        return "not_json", (f"the endpoint {url} answered, but not with OpenAI-style JSON ({_server_says(exc)[:120]!r}): "
                f"is {t.url_setting}={url!r} really an OpenAI-compatible /v1 URL?")
    if isinstance(exc, openai.AuthenticationError):
        return "unauthorised", (f"the endpoint {url} refused the key: unauthorised (401: {_server_says(exc)}); set {t.key_env} "
                f"to a key this server accepts, or fix {t.url_setting}")
    if isinstance(exc, openai.PermissionDeniedError):
        return "forbidden", (f"the endpoint {url} refused access: forbidden (403: {_server_says(exc)}); check that the key in "
                f"{t.key_env} may use model {t.model!r} ({t.model_setting}) on {t.url_setting}")
    if isinstance(exc, openai.NotFoundError):
        return "not_found", (f"the endpoint {url} answered not found (404: {_server_says(exc)}): it does not serve model "
                f"{t.model!r} at that URL; set {t.model_setting} to the server's model name, or fix {t.url_setting}")
    if isinstance(exc, openai.RateLimitError):
        return "rate_limit", (f"the endpoint {url} kept rate-limiting (429: {_server_says(exc)}) {after}; wait, lower the "
                f"concurrency, or raise {t.retries_setting} ({t.url_setting})")
    if isinstance(exc, openai.APIStatusError) and exc.status_code >= 500:
        return "server_error", (f"the endpoint {url} had a server error ({exc.status_code}: {_server_says(exc)}) {after}; "
                f"check the server's log (or {t.url_setting}), or raise {t.retries_setting} if it is overloaded")
    if isinstance(exc, openai.APIStatusError):
        return "refused", (f"the endpoint {url} refused the request ({exc.status_code}: {_server_says(exc)}); check "
                f"{t.model_setting}={t.model!r} and the request limits against those of the server at {t.url_setting}")
    return "other", f"the endpoint {url} failed: {type(exc).__name__}: {' '.join(str(exc).split())[:300]} (see {t.url_setting})"


__all__ = ["FATAL_KINDS", "OPENAI_BASE_URL", "PLACEHOLDER_KEY", "EndpointClient", "EndpointError", "NotAnAnswer", "Target", "describe_failure",
           "is_loopback", "key_source", "redact", "resolve_api_key"]
