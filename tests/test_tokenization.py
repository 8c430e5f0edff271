"""The code-safe student tokenizer: byte-exact round trips where the published T5 one fails."""

from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from utils.config import HOLE, REPO_ROOT
from utils.fim import split_lines, student_prompt
from utils.models import load_student, load_tokenizer
from utils.tokenization import (
    SPACE,
    decode_ids,
    encode_batch,
    encode_text,
    is_code_safe,
    make_code_safe,
    resize_for_tokenizer,
    roundtrips,
    token_overhead,
)

SAMPLE = REPO_ROOT / "data" / "moonscript"
REAL = REPO_ROOT.parent / "shared" / "data" / "moonscript-real"
T5 = REPO_ROOT.parent / "shared" / "data" / "tokenizers" / "t5"
# strings code may hold that look like special tokens or byte pieces
LOOKALIKES = ["</s>", "<pad>", "<unk>", "<0x41>", "<0x0A>", "<extra_id_7>", "<extra_id_99>", "<s>", "<", ">", "<<>>"]


@pytest.fixture(scope="module")
def raw():
    """The tiny student's tokenizer as published (broken on code, like flan-t5's)."""
    return load_tokenizer("tiny-student")


@pytest.fixture(scope="module")
def safe(raw):
    """Its code-safe version."""
    return make_code_safe(raw)


@pytest.fixture(scope="module", params=["tiny", "t5"])
def any_safe(request, safe):
    """The tiny student's code-safe tokenizer, then the real T5 one made code-safe (skipped when absent)."""
    if request.param == "tiny":
        return safe
    if not T5.is_dir():
        pytest.skip("no ../shared/data/tokenizers/t5 on this machine")
    from transformers import AutoTokenizer

    return make_code_safe(AutoTokenizer.from_pretrained(T5))


def _forbidden_ids(tok) -> set[int]:
    """Ids that literal code must never produce: eos, pad, unk, the sentinels and the byte pieces."""
    specials = set(tok.all_special_ids)
    return specials | {tok.convert_tokens_to_ids(f"<0x{b:02X}>") for b in range(256)}


def _moon_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.moon"))


def test_sample_corpus_roundtrips_with_fixed_not_raw(raw, safe):
    files = _moon_files(SAMPLE)
    assert len(files) >= 10
    texts = {f.name: f.read_text(encoding="utf-8") for f in files}
    broken = [name for name, text in texts.items() if not roundtrips(safe, text)]
    assert broken == []
    assert not any(roundtrips(raw, text) for text in texts.values())  # every file has newlines: raw T5 loses them


@pytest.mark.skipif(not REAL.is_dir(), reason="no ../shared/data/moonscript-real on this machine")
def test_unseen_real_moonscript_roundtrips(raw, safe):
    files = _moon_files(REAL)
    assert files
    broken = [str(f.relative_to(REAL)) for f in files if not roundtrips(safe, f.read_text(encoding="utf-8"))]
    assert broken == []
    assert sum(roundtrips(raw, f.read_text(encoding="utf-8")) for f in files) < len(files) / 10


@pytest.mark.parametrize(
    "text",
    ["\tx = {1, 2}\n", "  two  spaces\n\n\n", "a\r\nb", "é ü 日本 🙂", "\t\t\t\tdeep", "", " ", "end\n"],
)
def test_code_safe_roundtrip_cases(safe, raw, text):
    assert roundtrips(safe, text)
    assert safe.unk_token_id not in encode_text(safe, text)


_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters=SPACE)
_CODEISH = st.lists(
    st.one_of(st.text(alphabet=_CHARS, max_size=8), st.sampled_from(LOOKALIKES + [HOLE, "\t", "\n", "\r\n", "   ", "{}", "日本 🙂"])),
    max_size=12,
).map("".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_CODEISH)
def test_any_text_roundtrips(any_safe, text):
    """Byte fallback and literal special-token text: no input becomes <unk> or changes (a literal U+2581 is the one exception)."""
    ids = encode_text(any_safe, text)
    assert decode_ids(any_safe, ids) == text
    assert any_safe.unk_token_id not in ids
    assert encode_batch(any_safe, [text, text[::-1]]) == [ids, encode_text(any_safe, text[::-1])]


