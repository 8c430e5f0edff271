"""utils.rationale against real HTTP servers on 127.0.0.1: a fake OpenAI server (429, 500, holds, counts)
and the tiny explainer's chat endpoint. No mocked clients."""

import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from datasets import Dataset, DatasetDict

from utils.config import REPO_ROOT, UserError, load_config
from utils.artifacts import load_merged, load_stage, save_stage, stage_dir, stage_lock
from utils.endpoint import PLACEHOLDER_KEY, redact, resolve_api_key
from utils.rationale import (
    build_messages,
    cache_path,
    check_rationale,
    estimate_cost,
    generate_rationales,
    load_cache,
    price_for,
    prompt_id,
    rationale_stats,
)

SECRET = "sk-test-SECRET123abcdefXYZ"
ALL_SPLITS = ("train", "valid", "test")
FAST = dict(rationale_retries=2, rationale_timeout_s=20, rationale_splits=ALL_SPLITS)


# --------------------------------------------------------------------------- helpers


def synthetic_fim(n_per_split: int = 2) -> DatasetDict:
    """Rows with the FIM contract columns; row i's middle sets @value_i (the fake server keys on it)."""
    parts, i = {}, 0
    for split in ("train", "valid", "test"):
        rows = []
        for _ in range(n_per_split):
            prefix, middle, suffix = f"class Box{i}\n\tnew: =>\n", f"\t\t@value_{i} = {i}\n", f"\tget: => @value_{i}\n"
            rows.append({"id": f"synthetic/box{i}.moon#0:0-1", "source": f"synthetic/box{i}.moon", "split": split,
                         "prefix": prefix, "middle": middle, "suffix": suffix, "span_type": "single_line",
                         "teacher_input": f"<fim-prefix>{prefix}<fim-suffix>{suffix}<fim-middle>",
                         "student_input": f"{prefix}<extra_id_0>{suffix}"})
            i += 1
        parts[split] = Dataset.from_list(rows)
    return DatasetDict(parts)


def make_cfg(tmp_path, fim: DatasetDict | None = None, **overrides):
    overrides.setdefault("rationale_splits", ALL_SPLITS)  # most tests explain every split; one checks the default
    cfg = load_config("tiny", artifacts_dir=str(tmp_path / "artifacts"), run_name="unit", **overrides)
    save_stage(fim if fim is not None else synthetic_fim(), stage_dir(cfg, "fim"))
    return cfg


class FakeOpenAI:
    """An OpenAI-compatible /v1/chat/completions on a free loopback port, scripted per row (keyed by value_N)."""

    def __init__(self, rate_limit_once=(), always_500=(), hold_after=None, answers=None, usage=(50, 20), delay=0.0,
                 unauthorized=False, garbage=(), empty_first=(), empty_always=()):
        self.rate_limit_once, self.always_500 = set(rate_limit_once), set(always_500)
        self.hold_after, self.answers, self.usage, self.delay = hold_after, dict(answers or {}), usage, delay
        self.unauthorized, self.garbage = unauthorized, set(garbage)
        self.empty_first, self.empty_always = set(empty_first), set(empty_always)
        self.bodies: list[dict] = []
        self.requests: list[tuple[str, float]] = []  # (row key, time)
        self.auth: set[str] = set()
        self.lock = threading.Lock()
        self.inflight = self.max_inflight = 0
        self.held = threading.Event()  # set when a request arrives past hold_after
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                auth = self.headers.get("Authorization", "")
                user = body["messages"][-1]["content"]
                key = re.search(r"<middle>\n.*?value_(\d+)", user, re.S)
                key = f"value_{key[1]}" if key else "?"
                with fake.lock:
                    fake.requests.append((key, time.time()))
                    fake.bodies.append(body)
                    fake.auth.add(auth)
                    n = len(fake.requests)
                    fake.inflight += 1
                    fake.max_inflight = max(fake.max_inflight, fake.inflight)
                try:
                    if fake.hold_after is not None and n > fake.hold_after:
                        fake.held.set()
                        fake.release.wait(30)
                        return self._send(503, {"error": {"message": "released"}})
                    time.sleep(fake.delay)
                    if key in fake.garbage:  # a proxy's HTML error page, with status 200
                        data = b"<html><body>Bad Gateway</body></html>"
                        self.send_response(200)
                        self.send_header("Content-Type", "text/html")
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data)
                        return
                    if fake.unauthorized:
                        return self._send(401, {"error": {"message": "Incorrect API key provided: sk-tes***XYZ"}})
                    if key in fake.always_500:  # a buggy server that echoes the caller's credentials
                        return self._send(500, {"error": {"message": f"internal error, request had {auth}"}})
                    if key in fake.rate_limit_once:
                        with fake.lock:
                            first = [k for k, _ in fake.requests].count(key) == 1
                        if first:
                            return self._send(429, {"error": {"message": "slow down"}}, {"Retry-After": "1"})
                    text = fake.answers.get(key, f"The missing code has to set @{key} so that the get method can return it.")
                    if isinstance(text, list):  # successive answers for the same row
                        with fake.lock:
                            text = text.pop(0) if len(text) > 1 else text[0]
                    finish = "stop"
                    if key in fake.empty_always or (key in fake.empty_first and fake.count(key) == 1):
                        text, finish = "", "length"  # a reasoning model that thought until the budget ran out
                    self._send(200, {
                        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": body["model"],
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
                        "usage": {"prompt_tokens": fake.usage[0], "completion_tokens": fake.usage[1],
                                  "total_tokens": sum(fake.usage)},
                    })
                finally:
                    with fake.lock:
                        fake.inflight -= 1

            def _send(self, status, obj, headers=None):
                data = json.dumps(obj).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client was killed
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def count(self, key: str) -> int:
        return [k for k, _ in self.requests].count(key)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def statuses(ds: DatasetDict) -> dict[str, str]:
    return {r["id"].split("/")[1].split(".")[0]: r["rationale_status"] for s in ds for r in ds[s]}


