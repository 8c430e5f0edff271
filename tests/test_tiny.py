import json
import os
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

from utils.models import resolve
from utils.tiny import (
    SAMPLE_DIR,
    _windows,
    build_tiny_student,
    build_tiny_teacher,
    english_corpus,
    fim_loss,
    parameter_count,
    seen_by_tiny_teacher,
    span_corruption,
    split_corpus,
    trained_on,
)


def _series_split() -> dict[str, str]:
    """{source: split} exactly as notebook 02 makes it: the sample corpus, its filters (and parser), assign_splits."""
    from utils.config import load_config
    from utils.data import assign_splits, clean_corpus, load_corpus
    from utils.parser import load_parser

    cfg = load_config("tiny")
    files, _ = clean_corpus(load_corpus(cfg, "sample"), cfg, load_parser(cfg.moonscript_parser, fetch=False))
    return assign_splits(files["source"], tuple(cfg.split_fractions), cfg.seed)


def test_tiny_teacher_never_trained_on_a_valid_or_test_file():
    splits = _series_split()
    files = trained_on(resolve("tiny-teacher"))["files"]
    assert files, "the tiny teacher lists no training files"
    leaked = sorted(f for f in files if splits.get(f) in ("valid", "test"))
    assert leaked == [], f"the tiny teacher trained on held-out files: {leaked}"
    assert set(files) <= set(splits), "trained_on.json names files notebook 02 does not know (naming differs)"
    assert {f for f, s in splits.items() if s == "train"} <= set(files)  # and it used the whole train split
    test_files = [f for f, s in splits.items() if s == "test"]
    assert test_files and not any(seen_by_tiny_teacher(test_files))


def test_tiny_teacher_has_at_least_8x_the_students_parameters():
    teacher = AutoModelForCausalLM.from_pretrained(resolve("tiny-teacher"))
    student = AutoModelForSeq2SeqLM.from_pretrained(resolve("tiny-student"))
    t, s = parameter_count(teacher), parameter_count(student)
    assert t >= 8 * s, (t, s, t / s)  # santacoder / flan-t5-small = 1.1B / 77M = 14.6x
    assert teacher.config.multi_query and student.config.feed_forward_proj == "gated-gelu"
    assert student.lm_head.weight.data_ptr() != student.shared.weight.data_ptr()  # untied, as flan-t5


def test_tiny_teacher_learned_fim_on_held_out_files():
    path = resolve("tiny-teacher")
    tok = AutoTokenizer.from_pretrained(path)
    trained = AutoModelForCausalLM.from_pretrained(path)
    torch.manual_seed(0)
    untrained = AutoModelForCausalLM.from_config(trained.config)
    parts = split_corpus(SAMPLE_DIR)
    held = list(parts["valid"].values()) + list(parts["test"].values())  # files it never trained on
    windows = [w for t in held for w in _windows(t, tok, 256)]
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


def test_tiny_student_never_saw_moonscript():
    path = resolve("tiny-student")
    english = "\n".join(english_corpus()[0])
    moon_lines = {line.strip() for f in SAMPLE_DIR.rglob("*.moon") for line in f.read_text().splitlines()}
    found = sorted(line for line in moon_lines if len(line) >= 20 and line in english)
    assert found == [], found[:5]
    assert not any(f.endswith(".moon") for f in trained_on(path)["files"])
    vocab = AutoTokenizer.from_pretrained(path).get_vocab()
    assert not any(ch in piece for piece in vocab for ch in "{}\n\t"), "flan-t5's vocabulary has no braces, newline or tab"


def test_tiny_student_was_pretrained_on_english():
    stats = json.loads((Path(resolve("tiny-student")) / "build_stats.json").read_text())
    before, after = stats["held_out_span_loss_before"], stats["held_out_span_loss_after"]
    assert after < 0.75 * before, (before, after)  # span corruption on English it never trained on


def test_span_corruption_is_t5s():
    import random

    ids = list(range(100, 200))
    inputs, target = span_corruption(ids, random.Random(0), lambda k: 1000 - k, eos=1)
    assert inputs[-1] == target[-1] == 1
    sentinels = [t for t in inputs if t >= 900]
    assert sentinels == [1000 - k for k in range(len(sentinels))] and target[0] == 1000
    assert sum(t < 900 for t in target[:-1]) == 15  # 15% of the tokens, noise spans of mean length 3
    assert len(sentinels) == 5
    rebuilt, spans = [], {}
    cur = None
    for t in target[:-1]:
        if t >= 900:
            cur = t
            spans[cur] = []
        else:
            spans[cur].append(t)
    for t in inputs[:-1]:
        rebuilt += spans[t] if t >= 900 else [t]
    assert rebuilt == ids  # input + target hold the text exactly once