@pytest.mark.parametrize("literal", LOOKALIKES)
def test_special_token_text_in_code_is_literal(any_safe, literal):
    code = f"x = '{literal}'\n\tprint \"{literal}\"{literal}"
    ids = encode_text(any_safe, code)
    assert not set(ids) & _forbidden_ids(any_safe)
    assert decode_ids(any_safe, ids) == code
    assert decode_ids(any_safe, ids, skip_special_tokens=True) == code


@pytest.mark.parametrize("suffix", ["\n  b = 2\n", "\tb\n", " b", "</s>\n<pad>", "\n\n"])
def test_hole_is_one_sentinel_and_adds_no_space(any_safe, suffix):
    prefix = "a = {1}\nif x\n"
    ids = encode_text(any_safe, student_prompt(prefix, suffix))
    hole = any_safe.convert_tokens_to_ids(HOLE)
    assert ids.count(hole) == 1
    assert set(ids) & _forbidden_ids(any_safe) == {hole}
    assert ids == encode_text(any_safe, prefix) + [hole] + encode_text(any_safe, suffix)
    assert decode_ids(any_safe, ids) == prefix + HOLE + suffix


@pytest.mark.skipif(not REAL.is_dir(), reason="no ../shared/data/moonscript-real on this machine")
def test_student_inputs_of_real_files_decode_exactly(any_safe):
    inputs = []
    for f in _moon_files(REAL):
        lines = split_lines(f.read_text(encoding="utf-8"))
        for cut in {len(lines) // 4, len(lines) // 2, 3 * len(lines) // 4}:  # hole of up to 3 lines at a line boundary
            inputs.append(student_prompt("".join(lines[:cut]), "".join(lines[cut + 3 :])))
    encoded = encode_batch(any_safe, inputs)
    broken = [i for i, (text, ids) in enumerate(zip(inputs, encoded)) if decode_ids(any_safe, ids) != text]
    assert broken == []
    hole = any_safe.convert_tokens_to_ids(HOLE)
    assert all(ids.count(hole) == 1 and any_safe.eos_token_id not in ids for ids in encoded)


def test_labels_decode_exactly_with_special_tokens_skipped(safe):
    code = "\tif x\n\t\treturn {a: 1}\n"
    ids = encode_text(safe, code) + [safe.eos_token_id]
    assert decode_ids(safe, [safe.pad_token_id] + ids, skip_special_tokens=True) == code


def test_hole_is_one_token(safe):
    ids = encode_text(safe, "a = 1\n" + HOLE + "\nb = 2")
    assert ids.count(safe.convert_tokens_to_ids(HOLE)) == 1


def test_saved_tokenizer_stays_code_safe(safe, tmp_path):
    safe.save_pretrained(tmp_path)
    from transformers import AutoTokenizer

    again = AutoTokenizer.from_pretrained(tmp_path)
    assert is_code_safe(again)
    assert make_code_safe(again) is again
    for text in ["class A\n\tnew: => @x = {}\n", "s = '</s><pad><unk><0x41>'\n" + HOLE + "\n  <extra_id_3>"]:
        assert encode_text(again, text) == encode_text(safe, text)
        assert roundtrips(again, text)


def test_resize_initialises_new_rows(raw, safe):
    model, _ = load_student("tiny-student", device="cpu")
    head = model.get_output_embeddings().weight.detach().clone()
    model = resize_for_tokenizer(model, raw, safe)
    # flan-t5's lm_head is its own matrix: resizing must neither tie it to the embeddings nor lose its rows
    assert model.get_output_embeddings().weight.data_ptr() != model.get_input_embeddings().weight.data_ptr()
    assert torch.equal(model.get_output_embeddings().weight[: len(raw)], head[: len(raw)])
    emb = model.get_input_embeddings().weight
    assert emb.shape[0] >= len(safe)
    space = raw.convert_tokens_to_ids(SPACE)
    newline = safe.convert_tokens_to_ids("\n")
    brace = safe.convert_tokens_to_ids("{")
    assert newline >= len(raw) and brace >= len(raw)
    assert torch.equal(emb[newline], emb[space])  # whitespace pieces start as a space
    assert torch.allclose(emb[brace], emb[: len(raw)].mean(0))  # other new pieces: the mean row
    assert torch.isfinite(model.get_output_embeddings().weight).all()


def test_token_overhead_is_measured_and_moderate(safe):
    teacher = load_tokenizer("tiny-teacher")
    texts = [f.read_text(encoding="utf-8") for f in _moon_files(SAMPLE)]
    overhead = token_overhead(safe, teacher, texts)
    assert 0.5 < overhead < 4.0