# --------------------------------------------------------------------------- prompt, gate, cost, keys


def test_prompt_shows_the_whole_segment_asks_for_n_words_and_is_versioned(tmp_path):
    msgs = build_messages("a = 1\n", "b = a + 1\n", "print b\n", max_words=42, few_shot=2)
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user", "assistant", "user"]
    last = msgs[-1]["content"]
    assert "at most 42 words" in last and "<middle>\nb = a + 1\n</middle>" in last and "print b" in last
    base = load_config("tiny")
    assert prompt_id(base) != prompt_id(load_config("tiny", rationale_few_shot=1)) != prompt_id(
        load_config("tiny", rationale_max_words=30))
    with pytest.raises(UserError):
        build_messages("", "x", "", few_shot=9)


@pytest.mark.parametrize("text, verdict", [
    ("", "empty"), ("   ", "empty"), (None, "empty"),
    ("I'm sorry, but I cannot explain this code.", "refusal"),
    ("As an AI I cannot see files, but the code sets x to one.", "refusal"),
    ("```moonscript\n@items[@last] = value\n```", "code_only"),
    ("@last += 1; @items[@last] = value; return @items[@last] or nil", "code_only"),
    ("Sets the value.", "too_short"),
    ("The missing code has to add one to @last and store value in @items, so pop_back finds it.", None),
])
def test_quality_gate(text, verdict):
    assert check_rationale(text, max_words=60, min_words=6) == verdict


def test_prices_estimates_and_the_spending_limit_stop_before_any_request(tmp_path):
    assert price_for("gpt-4o-mini", "https://api.openai.com/v1") == (0.15, 0.60)
    assert price_for("gpt-4o-mini-2024-07-18", "https://api.openai.com/v1") == (0.15, 0.60)  # longest prefix wins
    assert price_for("gpt-4o", "https://api.openai.com/v1") == (2.50, 10.00)
    assert price_for("anything", "http://127.0.0.1:8000/v1") == (0.0, 0.0)
    assert price_for("my-model", "https://example.com/v1", override=(1, 2)) == (1.0, 2.0)
    with pytest.raises(UserError, match="rationale_price_per_mtok"):
        price_for("my-model", "https://example.com/v1")
    with FakeOpenAI() as fake:
        cfg = make_cfg(tmp_path, rationale_base_url=fake.url, rationale_model="gpt-4o-mini",
                       rationale_price_per_mtok=(1000.0, 1000.0), max_cost_usd=0.5, **FAST)
        table = estimate_cost(load_stage(cfg, "fim"), cfg)
        assert table.loc["total", "requests"] == 6 and table.loc["total", "usd"] > 0.5
        assert table.loc["total", "output tokens (max)"] == 6 * cfg.rationale_max_tokens
        with pytest.raises(UserError, match="max_cost_usd"):
            generate_rationales(cfg, progress=False)
        dry = load_config("tiny", artifacts_dir=cfg.artifacts_dir, run_name="unit", rationale_base_url=fake.url,
                          rationale_model="gpt-4o-mini", dry_run=True, rationale_price_per_mtok=(1000.0, 1000.0))
        out = generate_rationales(dry, progress=False)
        assert set(statuses(out).values()) == {"skipped"}
        assert fake.requests == []  # nothing was sent
        assert not (stage_dir(cfg, "rationale") / "dataset").exists()


