"""FIM segmentation and spans: exact reassembly, no leak of the middle, no file in two splits, determinism."""

import json
import os
import random
import subprocess
import sys

import pandas as pd
import pytest
from datasets import load_from_disk
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from utils.__main__ import main
from utils.config import FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX, HOLE, REPO_ROOT, load_config
from utils.artifacts import load_stage
from utils.fim import (
    load_files,
    rebuild,
    FIM_FEATURES,
    SPAN_TYPES,
    build_fim,
    build_fim_dataset,
    choose_span,
    choose_spans,
    column_mapping,
    fim_html,
    fim_prompt,
    segment_text,
    split_lines,
    student_context,
    token_counter,
)

REAL = REPO_ROOT.parent / "shared" / "data" / "moonscript-real"

# text a property test should survive: unicode, CRLF, lone CR, tabs, trailing spaces, empty lines, odd separators
ALPHABET = st.sampled_from(list("ab xyz=(){}[]:.,'\"-\\") + ["\n", "\r\n", "\r", "\t", "  ", "    ", "é", "ß", "中", "😀", "\u2028", "\x0c", "\u00a0"])
TEXT = st.lists(ALPHABET, max_size=160).map("".join)


@pytest.fixture(scope="module")
def counts():
    """Token counters of the tiny teacher and the code-safe tiny student."""
    from utils.models import load_tokenizer
    from utils.tokenization import make_code_safe

    return token_counter(load_tokenizer("tiny-teacher")), token_counter(make_code_safe(load_tokenizer("tiny-student")))


def check_row(row: dict) -> None:
    """The contract's invariants for one FIM row."""
    assert row["student_input"].count(HOLE) == 1
    tail, head = row["student_input"].split(HOLE)
    assert row["prefix"].endswith(tail) and row["suffix"].startswith(head)  # the hole sits where the middle was
    assert row["middle"].strip()
    assert row["span_type"] in SPAN_TYPES
    assert row["teacher_input"] in (fim_prompt(row["prefix"], row["suffix"], "psm"), fim_prompt(row["prefix"], row["suffix"], "spm"))
    if row["middle"] not in row["prefix"] + row["suffix"]:  # otherwise the text legitimately repeats elsewhere
        assert row["middle"] not in row["student_input"]


def check_dataset(ds, segment_tokens: int) -> None:
    """Invariants across a whole FIM DatasetDict."""
    seen: dict[str, str] = {}
    ids = set()
    for split, part in ds.items():
        assert set(part.column_names) == set(FIM_FEATURES)
        for row in part:
            check_row(row)
            assert row["split"] == split and seen.setdefault(row["source"], split) == split  # no file in two splits
            assert row["id"] not in ids
            ids.add(row["id"])
            assert row["segment_tokens"] <= segment_tokens


@settings(max_examples=150, deadline=None)
@given(TEXT)
def test_split_lines_reassembles(text):
    lines = split_lines(text)
    assert "".join(lines) == text
    assert all(line.endswith("\n") for line in lines[:-1]) and all("\n" not in line[:-1] for line in lines)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT, max_tokens=st.integers(4, 40))  # 4: a character is at most 4 byte-level tokens
def test_segments_reassemble_and_respect_the_limit(counts, text, max_tokens):
    teacher, _ = counts
    windows = segment_text(text, teacher, max_tokens)
    assert "".join(windows) == text
    assert all(windows) and all(n <= max_tokens for n in teacher(windows))
    # line boundaries: only a window holding part of one over-long line may end without a newline
    for w in windows[:-1]:
        assert w.endswith("\n") or "\n" not in w


