from pathlib import Path

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