def test_budget_ledger_stops_mid_run_and_the_next_run_finishes(tmp_path):
    # the server reports far more tokens than estimated: the ledger stops sending, rows left are 'skipped'
    with FakeOpenAI(usage=(20_000, 100)) as fake:
        cfg = make_cfg(tmp_path, rationale_base_url=fake.url, rationale_model="gpt-4o-mini", rationale_concurrency=1,
                       rationale_price_per_mtok=(10.0, 10.0), max_cost_usd=0.5, **FAST)
        out = generate_rationales(cfg, progress=False)
        st = list(statuses(out).values())
        assert st.count("ok") == len(fake.requests) >= 1 and "skipped" in st
        summary = json.loads((stage_dir(cfg, "rationale") / "run_summary.json").read_text())
        assert summary["stopped"] == "budget"
        more = load_config("tiny", artifacts_dir=cfg.artifacts_dir, run_name="unit", rationale_base_url=fake.url,
                           rationale_model="gpt-4o-mini", rationale_price_per_mtok=(10.0, 10.0), max_cost_usd=100.0, **FAST)
        n_before = len(fake.requests)
        out = generate_rationales(more, progress=False)
        assert set(statuses(out).values()) == {"ok"}
        assert len(fake.requests) == n_before + st.count("skipped")  # only the skipped rows were asked


def test_missing_key_for_a_remote_server_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    cfg = make_cfg(tmp_path, rationale_base_url="https://api.example.invalid/v1", rationale_model="gpt-4o-mini")
    with pytest.raises(UserError) as err:
        generate_rationales(cfg, progress=False)
    assert "OPENAI_API_KEY" in str(err.value) and "api.example.invalid" in str(err.value)
    assert resolve_api_key("http://127.0.0.1:9/v1", "OPENAI_API_KEY") == PLACEHOLDER_KEY  # loopback servers need none
    assert resolve_api_key("https://x.example/v1", "OPENAI_API_KEY", started_here=True) == PLACEHOLDER_KEY
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    assert resolve_api_key("https://api.openai.com/v1", "OPENAI_API_KEY") == SECRET
    assert SECRET not in redact(f"Incorrect API key provided: {SECRET}. Bearer {SECRET}", (SECRET,))
    assert "sk-" not in redact("key sk-proj-abcdefgh1234 leaked")


def test_a_rejected_key_stops_the_run_with_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with FakeOpenAI(unauthorized=True) as fake:
        cfg = make_cfg(tmp_path, rationale_base_url=fake.url, rationale_model="gpt-4o-mini", **FAST)
        with pytest.raises(UserError, match="OPENAI_API_KEY") as err:
            generate_rationales(cfg, progress=False)
        assert SECRET not in str(err.value) and "401" in str(err.value)
        assert len(fake.requests) <= cfg.rationale_concurrency  # no retries on a refused key


# --------------------------------------------------------------------------- retries, failures, resume, secrets


