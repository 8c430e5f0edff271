"""Real OpenAI-compatible servers on loopback, started and stopped by code.

- `local_server`: `transformers serve` for a local model folder, in a child process.
- `chat_server`: a small `/v1/chat/completions` server in this process, answering with a Python
  function (the tiny profile's deterministic explainer, `utils.tiny.serve_tiny_explainer`).
- `completions_server`: the same plumbing answering `/v1/completions` with a `suffix` (fill in the middle),
  for the shipped student (`utils.serving`, `python -m utils serve`).

`transformers serve` never outlives the process that started it: on Linux the kernel sends it SIGTERM when
its parent dies (`prctl(PR_SET_PDEATHSIG)`), even on SIGKILL, and everywhere a watchdog thread in
the server exits once its parent is gone. Its temporary `serve-*` folder is removed on exit.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .config import UserError


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, timeout: float, proc: subprocess.Popen | None = None, log: Path | None = None) -> None:
    """Poll `url` until it answers 200; fail with the server's last log lines if it dies or times out."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text()[-2000:] if log and log.exists() else ""
            raise UserError(f"the local server exited with code {proc.returncode} before answering:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise UserError(f"the local server at {url} did not answer within {timeout:.0f}s")


PR_SET_PDEATHSIG = 1  # linux/prctl.h

# The server's own first lines: a watchdog that exits when the parent is gone (its pid changes to a
# reaper's) and, then only, removes the log folder, which no one is left to read or clean.
_CHILD = """import os, shutil, sys, threading, time
parent, logdir = int(sys.argv.pop(1)), sys.argv.pop(1)
def watch():
    while os.getppid() == parent:
        time.sleep(1)
    shutil.rmtree(logdir, ignore_errors=True)
    os._exit(0)
threading.Thread(target=watch, daemon=True).start()
from transformers.cli.transformers import main
sys.argv[0] = 'transformers'
sys.exit(main())
"""


def _die_with_parent() -> Any:
    """A `preexec_fn` asking Linux to SIGTERM the child when its parent dies (None where prctl is missing)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)  # loaded before the fork
    except OSError:
        return None
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


class ServerURL(str):
    """The server's `/v1` base URL (a str), with the server's `pid` and its temporary `log_dir`."""

    pid: int
    log_dir: Path
    model: str  # the served model's name, where the server sets it


@contextlib.contextmanager
def local_server(model_path: str, port: int | None = None, timeout: float = 180) -> Iterator[ServerURL]:
    """Serve a local model folder with `transformers serve` on 127.0.0.1; yield its `/v1` base URL.

    The openai client talks to it exactly as to OpenAI or vLLM: `/v1/completions` for the
    teacher (FIM prompts) and `/v1/chat/completions` for rationales (needs a chat template).
    The server dies with this process, even when it is killed; its temporary folder is removed.
    """
    port = port or free_port()
    logdir = Path(tempfile.mkdtemp(prefix="serve-"))
    log = logdir / "server.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, "-c", _CHILD, str(os.getpid()), str(logdir), "serve", str(model_path), "--device", "cpu",
           "--host", "127.0.0.1", "--port", str(port)]
    try:
        with open(log, "wb") as fh:
            proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                    preexec_fn=_die_with_parent())
        try:
            wait_healthy(f"http://127.0.0.1:{port}/health", timeout, proc, log)
            url = ServerURL(f"http://127.0.0.1:{port}/v1")
            url.pid, url.log_dir = proc.pid, logdir
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    finally:
        shutil.rmtree(logdir, ignore_errors=True)


# --------------------------------------------------------------------------- an in-process chat server

# Why the standard library's http.server in a thread, and not fastapi + uvicorn in a child process:
# the answers come from a pure-Python function that takes microseconds, so there is nothing to
# isolate; a thread starts in milliseconds (a child would import torch first), cannot outlive the
# process that owns it even on SIGKILL, needs no temporary folder, and adds no dependency. The
# client still talks HTTP over a real TCP socket, exactly as to OpenAI.
Reply = Callable[[list[dict]], "str | None"]


def estimate_tokens(text: str) -> int:
    """Token estimate for the usage block: words and punctuation marks, about what a BPE tokenizer counts on English."""
    return len(re.findall(r"\w+|[^\w\s]", text))


def chat_response(model: str, text: str, prompt_tokens: int, max_tokens: int | None) -> dict:
    """An OpenAI chat.completion object for `text`, cut to `max_tokens` (finish_reason 'length') when it is over."""
    finish = "stop"
    if max_tokens is not None and estimate_tokens(text) > max_tokens:
        words = text.split()
        while words and estimate_tokens(" ".join(words)) > max_tokens:
            words.pop()
        text, finish = " ".join(words), "length"
    completion = estimate_tokens(text)
    return {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion", "created": int(time.time()),
            "model": model, "system_fingerprint": None,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": None,
                         "finish_reason": finish}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion,
                      "total_tokens": prompt_tokens + completion}}


def openai_error(message: str, kind: str = "invalid_request_error", code: str | None = None, param: str | None = None) -> dict:
    """An OpenAI-style error body."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _read_request(body: bytes, model: str, reply: Reply) -> tuple[int, dict]:
    """(HTTP status, JSON body) for one POST /v1/chat/completions."""
    try:
        req = json.loads(body or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return 400, openai_error(f"the body is not JSON: {exc}")
    if not isinstance(req, dict) or not isinstance(req.get("messages"), list) or not req["messages"]:
        return 400, openai_error("expected a JSON object with a non-empty 'messages' list", param="messages")
    if req.get("model") != model:
        return 404, openai_error(f"The model {req.get('model')!r} does not exist; this server serves {model!r}",
                                 "invalid_request_error", "model_not_found", "model")
    if req.get("stream"):
        return 400, openai_error("streaming is not supported by this server", param="stream")
    limit = req.get("max_completion_tokens", req.get("max_tokens"))
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        return 400, openai_error(f"max_tokens must be a positive integer, not {limit!r}", param="max_tokens")
    messages = req["messages"]
    if not all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages):
        return 400, openai_error("every message needs a string 'content'", param="messages")
    text = reply(messages)
    if text is None:
        return 400, openai_error("this server cannot read the request: the last user message holds no "
                                 "<before>/<middle>/<after> gap to explain", param="messages")
    prompt = sum(estimate_tokens(m["content"]) + 4 for m in messages) + 3  # 4 per message, 3 to prime the answer
    return 200, chat_response(model, text, prompt, limit)


Route = Callable[[bytes], "tuple[int, dict]"]  # POST body -> (HTTP status, JSON body)


def _handler(model: str, routes: dict[str, Route]) -> type[BaseHTTPRequestHandler]:
    """A request handler class serving `model`: GET /health and /v1/models, and a POST path -> `Route` table."""

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            path = self.path.split("?")[0].rstrip("/")
            if path == "/health":
                self._send(200, {"status": "ok", "model": model})
            elif path == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": model, "object": "model", "created": 0,
                                                             "owned_by": "local"}]})
            elif path in routes:
                self._send(405, openai_error(f"{path} takes POST, not GET", code="method_not_allowed"))
            else:
                self._send(404, openai_error(f"no route GET {path}", code="not_found"))

        def do_POST(self) -> None:  # noqa: N802
            try:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            except ValueError:
                self._send(400, openai_error("the Content-Length header is not a number"))
                return
            route = routes.get(self.path.split("?")[0].rstrip("/"))
            if route is None:
                self._send(404, openai_error(f"no route POST {self.path}; this server answers POST {', '.join(routes)}",
                                             code="not_found"))
                return
            try:
                status, payload = route(body)
            except Exception as exc:  # noqa: BLE001 - a bug in the model's function is the server's error, as elsewhere
                status, payload = 500, openai_error(f"{type(exc).__name__}: {exc}", "server_error")
            self._send(status, payload)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet, like a library
            pass

    return Handler


