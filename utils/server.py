"""A real OpenAI-compatible server on loopback (`transformers serve`), started and stopped by code.

The server never outlives the process that started it: on Linux the kernel sends it SIGTERM when
its parent dies (`prctl(PR_SET_PDEATHSIG)`), even on SIGKILL, and everywhere a watchdog thread in
the server exits once its parent is gone. Its temporary `serve-*` folder is removed on exit.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
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