def test_429_is_retried_after_retry_after_a_failing_row_is_marked_and_retried_next_run(tmp_path, monkeypatch, capfd,
                                                                                        caplog):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    with FakeOpenAI(rate_limit_once={"value_1"}, always_500={"value_3"}, delay=0.05) as fake:
        cfg = make_cfg(tmp_path, rationale_base_url=fake.url, rationale_model="gpt-4o-mini", rationale_concurrency=2,
                       **FAST)
        out = generate_rationales(cfg, progress=True)
        st = statuses(out)
        assert st.pop("box3") == "failed" and set(st.values()) == {"ok"}
        # 429 then 200: retried once, after the server's Retry-After (1 s), and kept
        times = [t for k, t in fake.requests if k == "value_1"]
        assert len(times) == 2 and times[1] - times[0] >= 0.95
        # the failing row used the first attempt plus rationale_retries, then was recorded with its error
        assert fake.count("value_3") == 1 + FAST["rationale_retries"]
        row = [r for s in out for r in out[s] if r["id"].startswith("synthetic/box3")][0]
        assert row["rationale"] is None and "500" in row["rationale_error"] and "request had ***" in row["rationale_error"]
        assert fake.max_inflight <= 2  # bounded concurrency
        assert fake.auth == {f"Bearer {SECRET}"}  # the key was really used...
        # next run: only the failed row is asked again; the server has recovered
        fake.always_500.clear()
        before = {k: fake.count(k) for k in ("value_0", "value_1", "value_2", "value_4", "value_5")}
        out = generate_rationales(cfg, progress=True)
        assert set(statuses(out).values()) == {"ok"}
        assert {k: fake.count(k) for k in before} == before and fake.count("value_3") == 4
        merged = load_merged(cfg, require=("rationale",))
        assert all(all(merged[s]["rationale"]) for s in merged) and all(r.startswith("The missing code") for r in merged["test"]["rationale"])
        assert set(load_stage(cfg, "rationale")["train"]["rationale_prompt_version"]) == {prompt_id(cfg)}
    # ...and appears in no output, log line, cache, dataset or parquet file
    captured = capfd.readouterr()
    assert "SECRET123" not in captured.out + captured.err + caplog.text
    for path in cfg.run_dir.rglob("*"):
        if path.is_file():
            assert b"SECRET123" not in path.read_bytes(), path


def _failed_run(cfg):
    """Run the stage expecting the dead-endpoint error; return its message."""
    with pytest.raises(UserError) as err:
        generate_rationales(cfg, progress=False)
    return str(err.value)


def test_an_endpoint_that_never_answers_is_an_error_naming_the_timeout(tmp_path):
    with FakeOpenAI(hold_after=0) as fake:  # accepts every request and never answers
        cfg = make_cfg(tmp_path, rationale_base_url=fake.url, rationale_model="gpt-4o-mini", rationale_splits=("train",),
                       rationale_retries=0, rationale_timeout_s=3)
        message = _failed_run(cfg)
    assert "2 of the 2 rows" in message and "timed out" in message and "rationale_timeout_s" in message
    assert fake.url in message
    st = load_stage(cfg, "rationale")["train"]["rationale_status"]  # saved, with every row marked
    assert st == ["failed", "failed"]


def test_an_endpoint_that_is_down_is_an_error_naming_the_url(tmp_path):
    from utils.server import free_port

    url = f"http://127.0.0.1:{free_port()}/v1"
    cfg = make_cfg(tmp_path, rationale_base_url=url, rationale_model="gpt-4o-mini", rationale_retries=1)
    message = _failed_run(cfg)
    assert "connection refused" in message and url in message and "rationale_base_url" in message


def test_garbage_from_most_rows_is_an_error_and_the_answers_received_are_kept(tmp_path):
    with FakeOpenAI(garbage={"value_1", "value_2", "value_3", "value_4"}) as fake:
        cfg = make_cfg(tmp_path, rationale_base_url=fake.url, rationale_model="gpt-4o-mini", **FAST)
        message = _failed_run(cfg)
        assert "4 of the 6 rows" in message and "not with OpenAI-style JSON" in message
        assert "2 answers received are saved" in message
        ok = {r["id"] for r in load_cache(cache_path(cfg)).values() if r["status"] == "ok"}
        assert {i.split("/")[1][:4] for i in ok} == {"box0", "box5"}
        fake.garbage.clear()  # the server is fixed: the next run asks only the rows that failed
        out = generate_rationales(cfg, progress=False)
        assert set(statuses(out).values()) == {"ok"}
        assert fake.count("value_0") == 1 and fake.count("value_5") == 1 and fake.count("value_1") == 2


def test_a_second_concurrent_run_is_refused_and_sends_nothing(tmp_path):
    with FakeOpenAI() as fake:
        cfg = make_cfg(tmp_path, rationale_base_url=fake.url, rationale_model="gpt-4o-mini", **FAST)
        with stage_lock(cfg, "rationale"):
            with pytest.raises(UserError, match=r"already running \(pid \d+"):
                generate_rationales(cfg, progress=False)
        assert fake.requests == [] and not cache_path(cfg).exists()


