import os
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from utils.models import resolve
from utils.tiny import SAMPLE_DIR, _held_out, _read_corpus, _windows, build_tiny_student, build_tiny_teacher, fim_loss


def test_tiny_teacher_learned_fim_on_held_out_files():
    path = resolve("tiny-teacher")
    tok = AutoTokenizer.from_pretrained(path)
    trained = AutoModelForCausalLM.from_pretrained(path)
    torch.manual_seed(0)
    untrained = AutoModelForCausalLM.from_config(trained.config)
    _, held = _held_out(_read_corpus(SAMPLE_DIR))
    windows = [w for t in held for w in _windows(t, tok, 200)]
    assert len(windows) >= 5
    before, after = fim_loss(untrained, tok, windows), fim_loss(trained, tok, windows)
    assert after < 0.7 * before, (before, after)


def test_tiny_teacher_fills_in_code_not_noise():
    path = resolve("tiny-teacher")
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    prompt = "<fim-prefix>class Stack\n\tnew: =>\n\t\t@items = {}\n\n\tpush: (x) =>\n<fim-suffix>\n\tpop: =>\n<fim-middle>"
    out = model.generate(**tok(prompt, return_tensors="pt"), max_new_tokens=24, do_sample=False,
                         pad_token_id=tok.convert_tokens_to_ids("<fim-pad>"))
    text = tok.decode(out[0, -24:], skip_special_tokens=True)
    # MoonScript-ish: made of identifiers and punctuation from the corpus, not byte soup
    assert sum(ch.isalpha() for ch in text) >= 5 and "\ufffd" not in text, text


def test_builds_are_deterministic(tmp_path: Path):
    texts = _read_corpus(SAMPLE_DIR)[:12]
    for name in ("a", "b"):
        build_tiny_student(tmp_path / f"s{name}", texts, seed=3)
        build_tiny_teacher(tmp_path / f"t{name}", texts, seed=3, steps=3, verbose=False)
    for kind in ("s", "t"):
        a = (tmp_path / f"{kind}a" / "model.safetensors").read_bytes()
        b = (tmp_path / f"{kind}b" / "model.safetensors").read_bytes()
        assert a == b
        assert (tmp_path / f"{kind}a" / "tokenizer.json").read_text() == (tmp_path / f"{kind}b" / "tokenizer.json").read_text()


def _import_graph() -> dict[str, set[str]]:
    """utils module -> the utils modules it imports (every `from .x import` / `from utils.x import`, any indentation)."""
    import re

    from utils.config import REPO_ROOT

    graph = {}
    for path in sorted((REPO_ROOT / "utils").glob("*.py")):
        text = path.read_text()
        found = set(re.findall(r"^\s*from\s+(?:\.|utils\.)(\w+)\s+import", text, re.M))
        found |= {m for group in re.findall(r"^\s*from\s+\.\s+import\s+([\w, ]+)", text, re.M)
                  for m in re.findall(r"(\w+)(?:\s+as\s+\w+)?", group)}
        graph[path.stem] = found - {path.stem}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every module that can reach itself through the import graph, with one such path."""
    out = []
    for start in graph:
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    out.append(path + [start])
                    stack = []
                    break
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, path + [nxt]))
    return out


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) and not _cycles({"a": {"b"}, "b": set()})


def test_no_import_cycle_among_the_endpoint_modules():
    graph = _import_graph()
    assert {"tiny", "rationale", "teacher", "server", "endpoint"} <= set(graph)
    mine = {"tiny", "rationale", "teacher", "server", "endpoint"}
    assert [c for c in _cycles(graph) if mine & set(c)] == []


# --------------------------------------------------------------------------- the tiny explainer and its server


def test_the_explainer_sees_the_same_prompt_as_notebook_04_sends():
    from utils.rationale import build_messages
    from utils.tiny import ensure_tiny_explainer, gap_messages

    tok = AutoTokenizer.from_pretrained(ensure_tiny_explainer(verbose=False))
    prefix, middle, suffix = "class Box\n\tnew: =>\n", "\t\t@value = 1\n", "\tget: => @value\n"
    full = tok.apply_chat_template(build_messages(prefix, middle, suffix, few_shot=0), add_generation_prompt=True,
                                   tokenize=False)
    trained_on = tok.apply_chat_template(gap_messages(prefix, middle, suffix), add_generation_prompt=True, tokenize=False)
    assert full == trained_on and "@value = 1" in full


def _alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


PARENT = """
import sys, time
from utils.server import local_server
from utils.tiny import ensure_tiny_explainer
with local_server(str(ensure_tiny_explainer(verbose=False))) as url:
    print(url.pid, url.log_dir, flush=True)
    if sys.argv[1] == "hang":
        time.sleep(600)
"""


def _start_parent(mode: str):
    import subprocess
    import sys

    from utils.config import REPO_ROOT

    proc = subprocess.Popen([sys.executable, "-c", PARENT, mode], cwd=str(REPO_ROOT), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line, proc.stderr.read()[-2000:]
    pid, log_dir = line.split()
    return proc, int(pid), Path(log_dir)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_the_local_server_dies_with_its_parent_even_on_sigkill():
    import signal
    import time

    proc, child, log_dir = _start_parent("hang")
    try:
        assert _alive(child) and log_dir.is_dir()
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        deadline = time.time() + 30
        while _alive(child) and time.time() < deadline:
            time.sleep(0.5)
        assert not _alive(child), "the server outlived its killed parent"
    finally:
        if _alive(child):
            os.kill(child, signal.SIGKILL)
        proc.stdout.close()
        proc.stderr.close()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_a_normal_exit_stops_the_server_and_removes_its_folder():
    proc, child, log_dir = _start_parent("exit")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    assert not _alive(child) and not log_dir.exists()
