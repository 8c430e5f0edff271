import subprocess
import sys

import pytest

from conftest import REAL_MOONSCRIPT
from utils.config import REPO_ROOT, STUDENT_HUB_ID, TEACHER_HUB_ID, load_config
from utils.inspection import REAL_CONFIGS, count_parameters, describe, diff_html, kv_cache_bytes, kv_cache_table, roundtrip_report


def test_real_sizes_from_meta_device():
    assert 1.10e9 < count_parameters(REAL_CONFIGS[TEACHER_HUB_ID]) < 1.15e9  # santacoder: about 1.1B
    assert 76.5e6 < count_parameters(REAL_CONFIGS[STUDENT_HUB_ID]) < 77.5e6  # flan-t5-small: about 77M


def test_architecture_facts():
    t, s = describe(REAL_CONFIGS[TEACHER_HUB_ID]), describe(REAL_CONFIGS[STUDENT_HUB_ID])
    assert t["key/value heads"] == "1 (multi-query)" and t["context (tokens)"] == 2048
    assert s["tied lm_head"] is False and s["layers"] == "8 enc + 8 dec"
    # multi-query: the teacher's KV cache is n_head times smaller than multi-head would be
    mha = REAL_CONFIGS[TEACHER_HUB_ID].to_dict() | {"multi_query": False}
    from transformers import GPTBigCodeConfig

    assert kv_cache_bytes(GPTBigCodeConfig(**mha), 100) == 16 * kv_cache_bytes(REAL_CONFIGS[TEACHER_HUB_ID], 100)


def test_kv_cache_table_shows_what_multi_query_saves():
    table = kv_cache_table({"santacoder": REAL_CONFIGS[TEACHER_HUB_ID], "flan-t5-small": REAL_CONFIGS[STUDENT_HUB_ID]})
    assert list(table.index) == ["santacoder", "santacoder, multi-head (comparison)", "flan-t5-small"]
    mib = table["KV cache, 2048 tokens, 16-bit (MiB)"]
    assert mib["santacoder, multi-head (comparison)"] == 16 * mib["santacoder"] == 384.0
    assert table.loc["santacoder, multi-head (comparison)", "key/value heads"] == "16 (multi-head)"


def test_diff_html_marks_lost_whitespace():
    out = diff_html("a\n  b {c}", "a b c")
    assert "<del" in out and "⏎" in out and "{" in out


def _rates(report: str) -> dict[str, float]:
    lines = [l.split() for l in report.splitlines() if l.strip().endswith(")") and "%" in l]
    return {" ".join(p[:-2]): float(p[-2].rstrip("%")) for p in lines}


def test_roundtrip_on_sample_corpus():
    rates = _rates(roundtrip_report(REPO_ROOT / "data" / "moonscript", load_config("tiny"), show_files=False))
    assert rates["teacher"] == 100.0
    assert rates["student (code-safe)"] == 100.0
    assert rates["student (raw)"] < 20.0


@pytest.mark.skipif(not REAL_MOONSCRIPT.exists(), reason="../shared/data/moonscript-real is not beside this checkout")
def test_roundtrip_cli_on_real_moonscript():
    out = subprocess.run(
        [sys.executable, "-m", "utils", "roundtrip", str(REAL_MOONSCRIPT)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=True,
    ).stdout
    assert "DAMAGED" in out  # the per-file table shows the raw student's damage
    rates = _rates(out)
    assert rates["teacher"] == 100.0 and rates["student (code-safe)"] == 100.0
    assert rates["student (raw)"] < 20.0


@pytest.mark.parametrize(
    "argv, message",
    [
        (["roundtrip", "no/such/dir"], "is not a folder"),
        (["run", "--profile", "huge"], "unknown profile 'huge'"),
        (["run", "--set", "batchsize=3"], "unknown setting 'batchsize'"),
    ],
)
def test_cli_bad_input_is_one_line(argv, message):
    res = subprocess.run([sys.executable, "-m", "utils", *argv], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert message in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_roundtrip_cli_honours_set_and_refuses_bad_settings(tmp_path, capsys):
    """`roundtrip` reads --profile / --set like every command: a missing student folder or an unknown setting is refused."""
    from utils.__main__ import main
    from utils.models import load_tokenizer

    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "a.moon").write_text("x = {1, 2}\n\tprint x\n")
    assert main(["roundtrip", str(tmp_path / "code"), "--set", "student=/does/not/exist", "--set", "bogus=1"]) == 2
    assert "bogus" in capsys.readouterr().err
    assert main(["roundtrip", str(tmp_path / "code"), "--set", "student=/does/not/exist"]) == 2
    assert "/does/not/exist" in capsys.readouterr().err
    # a folder holding a tokenizer is used as the student
    load_tokenizer("tiny-student").save_pretrained(tmp_path / "student")
    assert main(["roundtrip", str(tmp_path / "code"), "--summary", "--set", f"student={tmp_path / 'student'}"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "student") in out and "(1/1)" in out
