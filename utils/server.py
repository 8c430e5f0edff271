"""A real OpenAI-compatible server on loopback (`transformers serve`), started and stopped by code."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

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


@contextlib.contextmanager
def local_server(model_path: str, port: int | None = None, timeout: float = 180) -> Iterator[str]:
    """Serve a local model folder with `transformers serve` on 127.0.0.1; yield its `/v1` base URL.

    The openai client talks to it exactly as to OpenAI or vLLM: `/v1/completions` for the
    teacher (FIM prompts) and `/v1/chat/completions` for rationales (needs a chat template).
    """
    port = port or free_port()
    logdir = Path(tempfile.mkdtemp(prefix="serve-"))
    log = logdir / "server.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    code = "import sys; from transformers.cli.transformers import main; sys.argv[0] = 'transformers'; sys.exit(main())"
    cmd = [sys.executable, "-c", code, "serve", str(model_path), "--device", "cpu", "--host", "127.0.0.1", "--port", str(port)]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        wait_healthy(f"http://127.0.0.1:{port}/health", timeout, proc, log)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