@settings(max_examples=150, deadline=None)
@given(text=TEXT, seed=st.integers(0, 1000), kind=st.sampled_from(SPAN_TYPES))
def test_spans_cut_the_segment_exactly(text, seed, kind):
    cfg = load_config("tiny")
    span = choose_span(text, kind, random.Random(seed), cfg)
    if span is None:
        return
    start, end = span
    prefix, middle, suffix = text[:start], text[start:end], text[end:]
    assert prefix + middle + suffix == text and middle.strip() and len(middle) <= cfg.max_middle_chars
    if kind == "single_line":
        assert split_lines(middle) == [middle] and (not prefix or prefix.endswith("\n"))
    if kind == "multi_line":
        assert 2 <= len(split_lines(middle)) <= cfg.max_middle_lines and (not prefix or prefix.endswith("\n"))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT, seed=st.integers(0, 1000), budget=st.integers(1, 60))
def test_student_context_keeps_the_hole_and_fits(counts, text, seed, budget):
    _, student = counts
    cfg = load_config("tiny")
    for kind, start, end in choose_spans(text, random.Random(seed), cfg, 2):
        prefix, suffix = text[:start], text[end:]
        tail, head = student_context(prefix, suffix, student, budget)
        assert prefix.endswith(tail) and suffix.startswith(head)
        student_input = tail + HOLE + head
        assert student_input.count(HOLE) == 1
        assert student([student_input])[0] <= max(budget, student([HOLE])[0])
        if student([prefix + HOLE + suffix])[0] <= budget:
            assert (tail, head) == (prefix, suffix)  # nothing cut when it fits


def test_student_context_trims_from_the_outside_on_line_boundaries(counts):
    _, student = counts
    prefix = "".join(f"line_{i} = {i}\n" for i in range(200)) + "  x = "
    suffix = "\n" + "".join(f"after_{i} = {i}\n" for i in range(200))
    tail, head = student_context(prefix, suffix, student, 100)
    assert student([tail + HOLE + head])[0] <= 100
    assert tail.endswith("line_199 = 199\n  x = ") and tail.startswith("line_")  # whole lines, nearest kept
    assert head.startswith("\nafter_0 = 0\n") and head.endswith("\n")
    assert 20 < student([tail])[0] and 20 < student([head])[0]  # both sides keep context


def test_tiny_dataset_contract(fim_dataset):
    check_dataset(fim_dataset, load_config("tiny").segment_tokens)
    rows = sum(len(p) for p in fim_dataset.values())
    assert 200 <= rows <= 600, rows
    assert all(len(p) for p in fim_dataset.values())
    span_types = set(fim_dataset["train"]["span_type"])
    assert span_types == set(SPAN_TYPES)
    row = fim_dataset["train"][0]
    assert row["teacher_input"].startswith(FIM_PREFIX) and FIM_SUFFIX in row["teacher_input"]
    assert row["teacher_input"].endswith(FIM_MIDDLE)  # psm by default


def test_same_seed_same_dataset_other_seed_differs(fim_dataset):
    cfg = load_config("tiny")
    again = build_fim_dataset(cfg)
    for split in fim_dataset:
        assert again[split].to_list() == fim_dataset[split].to_list()
    other = build_fim_dataset(load_config("tiny", seed=7))
    assert other["test"]["source"] != fim_dataset["test"]["source"] or other["train"]["id"] != fim_dataset["train"]["id"]


def test_caps_mode_and_trimming(counts):
    cfg = load_config("tiny", fim_mode="spm", max_examples={"train": 20, "valid": 3, "test": None},
                      max_segments_per_file=1, spans_per_segment=1, student_max_input_tokens=64, segment_tokens=200)
    build = build_fim(cfg)
    ds = build.dataset
    assert (len(ds["train"]), len(ds["valid"])) == (20, 3) and len(ds["test"]) == len(set(ds["test"]["source"]))
    assert all(t.startswith(FIM_PREFIX + FIM_SUFFIX) for t in ds["train"]["teacher_input"])
    assert any(ds["train"]["student_trimmed"]) and max(ds["train"]["student_input_tokens"]) <= 64 - cfg.student_reserve_tokens
    check_dataset(ds, 200)
    assert build.stats["splits"]["valid"]["rows"] == 3