def test_a_cache_with_bad_bytes_and_a_torn_line_keeps_working_dry_run_included(tmp_path, capsys):
    with FakeOpenAI() as fake:
        cfg = make_cfg(tmp_path, rationale_base_url=fake.url, rationale_model="gpt-4o-mini", **FAST)
        generate_rationales(cfg, progress=False)
        with open(cache_path(cfg), "ab") as fh:
            fh.write(b"\xff\xfe not utf-8 \x80\n")
            fh.write(b'{"id": "torn')
        dry = load_config("tiny", artifacts_dir=cfg.artifacts_dir, run_name="unit", rationale_base_url=fake.url,
                          rationale_model="gpt-4o-mini", dry_run=True, **FAST)
        out = generate_rationales(dry, progress=True)
        assert set(statuses(out).values()) == {"ok"}
        assert "2 unreadable line(s)" in capsys.readouterr().out
        n = len(fake.requests)
        generate_rationales(cfg, progress=False)  # a real run: nothing to ask again
        assert len(fake.requests) == n
        summary = json.loads((stage_dir(cfg, "rationale") / "run_summary.json").read_text())
        assert summary["cache_lines_skipped"] == 2 and summary["pending"] == 0


def test_only_the_train_split_is_explained_and_estimated_by_default(tmp_path):
    with FakeOpenAI() as fake:
        cfg = make_cfg(tmp_path, rationale_base_url=fake.url, rationale_model="gpt-4o-mini")
        cfg = load_config("tiny", artifacts_dir=cfg.artifacts_dir, run_name="unit", rationale_base_url=fake.url,
                          rationale_model="gpt-4o-mini")  # the default rationale_splits
        table = estimate_cost(load_stage(cfg, "fim"), cfg)
        assert list(table.index) == ["train", "total"] and table.loc["total", "requests"] == 2
        out = generate_rationales(cfg, progress=False)
        assert sorted(k for k, _ in fake.requests) == ["value_0", "value_1"]  # the two train rows
        assert set(out["train"]["rationale_status"]) == {"ok"}
        for split in ("valid", "test"):
            assert set(out[split]["rationale_status"]) == {"skipped"} and set(out[split]["rationale"]) == {None}


def test_reasoning_models_get_a_reasoning_budget_and_an_empty_paid_answer_is_not_done(tmp_path):
    with FakeOpenAI(empty_first={"value_0"}, empty_always={"value_3"}) as fake:
        cfg = make_cfg(tmp_path, rationale_base_url=fake.url, rationale_model="gpt-5-mini",
                       rationale_price_per_mtok=(0.25, 2.0), rationale_reasoning_tokens=500, **FAST)
        out = generate_rationales(cfg, progress=False)
        first = fake.bodies[0]
        assert first["max_completion_tokens"] == cfg.rationale_max_tokens + 500
        assert first["reasoning_effort"] == "minimal" and "temperature" not in first and "max_tokens" not in first
        # value_0: empty and cut by the budget once, asked again with a bigger budget, then answered
        budgets = [b["max_completion_tokens"] for b, (k, _) in zip(fake.bodies, fake.requests) if k == "value_0"]
        assert len(budgets) == 2 and budgets[1] > budgets[0]
        row = {r["id"].split("/")[1][:4]: r for s in out for r in out[s]}
        assert row["box0"]["rationale_status"] == "ok"
        # value_3: empty every time: failed with a reason, not counted as done
        assert row["box3"]["rationale_status"] == "failed" and row["box3"]["rationale_reason"] == "length"
        assert "rationale_reasoning_tokens" in row["box3"]["rationale_error"] and fake.count("value_3") == 2
    with FakeOpenAI() as fake:
        o_cfg = load_config("tiny", artifacts_dir=str(tmp_path / "o"), run_name="unit", rationale_base_url=fake.url,
                            rationale_model="o4-mini", rationale_price_per_mtok=(1.0, 4.0))
        save_stage(synthetic_fim(1), stage_dir(o_cfg, "fim"))
        generate_rationales(o_cfg, progress=False)
        assert fake.bodies[0]["reasoning_effort"] == "low" and "temperature" not in fake.bodies[0]


