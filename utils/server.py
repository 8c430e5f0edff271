"""Real OpenAI-compatible servers on loopback, started and stopped by code.

- `local_server`: `transformers serve` for a local model folder, in a child process.
- `chat_server`: a small `/v1/chat/completions` server in this process, answering with a Python
  function (the tiny profile's deterministic explainer, `utils.tiny.serve_tiny_explainer`).

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


def _handler(model: str, reply: Reply) -> type[BaseHTTPRequestHandler]:
    """A request handler class serving `model` with `reply`."""

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
                self._send(200, {"status": "ok"})
            elif path == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": model, "object": "model", "created": 0,
                                                             "owned_by": "local"}]})
            else:
                self._send(404, openai_error(f"no route GET {path}", code="not_found"))

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.split("?")[0].rstrip("/") != "/v1/chat/completions":
                self._send(404, openai_error(f"no route POST {self.path}", code="not_found"))
                return
            try:
                status, payload = _read_request(body, model, reply)
            except Exception as exc:  # noqa: BLE001 - a bug in `reply` is the server's error, as elsewhere
                status, payload = 500, openai_error(f"{type(exc).__name__}: {exc}", "server_error")
            self._send(status, payload)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet, like a library
            pass

    return Handler


@contextlib.contextmanager
def chat_server(model: str, reply: Reply, port: int | None = None) -> Iterator[ServerURL]:
    """Serve `reply(messages) -> text` as OpenAI's `/v1/chat/completions` on 127.0.0.1 in a thread; yield its `/v1` URL.

    Also `GET /v1/models` and `GET /health`. A request it cannot read (no JSON, no messages, or
    `reply` returns None) gets 400 with an OpenAI-style error; another model name gets 404.
    The socket is closed and the thread joined on exit.
    """
    server = ThreadingHTTPServer(("127.0.0.1", port or 0), _handler(model, reply))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name=f"chat-server-{model}", daemon=True)
    thread.start()
    try:
        url = ServerURL(f"http://127.0.0.1:{server.server_address[1]}/v1")
        url.pid, url.log_dir = os.getpid(), None  # type: ignore[assignment] - in this process, no log folder
        wait_healthy(f"http://127.0.0.1:{server.server_address[1]}/health", 30)
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
