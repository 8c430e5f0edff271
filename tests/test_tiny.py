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