def test_refused_answers_are_re_asked_and_counted(tmp_path):
    answers = {"value_0": ["I'm sorry, I cannot help with that.", "The missing code has to set @value_0 to zero here."],
               "value_2": ["```\n@value_2 = 2\n```"], "value_4": [""]}
    with FakeOpenAI(answers=answers) as fake:
        cfg = make_cfg(tmp_path, rationale_base_url=fake.url, rationale_model="gpt-4o-mini", **FAST)
        out = generate_rationales(cfg, progress=False)
        st = statuses(out)
        assert st["box0"] == "ok" and st["box2"] == "rejected" and st["box4"] == "rejected"
        assert fake.count("value_0") == 2 and fake.count("value_2") == 2  # one re-ask each
        stats = rationale_stats(out)
        assert stats["rejected: code_only"].sum() == 1 and stats["rejected: empty"].sum() == 1
        assert stats["ok"].sum() == 4
        # rejected answers were paid for: a rerun does not ask again
        n = len(fake.requests)
        generate_rationales(cfg, progress=False)
        assert len(fake.requests) == n


def test_duplicates_are_flagged(tmp_path):
    same = "The missing code has to store the value so that the getter can return it."
    with FakeOpenAI(answers={"value_0": same, "value_5": same}) as fake:
        cfg = make_cfg(tmp_path, rationale_base_url=fake.url, rationale_model="gpt-4o-mini", **FAST)
        out = generate_rationales(cfg, progress=False)
    flagged = {r["id"].split("/")[1][:4] for s in out for r in out[s] if r["rationale_duplicate"]}
    assert flagged == {"box0", "box5"}
    assert rationale_stats(out)["duplicates"].sum() == 2


def test_killed_run_resumes_without_repeating_a_request(tmp_path):
    cfg = make_cfg(tmp_path)
    settings = dict(artifacts_dir=cfg.artifacts_dir, run_name="unit", rationale_model="gpt-4o-mini",
                    rationale_concurrency=1, **FAST)
    with FakeOpenAI(hold_after=3) as fake:
        settings["rationale_base_url"] = fake.url
        code = ("import json, sys; from utils.config import load_config; from utils.rationale import generate_rationales; "
                "generate_rationales(load_config('tiny', **json.loads(sys.argv[1])), progress=False)")
        env = {**os.environ, "OPENAI_API_KEY": SECRET, "PYTHONPATH": str(REPO_ROOT)}
        proc = subprocess.Popen([sys.executable, "-c", code, json.dumps(settings)], env=env, cwd=str(REPO_ROOT),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            assert fake.held.wait(90), proc.stderr.read().decode()[-2000:] if proc.poll() is not None else "no 4th request"
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            proc.stderr.close()
        fake.release.set()
        answered = [r for r in load_cache(cache_path(cfg)).values() if r["status"] == "ok"]
        assert len(answered) == 3  # written as they arrived, before the kill
        first = [k for k, _ in fake.requests]
        fake.hold_after = None
        out = generate_rationales(load_config("tiny", **settings), progress=False)
        assert set(statuses(out).values()) == {"ok"}
        counts = {k: fake.count(k) for k in (f"value_{i}" for i in range(6))}
        # rows answered before the kill were never asked again; the one in flight was asked once more
        assert [counts[k] for k in first[:3]] == [1, 1, 1] and counts[first[3]] == 2
        assert sum(counts.values()) == 7


def test_cache_survives_a_half_written_line(tmp_path):
    path = tmp_path / "cache.jsonl"
    good = {"id": "a", "prompt_version": "v", "model": "m", "status": "ok", "rationale": "x"}
    path.write_text(json.dumps(good) + "\n" + '{"id": "b", "prompt_ver')
    assert list(load_cache(path)) == [("a", "v", "m")]
    path.write_text(path.read_text() + "\n" + json.dumps({**good, "status": "failed", "rationale": None}) + "\n")
    assert load_cache(path)[("a", "v", "m")]["status"] == "ok"  # a paid answer is never replaced by a failure


# --------------------------------------------------------------------------- the real local server


def test_full_run_with_the_tiny_explainer_on_its_local_endpoint(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)  # must not be sent to our own local server, nor printed
    cfg = make_cfg(tmp_path, synthetic_fim(n_per_split=2), rationale_concurrency=2)
    assert cfg.rationale_base_url is None and cfg.rationale_model == "tiny-explainer"
    out = generate_rationales(cfg)
    assert set(statuses(out).values()) == {"ok"}
    for r in out["train"]:
        assert check_rationale(r["rationale"]) is None and r["rationale_model"] == "tiny-explainer-v2"
        assert re.search(r"value_\d+", r["rationale"])  # it names what the middle assigns
    assert load_stage(cfg, "rationale")["test"].num_rows == 2
    lines = cache_path(cfg).read_text().splitlines()
    assert len(lines) == 6 and all(json.loads(line)["status"] == "ok" for line in lines)
    assert all(json.loads(line)["prompt_tokens"] > 0 and json.loads(line)["completion_tokens"] > 0 for line in lines)
    # a rerun resumes from the cache: no server is started, nothing is sent
    summary_before = json.loads((stage_dir(cfg, "rationale") / "run_summary.json").read_text())
    assert summary_before["pending"] == 6 and summary_before["this_run"]["requests"] == 6
    generate_rationales(cfg, progress=False)
    summary = json.loads((stage_dir(cfg, "rationale") / "run_summary.json").read_text())
    assert summary["pending"] == 0 and summary["this_run"] == {}
    assert len(cache_path(cfg).read_text().splitlines()) == 6
    captured = capfd.readouterr()
    assert "SECRET123" not in captured.out + captured.err


def test_the_explainer_endpoint_answers_the_openai_client():
    import openai

    from utils.tiny import explain_gap, serve_tiny_explainer

    prefix, middle, suffix = "class Stack\n", "\tpush: (value) =>\n\t\ttable.insert @items, value\n", "\tpop: =>\n"
    with serve_tiny_explainer() as url:
        client = openai.OpenAI(base_url=url, api_key=PLACEHOLDER_KEY, max_retries=0, timeout=20)
        resp = client.chat.completions.create(model="tiny-explainer", messages=build_messages(prefix, middle, suffix),
                                              max_tokens=120)
        assert resp.object == "chat.completion" and resp.model == "tiny-explainer" and resp.id.startswith("chatcmpl-")
        choice = resp.choices[0]
        assert choice.index == 0 and choice.message.role == "assistant" and choice.finish_reason == "stop"
        assert choice.message.content == explain_gap(prefix, middle, suffix)
        assert "push" in choice.message.content and "table.insert" in choice.message.content
        u = resp.usage
        assert u.prompt_tokens > 50 and u.completion_tokens > 5 and u.total_tokens == u.prompt_tokens + u.completion_tokens
        assert [m.id for m in client.models.list()] == ["tiny-explainer"]
        cut = client.chat.completions.create(model="tiny-explainer", messages=build_messages(prefix, middle, suffix),
                                             max_tokens=5)
        assert cut.choices[0].finish_reason == "length" and cut.usage.completion_tokens <= 5
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model="gpt-4o", messages=build_messages(prefix, middle, suffix))