@contextlib.contextmanager
def _serve(model: str, routes: dict[str, Route], port: int | None, host: str, kind: str) -> Iterator[ServerURL]:
    """Serve `routes` for `model` on `host`:`port` (0/None: a free port) in a thread; yield the `/v1` URL; close on exit."""
    server = ThreadingHTTPServer((host, port or 0), _handler(model, routes))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name=f"{kind}-server-{model}", daemon=True)
    thread.start()
    try:
        base = f"http://{host}:{server.server_address[1]}"
        url = ServerURL(f"{base}/v1")
        url.pid, url.log_dir = os.getpid(), None  # type: ignore[assignment] - in this process, no log folder
        wait_healthy(f"{base}/health", 30)
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@contextlib.contextmanager
def chat_server(model: str, reply: Reply, port: int | None = None) -> Iterator[ServerURL]:
    """Serve `reply(messages) -> text` as OpenAI's `/v1/chat/completions` on 127.0.0.1 in a thread; yield its `/v1` URL.

    Also `GET /v1/models` and `GET /health`. A request it cannot read (no JSON, no messages, or
    `reply` returns None) gets 400 with an OpenAI-style error; another model name gets 404.
    The socket is closed and the thread joined on exit.
    """
    with _serve(model, {"/v1/chat/completions": lambda body: _read_request(body, model, reply)}, port, "127.0.0.1", "chat") as url:
        yield url