def test_builds_are_deterministic(tmp_path: Path):
    texts = [p.read_text() for p in sorted(SAMPLE_DIR.rglob("*.moon"))][:12]
    english = english_corpus(max_chars=20_000)[0]
    for name in ("a", "b"):
        build_tiny_student(tmp_path / f"s{name}", english, seed=3, steps=3, verbose=False)
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


# --------------------------------------------------------------------------- the tiny teacher, measured as notebooks 03 and 06 do


BENCH = pytest.mark.skipif(not os.environ.get("TINY_BENCH"), reason="benchmark of the tiny teacher on the test split: set TINY_BENCH=1")


@pytest.fixture(scope="module")
def test_split_figures() -> dict:
    """Teacher and untrained-student figures on notebook 02's test split (default settings), by the project's own code.

    About 20 s on the cached models: FIM rows from `build_fim`, the teacher's middles from the same backend,
    prompt fitting and trimming as `run_teacher`, the student's through `utils.student`, scores from
    `utils.metrics`, and the rebuilt files through MoonScript's parser.
    """
    from datasets import DatasetDict

    from utils import teacher as T
    from utils.config import load_config
    from utils.fim import build_fim, rebuild
    from utils.metrics import edit_similarity, exact_match
    from utils.parser import load_parser
    from utils.student import generate_middles, load_system

    cfg = load_config("tiny")
    build = build_fim(cfg)
    files = dict(zip(build.files["source"], build.files["content"]))
    rows = build.dataset["test"]
    backend = T.make_backend(cfg)
    max_new = T.span_budget(backend.tok, [m for s in build.dataset for m in build.dataset[s]["middle"]], cfg.max_new_tokens)
    settings = T.make_settings(cfg, backend, max_new)
    prep = T.prepare_prompts(DatasetDict({"test": rows}), backend.tok, cfg, settings.max_prompt_tokens)
    middles, stops = [""] * len(prep.ids), [""] * len(prep.ids)
    order = T.length_sorted([len(x) for x in prep.token_ids], prep.ids)
    for c in range(0, len(order), backend.batch_size):
        batch = order[c:c + backend.batch_size]
        gens = backend.generate([prep.prompts[i] for i in batch], [prep.token_ids[i] for i in batch],
                                [prep.suffixes[i] for i in batch], settings, cfg.seed)
        for i, g in zip(batch, gens):
            middles[i], stops[i] = T.trim_middle(g.raw[0], prep.suffixes[i])
    model, tok = load_system(cfg, "untrained")
    student = generate_middles(model, tok, rows["student_input"], cfg)
    parser = load_parser(cfg.moonscript_parser, fetch=False)
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    figures = {
        "rows": len(rows),
        "test_files": len(set(rows["source"])),
        "teacher_edit_similarity": mean([edit_similarity(p, r) for p, r in zip(middles, rows["middle"])]),
        "teacher_exact_match": mean([exact_match(p, r) for p, r in zip(middles, rows["middle"])]),
        "teacher_ran_to_length": mean([s == "length" for s in stops]),
        "untrained_edit_similarity": mean([edit_similarity(p, r) for p, r in zip(student, rows["middle"])]),
        "teacher_parse_rate": mean([parser.parses(rebuild(r, m, files)).ok for r, m in zip(rows, middles)]) if parser else None,
    }
    print("\ntiny profile, test split:", {k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()})
    return figures


@BENCH
def test_tiny_teacher_beats_the_pretrained_student_on_unseen_files(test_split_figures):
    f = test_split_figures
    assert f["rows"] >= 30 and f["test_files"] >= 3
    assert f["teacher_edit_similarity"] > 1.5 * f["untrained_edit_similarity"], f


def test_the_teacher_tokenizer_built_alone_is_the_models_own(tmp_path, monkeypatch):
    # tokenizer-only work (FIM building, most unit tests) goes on while the teacher trains; it must be the same tokenizer
    from utils.models import load_tokenizer
    from utils.tiny import ensure_tiny_model, ensure_tiny_tokenizer, tiny_dir

    model_dir = ensure_tiny_model("tiny-teacher")
    monkeypatch.setenv("DISTIL_CACHE", str(tmp_path))  # an empty cache: no model yet, so the tokenizer is built alone
    alone = ensure_tiny_tokenizer("tiny-teacher")
    assert alone != tiny_dir("tiny-teacher") and not (tiny_dir("tiny-teacher") / "config.json").exists()
    assert (alone / "tokenizer.json").read_text() == (model_dir / "tokenizer.json").read_text()
    assert ensure_tiny_tokenizer("tiny-teacher") == alone  # built once
    text = "class A\n\tnew: (@x = {}) =>\n"
    assert load_tokenizer("tiny-teacher")(text)["input_ids"] == load_tokenizer(str(model_dir))(text)["input_ids"]