def test_one_huge_file_is_windowed_and_capped(tmp_path, counts):
    teacher, _ = counts
    body = "".join(f"value_{i} = compute {i}, {{a: {i}}}\n" for i in range(6000))  # ~200 KB, one file
    (tmp_path / "huge.moon").write_text(body)
    for name in "abc":
        (tmp_path / f"{name}.moon").write_text(f"{name} = ->\n  print '{name}'\n" * 5)
    cfg = load_config("tiny", max_file_bytes=1_000_000, max_segments_per_file=5)
    build = build_fim(cfg, str(tmp_path))
    huge = [s for s in build.segments if s["source"].endswith("huge.moon")]
    assert len(huge) == 5 and build.stats["segments"]["skipped"]["over_max_segments_per_file"] > 100
    assert all(s["segment"] in body and s["tokens"] <= cfg.segment_tokens for s in huge)
    check_dataset(build.dataset, cfg.segment_tokens)


def test_bad_files_do_not_stop_the_build(tmp_path):
    good = "class A\n  new: => @x = 1\n  get: => @x\n\nf = (a, b) ->\n  a + b\n"
    for i in range(5):
        (tmp_path / f"g{i}.moon").write_text(good + f"-- file {i}\n")
    (tmp_path / "empty.moon").write_text("")
    (tmp_path / "bin.moon").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xd8")
    build = build_fim(load_config("tiny"), str(tmp_path))
    assert dict(zip(build.log["reason"].value_counts().index, build.log["reason"].value_counts())) == {"kept": 5, "empty": 1, "not_utf8": 1}
    assert {d["reason"] for d in build.stats["dropped"]} == {"empty", "not_utf8"}
    check_dataset(build.dataset, 256)