# --------------------------------------------------------------------------- a fill-in-the-middle completions server


@dataclass
class Completion:
    """One answer of a completions model: the text, its token counts, and why it stopped ('stop' or 'length')."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str


# (prefixes, suffixes, max_tokens) -> one Completion per prefix
Complete = Callable[[list[str], list[str], int], list[Completion]]


def _bad(message: str, param: str | None = None) -> tuple[int, dict]:
    """A 400 with an OpenAI-style error naming the problem (and the parameter)."""
    return 400, openai_error(message, param=param)


def _is_int(value: object) -> bool:
    """A JSON integer (true / false are not)."""
    return isinstance(value, int) and not isinstance(value, bool)


def read_completion_request(body: bytes, model: str, complete: Complete, max_tokens_limit: int) -> tuple[int, dict]:
    """(HTTP status, JSON body) for one POST /v1/completions: `prompt` is the prefix, `suffix` what follows the gap."""
    try:
        req = json.loads(body or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _bad(f"the body is not JSON: {exc}")
    if not isinstance(req, dict):
        return _bad("expected a JSON object with a 'prompt' (the code before the gap) and a 'suffix' (the code after it)")
    if "prompt" not in req:
        return _bad("missing 'prompt': the code before the gap (a string)", "prompt")
    prompt = req["prompt"]
    prompts = [prompt] if isinstance(prompt, str) else prompt
    if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
        return _bad(f"'prompt' must be a string or a non-empty list of strings, not {type(prompt).__name__}", "prompt")
    suffix = req.get("suffix")
    if suffix is not None and not isinstance(suffix, str):
        return _bad(f"'suffix' must be a string (the code after the gap), not {type(suffix).__name__}", "suffix")
    if req.get("model") not in (None, model):
        return 404, openai_error(f"The model {req.get('model')!r} does not exist; this server serves {model!r}",
                                 "invalid_request_error", "model_not_found", "model")
    limit = req.get("max_tokens", max_tokens_limit)
    if limit is None:
        limit = max_tokens_limit
    if not _is_int(limit) or not 1 <= limit <= max_tokens_limit:
        return _bad(f"'max_tokens' must be an integer from 1 to {max_tokens_limit}, not {limit!r}", "max_tokens")
    if req.get("stream"):
        return _bad("streaming is not supported by this server", "stream")
    if req.get("n", 1) != 1 or req.get("best_of", 1) != 1:
        return _bad("this server decodes greedily: one answer per prompt ('n' and 'best_of' must be 1)", "n")
    if req.get("echo"):
        return _bad("'echo' is not supported by this server", "echo")
    answers = complete(prompts, [suffix or ""] * len(prompts), limit)
    choices = [{"text": a.text, "index": i, "logprobs": None, "finish_reason": a.finish_reason} for i, a in enumerate(answers)]
    used = sum(a.prompt_tokens for a in answers), sum(a.completion_tokens for a in answers)
    return 200, {"id": f"cmpl-{uuid.uuid4().hex[:24]}", "object": "text_completion", "created": int(time.time()),
                 "model": model, "system_fingerprint": None, "choices": choices,
                 "usage": {"prompt_tokens": used[0], "completion_tokens": used[1], "total_tokens": sum(used)}}


@contextlib.contextmanager
def completions_server(model: str, complete: Complete, port: int | None = None, max_tokens_limit: int = 256,
                       host: str = "127.0.0.1") -> Iterator[ServerURL]:
    """Serve `complete` as OpenAI's `/v1/completions` with a `suffix` (the insertion API) in a thread; yield its `/v1` URL.

    `choices[0].text` is the middle between `prompt` and `suffix`. Also `GET /health` and `GET /v1/models`.
    A request it cannot read gets a 4xx JSON error naming the problem; the socket is closed on exit.
    """
    route = lambda body: read_completion_request(body, model, complete, max_tokens_limit)  # noqa: E731
    with _serve(model, {"/v1/completions": route}, port, host, "completions") as url:
        yield url
