"""The shared house of the stages: the JSONL cache, the per-stage lock, printable paths."""

import json
import multiprocessing

import pytest

from utils.artifacts import JsonlCache, relative, stage_lock
from utils.config import REPO_ROOT, UserError, load_config


def test_cache_survives_torn_lines_and_bytes_that_are_not_utf8(tmp_path):
    cache = JsonlCache(tmp_path / "cache.jsonl")
    cache.append([{"id": "a", "n": 1}, {"id": "b", "n": 2}])
    with open(cache.path, "ab") as fh:
        fh.write(b'\xff\xfe\x80garbage\n{"id": "c", "n"')  # bytes that are not UTF-8, then a torn last line
    assert [r["id"] for r in cache.records()] == ["a", "b"]
    assert cache.skipped == 2
    cache.append([{"id": "d", "n": 4}])  # the torn line must not swallow the new record
    assert [r["id"] for r in cache.records()] == ["a", "b", "d"]
    assert json.loads(cache.path.read_text(encoding="utf-8", errors="replace").splitlines()[-1]) == {"id": "d", "n": 4}


def _hold(folder: str, ready, release) -> None:
    cfg = load_config("tiny", artifacts_dir=folder, run_name="locked")
    with stage_lock(cfg, "teacher"):
        ready.set()
        release.wait(60)


def test_a_second_run_of_a_stage_is_refused_and_told_who_holds_it(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(tmp_path), ready, release))
    holder.start()
    try:
        assert ready.wait(120)
        cfg = load_config("tiny", artifacts_dir=str(tmp_path), run_name="locked")
        with pytest.raises(UserError, match=rf"teacher stage of run 'locked' is already running \(pid {holder.pid},"):
            with stage_lock(cfg, "teacher"):
                pass
        with stage_lock(cfg, "rationale"):  # other stages are free
            pass
    finally:
        release.set()
        holder.join(60)
    with stage_lock(cfg, "teacher"):  # free again once the holder is done
        pass


def test_paths_in_outputs_are_relative_to_the_repo():
    assert relative(REPO_ROOT / "utils" / "config.py") == "utils/config.py"
    assert relative("/elsewhere/x") == "/elsewhere/x"