def test_the_explainer_endpoint_refuses_what_it_cannot_read():
    import urllib.error
    import urllib.request

    import openai

    from utils.tiny import serve_tiny_explainer

    with serve_tiny_explainer() as url:
        with urllib.request.urlopen(url.replace("/v1", "/health"), timeout=10) as r:
            assert r.status == 200
        for body in (b"not json", b"{}", json.dumps({"model": "tiny-explainer", "messages": "hi"}).encode()):
            req = urllib.request.Request(f"{url}/chat/completions", data=body, headers={"Content-Type": "application/json"})
            with pytest.raises(urllib.error.HTTPError) as info:
                urllib.request.urlopen(req, timeout=10)
            assert info.value.code == 400 and "message" in json.loads(info.value.read())["error"]
        client = openai.OpenAI(base_url=url, api_key=PLACEHOLDER_KEY, max_retries=0, timeout=20)
        with pytest.raises(openai.BadRequestError):  # a chat without a gap to explain
            client.chat.completions.create(model="tiny-explainer", messages=[{"role": "user", "content": "hi"}])


def test_tiny_train_split_gets_distinct_rationales_that_pass_the_gate_and_the_server_stops(cfg, capsys):
    import socket

    out = generate_rationales(cfg)
    ok = [r for r, s in zip(out["train"]["rationale"], out["train"]["rationale_status"]) if s == "ok"]
    assert len(ok) == out["train"].num_rows > 100
    assert all(check_rationale(t, cfg.rationale_max_words, cfg.rationale_min_words) is None for t in ok)
    assert all(len(t.split()) <= cfg.rationale_max_words for t in ok)
    assert len(set(ok)) / len(ok) > 0.95  # measured 0.986 on the sample corpus; the trained explainer gave 0.49
    port = int(re.search(r"127\.0\.0\.1:(\d+)/v1", capsys.readouterr().out)[1])
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0  # the endpoint is gone once the stage has ended
    assert not [t for t in threading.enumerate() if t.name.startswith("chat-server-")]
