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


# --------------------------------------------------------------------------- the tiny explainer


def explain(middle: str, prefix: str = "", suffix: str = "", max_words: int = 60) -> str:
    from utils.tiny import explain_gap

    return explain_gap(prefix, middle, suffix, max_words)


def test_a_loop_is_named_with_what_it_loops_over_and_nothing_else():
    text = explain("\tfor p in *prices\n\t\tsum += p\n", "total = (prices) ->\n\tsum = 0\n", "\tsum\n")
    assert "loops over each p in prices" in text and "adds to sum" in text and "uses sum" in text
    assert "call" not in text and "defines" not in text and "returns" not in text


def test_pairs_loops_and_numeric_loops():
    assert "keys and values of config as k and v" in explain("for k, v in pairs config\n\tx = v\n")
    assert "counts i from 1 to 10" in explain("for i = 1, 10\n\tn += i\n")


def test_a_method_definition_names_the_method_its_parameters_and_its_calls():
    text = explain("\tpush: (value) =>\n\t\ttable.insert @items, value\n", "class Stack\n", "\tpop: =>\n\t\t@push 1\n")
    assert "defines the method push taking value" in text and "calls table.insert" in text
    assert "uses push" in text
    assert "loop" not in text and "returns" not in text and "print" not in text


def test_print_is_named_only_when_the_middle_calls_print():
    assert "calls print" in explain('print "hello #{name}"\n', "name = 'x'\n")
    assert "print" not in explain("count = count + 1\n", "print count\n", "print count\n")


def test_calls_of_every_shape_are_named():
    text = explain("obj\\save 1\nlog.write msg\ndone!\n")
    assert "method save on obj" in text and "log.write" in text and "done" in text


def test_an_assignment_and_a_return():
    assigned = explain("\t@size = 0\n", "\tnew: =>\n", "\tsize: => @size\n")
    assert "assigns @size" in assigned and "return" not in assigned and "call" not in assigned
    returned = explain("\treturn nil if #stack == 0\n")
    assert "returns nil early, when the length of stack equals 0" in returned and "assign" not in returned


def test_classes_branches_and_switches():
    assert "declares the class Dog, extending Animal" in explain("class Dog extends Animal\n\tspeak: => @bark!\n")
    text = explain('switch kind\n\twhen "num" then 1\n\telse 2\n')
    assert "switches on kind" in text and 'case "num"' in text and "else branch" in text
    assert "checks whether x is above 3" in explain("if x > 3\n\ty = 1\n")


def test_a_cut_word_and_text_inside_a_string_claim_no_code():
    text = explain('iles into one Lua file."\n', 'desc = "Bundle .moon f', "x = 1\n")
    assert "files" in text and "call" not in text and "Lua" not in text
    assert "finishes the word switch" in explain("h", "\tswitc", " state\n")


def test_explanations_differ_for_different_middles_and_repeat_for_the_same():
    a = explain("\t@items = {}\n", "class A\n\tnew: =>\n")
    b = explain("\t@count = 0\n", "class A\n\tnew: =>\n")
    assert a != b and a == explain("\t@items = {}\n", "class A\n\tnew: =>\n")


def test_explanations_pass_the_quality_gate_and_the_word_limit():
    from utils.rationale import check_rationale

    long = "".join(f"v{i} = f{i} a{i}, b{i}\n" for i in range(40))
    for middle in (long, "   \n\n", ", :", "x", "-- a comment about the cache\n"):
        for limit in (60, 20):
            text = explain(middle, "y = 1\n", "z\n", max_words=limit)
            assert check_rationale(text, limit, 6) is None, text
            assert 6 <= len(text.split()) <= limit, text


def test_the_prompt_of_notebook_04_is_read_back_exactly():
    from utils.rationale import build_messages
    from utils.tiny import explainer_reply, parse_gap_prompt

    prefix, middle, suffix = "class Box\n\tnew: =>\n", "\t\t@value = 1\n", "\tget: => @value\n"
    messages = build_messages(prefix, middle, suffix, max_words=33, few_shot=2)
    assert parse_gap_prompt(messages[-1]["content"]) == (prefix, middle, suffix, 33)
    assert explainer_reply(messages) == explain(middle, prefix, suffix, 33)
    assert explainer_reply([{"role": "user", "content": "hello"}]) is None


# --------------------------------------------------------------------------- the local servers


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
from utils.models import resolve
with local_server(str(resolve("tiny-teacher"))) as url:
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