def test_cli_refuses_unusable_corpora_in_one_line(tmp_path, capsys):
    (tmp_path / "only.txt").write_text("nothing here")
    assert main(["fim", "--corpus", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no .moon files") and err.count("\n") == 1
    for i in range(2):
        (tmp_path / f"f{i}.moon").write_text(f"x{i} = ->\n  print {i}\n" * 10)
    assert main(["fim", "--corpus", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "too small to split" in capsys.readouterr().err


def test_cli_builds_the_artifact(tmp_path):
    """`python -m utils fim` end to end in a subprocess, sample corpus, a capped build."""
    out = tmp_path / "fim"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "utils", "fim", "--corpus", "sample", "--out", str(out), "--set", "spans_per_segment=1",
           "--set", 'max_examples={"train": 40, "valid": null, "test": null}']
    done = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    n = len(list((REPO_ROOT / "data" / "moonscript").rglob("*.moon")))
    assert f"{n} files read, {n} kept" in done.stdout and "wrote" in done.stdout
    ds = load_from_disk(str(out / "dataset"))
    assert len(ds["train"]) == 40 and len(pd.read_parquet(out / "test.parquet")) == len(ds["test"])
    split = json.loads((out / "split.json").read_text())
    stats = json.loads((out / "stats.json").read_text())
    assert len(split) == n and stats["files_kept"] == n and stats["splits"]["train"]["rows"] == 40
    check_dataset(ds, 256)
    assert all(split[s] == name for name in ds for s in ds[name]["source"])


@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/data/moonscript-real is not present (fresh clone)")
def test_real_moonscript_never_seen(tmp_path, monkeypatch, capsys):
    """Done-when of issue 3: real MoonScript, given as the README does (relative to the repo root)."""
    monkeypatch.chdir(REPO_ROOT)
    assert main(["fim", "--corpus", "../shared/data/moonscript-real", "--out", str(tmp_path)]) == 0
    assert "files read" in capsys.readouterr().out
    ds = load_from_disk(str(tmp_path / "dataset"))
    check_dataset(ds, 256)  # every row reassembles, no file crosses splits, no student input holds its middle
    assert sum(len(p) for p in ds.values()) > 300
    split = json.loads((tmp_path / "split.json").read_text())
    assert all(split[s] == name for name in ds for s in ds[name]["source"])  # rows agree with split.json
    assert set(split.values()) == {"train", "valid", "test"}


def test_pictures_and_mapping(fim_dataset):
    row = dict(fim_dataset["train"][0], middle="<b>&")
    page = fim_html(row)
    assert "&lt;b&gt;&amp;" in page and page.count("<span style=\"background:") == 6  # 3 parts + 3 legend swatches
    mapping = dict(column_mapping().values)
    assert mapping == {"label_middles": "middle", "santacoder_outputs": "teacher_middle",
                       "openai_rationales": "rationale", "fim_inputs": "teacher_input"}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT, max_tokens=st.integers(4, 40), seed=st.integers(0, 1000), middle=TEXT)
def test_rebuild_puts_any_middle_back_into_its_whole_file(counts, text, max_tokens, seed, middle):
    """`rebuild(row, true middle)` is the file byte for byte; any other middle replaces exactly the true one."""
    teacher, _ = counts
    windows = segment_text(text, teacher, max_tokens)
    starts = [len("".join(windows[:k])) for k in range(len(windows))]
    rng = random.Random(seed)
    cfg = load_config("tiny")
    for k, window in enumerate(windows):
        for kind, start, end in choose_spans(window, rng, cfg, 2):
            row = {"source": "f", "segment_start": starts[k], "prefix": window[:start], "middle": window[start:end], "suffix": window[end:]}
            assert rebuild(row, row["middle"], {"f": text}) == text
            other = rebuild(row, middle, {"f": text})
            assert other == text[: starts[k] + start] + middle + text[starts[k] + end :]


def test_every_saved_row_rebuilds_its_file(fim_cfg):
    """The artifact carries what `rebuild` needs: files.parquet and each row's segment offset."""
    files = load_files(fim_cfg)
    ds = load_stage(fim_cfg, "fim")
    rows = [r for split in ds for r in ds[split]]
    assert len(rows) > 100 and {r["source"] for r in rows} <= set(files)
    assert all(rebuild(r, r["middle"], files) == files[r["source"]] for r in rows)


def test_a_folder_mixing_good_and_bad_items_builds_and_counts_each(tmp_path, capsys):
    """Issue 11's done-when: unreadable entries are counted with their reason; code holding special-token text
    (`</s>`, `<pad>`, `<unk>`, `<0x41>`) is kept, and the student reads that text as text, never as EOS / pad / unk."""
    from utils.models import load_tokenizer
    from utils.tokenization import encode_batch, make_code_safe

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    good = "class A\n  new: => @x = 1\n  get: => @x\n\nf = (a, b) ->\n  a + b\n"
    for i in range(6):
        (corpus / f"g{i}.moon").write_text(good + f"-- file {i}\n")
    tricky = 'html = "<p></s><pad></p>"\nunk = "<unk>"\nbyte = "<0x41>"\nshow = (s) ->\n  print s\n'
    (corpus / "tricky.moon").write_text(tricky * 3)
    (corpus / "loop.moon").symlink_to(corpus / "loop.moon")
    (corpus / "dangling.moon").symlink_to(corpus / "nowhere.moon")
    (corpus / "dir.moon").mkdir()
    out = tmp_path / "fim"
    assert main(["fim", "--corpus", str(corpus), "--out", str(out)]) == 0
    log = pd.read_csv(out / "filters.csv")
    reasons = dict(zip(log["source"].str.split("/").str[-1], log["reason"]))
    assert reasons["loop.moon"] == "symlink_loop" and reasons["dangling.moon"] == "dangling_symlink"
    assert reasons["dir.moon"] == "not_a_file" and reasons["tricky.moon"] == "kept"
    assert "dropped: symlink_loop" in capsys.readouterr().out
    ds = load_from_disk(str(out / "dataset"))
    rows = [r for split in ds for r in ds[split] if r["source"].endswith("tricky.moon")]
    assert rows
    tok = make_code_safe(load_tokenizer("tiny-student"))
    specials = {tok.eos_token_id, tok.pad_token_id, tok.unk_token_id}
    for r in rows:
        for text in (r["student_input"], r["middle"]):
            assert not specials & set(encode_batch(tok, [text])[0])
