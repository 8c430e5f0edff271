"""utils.teacher: batched FIM generation, stop rules, cache and resume, both backends, bad input."""

import json
import logging
import threading
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch
from datasets import DatasetDict

from utils.artifacts import stage_dir, stage_lock
from utils.config import EOS, FIM_PAD, UserError
from utils.fim import files_parse, fim_prompt, load_files, rebuild
from utils.parser import ParseResult, load_parser
from utils.models import load_teacher, resolve
from utils.teacher import (
    SuffixRepeatStop,
    TransformersBackend,
    cache_path,
    encode,
    find_suffix_repeat,
    fit_prompt,
    generate_middles,
    generate_teacher,
    broken_example,
    broken_example_html,
    choice_logprob,
    judge_samples,
    load_cache,
    mean_logprobs,
    parse_table,
    pick_sample,
    quality_table,
    run_teacher,
    split_fim_prompt,
    trim_middle,
)

MAX_NEW = 12


@pytest.fixture(scope="module")
def teacher():
    """The tiny teacher, loaded once for the module."""
    return load_teacher("tiny-teacher", "cpu")


@pytest.fixture
def small(fim_dataset):
    """A few real FIM rows per split (the contract's columns), enough for three batches of 2."""
    return DatasetDict({"train": fim_dataset["train"].select(range(4)), "test": fim_dataset["test"].select(range(2))})


@pytest.fixture
def tcfg(cfg):
    cfg.max_new_tokens = MAX_NEW
    cfg.teacher_batch_size = 2
    return cfg


def run(cfg, ds, teacher, cache=None, backend=None):
    backend = backend or TransformersBackend(cfg, *teacher)
    return generate_teacher(cfg, ds, backend=backend, cache=cache, progress=False)


def middles(ds):
    return {s: ds[s]["teacher_middle"] for s in ds}


# --------------------------------------------------------------------------- stop rules


def test_trim_cuts_at_special_tokens_and_at_a_repeated_suffix():
    assert trim_middle(f"x = 1\n{EOS}junk", "y = 2\n") == ("x = 1\n", "eos")
    assert trim_middle(f"x = 1{FIM_PAD}{FIM_PAD}", "y = 2\n") == ("x = 1", "fim_pad")
    assert trim_middle("x = 1\n", "") == ("x = 1\n", "length")
    suffix = "\n\tcount += 1\n\treturn count\n"
    # the suffix comes back with other indentation: cut before it, indentation included
    assert trim_middle("count = 0\n\t\tcount  += 1\n\t\treturn count", suffix) == ("count = 0\n", "suffix")
    assert trim_middle("\n\tcount += 1\n\treturn count\n", suffix) == ("", "suffix")  # an empty middle
    # a suffix that starts mid-word may be continued mid-word
    assert find_suffix_repeat("print fooBarBaz(1, 2, 3)", "BarBaz(1, 2, 3)\n") == len("print foo")
    # a suffix starting a new word is not matched inside another word
    assert find_suffix_repeat("xBarBaz(1, 2, 3)", " BarBaz(1, 2, 3)") is None
    # a short suffix ("end") is too common to watch
    assert find_suffix_repeat("if x\n  end\n", "end") is None


def test_suffix_stop_criterion_stops_only_the_row_that_repeats(teacher):
    _, tok = teacher
    suffix = "\treturn total + offset\n"
    prompt = encode(tok, fim_prompt("f = ->\n", suffix))
    rows = [prompt + encode(tok, "\tx = 1\n\treturn total + offset"), prompt + encode(tok, "\tx = 1\n\ty = 2\n\tz = 3")]
    width = max(map(len, rows))
    ids = torch.tensor([[0] * (width - len(r)) + r for r in rows])
    stop = SuffixRepeatStop(tok, [suffix, suffix], prompt_len=width - len(rows[0]) + len(prompt))
    assert stop(ids, None).tolist() == [True, False]


# --------------------------------------------------------------------------- generation


def test_greedy_is_deterministic_batch_invariant_and_follows_the_rules(tcfg, small, teacher, tmp_path):
    a, stats = run(tcfg, small, teacher, cache=tmp_path / "a.jsonl")
    tcfg.teacher_batch_size = 1
    b, _ = run(tcfg, small, teacher, cache=tmp_path / "b.jsonl")
    assert middles(a) == middles(b)  # left padding changes nothing
    assert stats["generated"] == 6 and stats["settings"]["max_new_tokens"] <= MAX_NEW
    for split in small:
        assert a[split]["id"] == small[split]["id"]  # every row, in order, all fim columns kept
        assert set(small[split].column_names) < set(a[split].column_names)
        for row in a[split]:
            assert isinstance(row["teacher_middle"], str) and row["teacher_samples"] == [row["teacher_middle"]]
            assert EOS not in row["teacher_middle"] and FIM_PAD not in row["teacher_middle"]
            assert find_suffix_repeat(row["teacher_middle"], row["suffix"]) is None
            assert 0 < row["teacher_new_tokens"] <= stats["settings"]["max_new_tokens"]
            assert row["teacher_stop"] in ("eos", "fim_pad", "special", "suffix", "length")


def test_generate_middles_for_raw_prompts_matches_the_run(tcfg, small, teacher):
    ds, stats = run(tcfg, small, teacher)
    assert stats["settings"]["max_new_tokens"] == MAX_NEW  # same budget, so the same answers
    assert generate_middles(*teacher, small["train"]["teacher_input"], tcfg) == ds["train"]["teacher_middle"]


def test_resume_after_a_crash_equals_an_uninterrupted_run(tcfg, small, teacher, tmp_path):
    whole, _ = run(tcfg, small, teacher, cache=tmp_path / "whole.jsonl")

    backend = TransformersBackend(tcfg, *teacher)
    real, calls = backend.generate, []

    def crash_after_first_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the run
        return real(*args, **kwargs)

    backend.generate = crash_after_first_batch
    with pytest.raises(KeyboardInterrupt):
        run(tcfg, small, teacher, backend=backend)
    lines = cache_path(tcfg).read_text().splitlines()
    assert len(lines) == 2  # exactly the finished batch is on disk
    resumed, stats = run(tcfg, small, teacher)
    assert stats["reused_from_cache"] == 2 and stats["generated"] == 4
    assert middles(resumed) == middles(whole)
    again, stats = run(tcfg, small, teacher)  # a third run has nothing left to do
    assert stats["generated"] == 0 and middles(again) == middles(whole)


def test_a_torn_cache_line_is_skipped_and_the_next_record_survives(tcfg, small, teacher):
    path = cache_path(tcfg)
    run(tcfg, small, teacher)
    with open(path, "a") as fh:
        fh.write('{"id": "half a rec')  # killed mid-write
    with pytest.warns(UserWarning, match="1 unreadable line"):
        _, stats = run(tcfg, small, teacher)
    assert stats["generated"] == 0
    tcfg.max_new_tokens = MAX_NEW - 2
    with pytest.warns(UserWarning, match="1 unreadable line"):  # the torn line stays, and is skipped again
        run(tcfg, small, teacher)  # appends after the torn line without gluing onto it
        key = json.loads(path.read_text().splitlines()[-1])["key"]
        assert len(load_cache(path, key)) == 6


def test_changed_settings_are_not_served_from_the_cache(tcfg, small, teacher):
    first, s1 = run(tcfg, small, teacher)
    tcfg.max_new_tokens = 4
    short, s2 = run(tcfg, small, teacher)
    assert s2["generated"] == 6 and s2["settings_key"] != s1["settings_key"]
    assert all(n <= 4 for split in short for n in short[split]["teacher_new_tokens"])
    tcfg.max_new_tokens = MAX_NEW
    back, s3 = run(tcfg, small, teacher)  # the first settings' answers are still there
    assert s3["generated"] == 0 and middles(back) == middles(first)


def test_sampling_gives_num_samples_answers_and_greedy_refuses_them(tcfg, small, teacher):
    tcfg.num_samples = 2
    with pytest.raises(UserError, match="do_sample"):
        run(tcfg, small, teacher)
    tcfg.do_sample = True
    ds, stats = run(tcfg, DatasetDict({"test": small["test"]}), teacher)
    assert stats["settings"]["num_samples"] == 2
    assert all(len(s) == 2 and m in s for s, m in zip(ds["test"]["teacher_samples"], ds["test"]["teacher_middle"]))
    # both samples carry the teacher's mean log-probability (a log-probability: at most 0)
    assert all(len(lp) == 2 and all(v is not None and v <= 0 for v in lp) for lp in ds["test"]["teacher_logprobs"])


# --------------------------------------------------------------------------- bad input


def test_overlong_prompts_are_trimmed_from_the_left_and_empty_ones_skipped(tcfg, small, teacher):
    _, tok = teacher
    rows = small["test"].to_list()
    long_prefix = "".join(f"value_{i} = compute {i}, {i + 1}\n" for i in range(400))
    short_suffix = "print value_0\n"  # fits any budget: only the prefix must be trimmed
    rows[0] = {**rows[0], "prefix": long_prefix + rows[0]["prefix"], "suffix": short_suffix,
               "teacher_input": fim_prompt(long_prefix + rows[0]["prefix"], short_suffix)}
    rows[1] = {**rows[1], "prefix": "", "suffix": "  \n", "teacher_input": fim_prompt("", "  \n")}
    from datasets import Dataset

    ds = DatasetDict({"test": Dataset.from_list(rows, features=small["test"].features)})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out, stats = run(tcfg, ds, teacher)
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert sum("trimmed" in m for m in messages) == 1 and sum("empty prefix" in m for m in messages) == 1
    assert stats["prompts_trimmed"] == 1 and stats["prompts_empty"] == 1
    assert out["test"]["teacher_prompt_trimmed"] == [True, False]
    assert out["test"]["teacher_stop"][1] == "empty_prompt" and out["test"]["teacher_middle"][1] == ""
    # fit_prompt keeps the end of the prefix (next to the hole) and the whole suffix, within budget
    prompt, ids, trimmed = fit_prompt(tok, rows[0]["prefix"], rows[0]["suffix"], "psm", 200)
    prefix, suffix = split_fim_prompt(prompt)
    assert trimmed and len(ids) <= 200 and rows[0]["prefix"].endswith(prefix) and suffix == rows[0]["suffix"]


def test_out_of_memory_halves_the_batch_and_the_run_continues(tcfg, small, teacher):
    tcfg.teacher_batch_size = 4
    backend = TransformersBackend(tcfg, *teacher)
    real = backend._generate

    def small_gpu(ids, *args):
        if len(ids) > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(ids, *args)

    backend._generate = small_gpu
    with pytest.warns(UserWarning, match="out of memory"):
        ds, stats = run(tcfg, small, teacher, backend=backend)
    assert stats["generated"] == 6 and backend.batch_size == 2
    assert all(isinstance(m, str) for split in ds for m in ds[split]["teacher_middle"])


def test_unknown_model_is_a_user_error(tcfg, small):
    tcfg.teacher = "./no/such/teacher"
    with pytest.raises(UserError, match="does not exist"):
        generate_teacher(tcfg, small, progress=False)


# --------------------------------------------------------------------------- the endpoint backend


def test_endpoint_backend_against_a_real_local_server(tcfg, small, teacher, tmp_path):
    from utils.server import local_server

    local, _ = run(tcfg, small, teacher, cache=tmp_path / "local.jsonl")
    with local_server(resolve("tiny-teacher")) as url:
        tcfg.teacher_backend, tcfg.teacher_base_url = "openai", url
        remote, stats = generate_teacher(tcfg, small, cache=tmp_path / "remote.jsonl", progress=False)
    assert stats["generated"] == 6 and stats["settings"]["backend"] == "openai"
    # one prompt format, greedy: the server answers exactly what the in-process teacher does
    assert middles(remote) == middles(local)


def test_endpoint_down_names_the_url(tcfg, small):
    from utils.server import free_port

    url = f"http://127.0.0.1:{free_port()}/v1"
    tcfg.teacher_backend, tcfg.teacher_base_url, tcfg.teacher_max_retries = "openai", url, 1
    with pytest.raises(UserError, match=url.replace(".", r"\.")):
        generate_teacher(tcfg, small, progress=False)


# --------------------------------------------------------------------------- measured


def test_quality_table_by_split_and_span_type(small):
    rows = {s: small[s].add_column("teacher_middle", [small[s][0]["middle"]] * len(small[s])) for s in small}
    table = quality_table(DatasetDict(rows))
    first = table[(table["split"] == "train") & (table["span_type"] == "all")].iloc[0]
    assert first["n"] == 4 and first["exact_match"] == pytest.approx(sum(m == small["train"][0]["middle"] for m in small["train"]["middle"]) / 4)
    assert set(table.columns) >= {"split", "span_type", "n", "exact_match", "edit_similarity", "empty_rate"}
    assert table["edit_similarity"].between(0, 1).all()


# --------------------------------------------------------------------------- a broken endpoint: no leak, no false success

TEACHER_SECRET = "sk-teacher-SECRET987zyxwvu"


class BrokenServer:
    """A /v1/completions server on 127.0.0.1 that fails every request the same way, counting them."""

    def __init__(self, mode: str):
        self.mode, self.requests = mode, 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                server.requests += 1
                auth = self.headers.get("Authorization", "")
                if server.mode == "401":  # a careless server that echoes the credentials it was sent
                    status, body, kind = 401, json.dumps({"error": {"message": f"bad credentials: {auth}"}}), "application/json"
                elif server.mode == "500":
                    status, body, kind = 500, json.dumps({"error": {"message": "the model crashed"}}), "application/json"
                else:  # garbage: 200 with an HTML error page
                    status, body, kind = 200, "<html><body>502 Bad Gateway</body></html>", "text/html"
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_401_endpoint_that_echoes_the_key_leaks_it_nowhere(tcfg, monkeypatch, capfd, caplog):
    monkeypatch.setenv("TEACHER_API_KEY", TEACHER_SECRET)
    caplog.set_level(logging.DEBUG)
    with BrokenServer("401") as server:
        tcfg.teacher_backend, tcfg.teacher_base_url, tcfg.teacher_max_retries = "openai", server.url, 0
        with pytest.raises(UserError) as err:
            run_teacher(tcfg, progress=True)
    assert server.requests >= 1  # the key was really sent (and echoed back)
    message = str(err.value)
    assert "unauthorised" in message and server.url in message and "TEACHER_API_KEY" in message
    assert err.value.__cause__ is None and err.value.__context__ is None  # the raw error is not chained
    captured = capfd.readouterr()
    assert TEACHER_SECRET not in message + captured.out + captured.err + caplog.text
    files = [p for p in tcfg.run_dir.rglob("*") if p.is_file()]
    assert all(TEACHER_SECRET.encode() not in p.read_bytes() for p in files)


@pytest.mark.parametrize("mode, words", [("garbage", "not with OpenAI-style JSON"), ("500", "server error (500")])
def test_a_dead_teacher_endpoint_is_an_error_not_a_success(tcfg, small, mode, words):
    with BrokenServer(mode) as server:
        tcfg.teacher_backend, tcfg.teacher_base_url, tcfg.teacher_max_retries = "openai", server.url, 1
        with pytest.raises(UserError) as err:
            generate_teacher(tcfg, small, progress=False)
    assert words in str(err.value) and server.url in str(err.value) and "teacher_base_url" in str(err.value)
    if mode == "500":
        assert "after 1 retries (teacher_max_retries)" in str(err.value)
    assert not (stage_dir(tcfg, "teacher") / "dataset").exists()


def test_a_second_concurrent_teacher_run_is_refused(tcfg, small, teacher):
    with stage_lock(tcfg, "teacher"):
        with pytest.raises(UserError, match=r"already running \(pid \d+"):
            run(tcfg, small, teacher)
    assert not cache_path(tcfg).exists()  # nothing was generated
    _, stats = run(tcfg, small, teacher)  # released: the next run goes ahead
    assert stats["generated"] == 6


def test_a_cache_with_bad_bytes_and_a_torn_line_keeps_working(tcfg, small, teacher):
    path = cache_path(tcfg)
    _, first = run(tcfg, small, teacher)
    with open(path, "ab") as fh:
        fh.write(b"\xff\xfe not utf-8 \x80\n")
        fh.write(b'{"id": "torn')
    with pytest.warns(UserWarning, match="2 unreadable line"):
        _, stats = run(tcfg, small, teacher)
    assert stats["generated"] == 0 and stats["reused_from_cache"] == 6 and stats["cache_lines_skipped"] == 2


# --------------------------------------------------------------------------- the parser judges the teacher

needs_parser = pytest.mark.skipif(load_parser(fetch=False) is None, reason="no MoonScript parser (../shared/tools/moonscript-parser)")
BREAKING = "(((\n"  # no MoonScript file survives an unclosed bracket


def test_the_kept_sample_parses_first_then_has_the_higher_logprob():
    assert pick_sample([False, True], [-0.1, -3.0]) == 1      # a parsing sample beats a likelier one that breaks the file
    assert pick_sample([True, True, False], [-2.0, -0.5, -0.1]) == 1  # among parsing samples the higher mean logprob wins
    assert pick_sample([None, None], [-2.0, -0.5]) == 1       # no parser: the logprob alone
    assert pick_sample([None, None], [None, None]) == 0       # nothing to go by: the first, as before
    assert pick_sample([False, False], [None, -4.0]) == 1     # a missing logprob ranks last


def test_mean_logprobs_and_endpoint_logprobs():
    scores = torch.tensor([[-1.0, -3.0, -9.0], [-2.0, 0.0, 0.0]])
    assert mean_logprobs(scores, [2, 0]) == [-2.0, None]

    class Choice:
        def __init__(self, lp):
            self.logprobs = lp

    class LP:
        token_logprobs = [-1.0, None, -2.0]

    assert choice_logprob(Choice(LP())) == -1.5 and choice_logprob(Choice(None)) is None


@needs_parser
def test_judge_samples_picks_the_sample_whose_file_parses(cfg, small):
    files, parser = load_files(cfg), load_parser()
    row = small["train"][0]
    assert parser.parses(rebuild(row, row["middle"], files)).ok  # notebook 02 kept only files that parse
    records = [{"samples": [BREAKING, row["middle"]], "logprobs": [-0.1, -5.0]}]
    one = DatasetDict({"train": small["train"].select([0])})
    [(index, result)] = judge_samples(one, records, files, parser)
    assert index == 1 and result.ok
    [(index, result)] = judge_samples(one, [{"samples": [BREAKING], "logprobs": [None]}], files, parser)
    assert index == 0 and not result.ok and result.line is not None
    [(index, result)] = judge_samples(one, records, files, None)  # no parser: judged n/a, the likelier sample kept
    assert index == 0 and result is None


@needs_parser
def test_teacher_parses_column_and_the_broken_example(tcfg, small, teacher, monkeypatch):
    real = TransformersBackend(tcfg, *teacher)
    gen = real.generate

    def first_breaks(prompts, ids, suffixes, settings, seed=0):
        out = gen(prompts, ids, suffixes, settings, seed)
        out[0].raw = [BREAKING + EOS]
        return out

    real.generate = first_breaks
    ds, stats = run(tcfg, small, teacher, backend=real)
    files, parser = load_files(tcfg), load_parser()
    for split in ds:
        rows = ds[split].to_list()
        expected = [r.ok for r in files_parse(rows, [r["teacher_middle"] for r in rows], files, parser)]
        assert ds[split]["teacher_parses"] == expected
        assert all((e == "") == ok for e, ok in zip(ds[split]["teacher_parse_error"], expected))
    assert stats["breaks_file"] >= 1 and stats["parse_checked"] == 6
    table = parse_table(ds, 100).set_index("span_type")
    assert table.loc["all", "breaks the file"] == stats["breaks_file"] and 0 < table.loc["all", "share"] <= 1
    example = broken_example(ds, files, parser)
    assert example is not None and not example["broken"].ok and example["repaired"].ok
    assert f"line {example['broken'].line}, column {example['broken'].column}" in broken_example_html(example, files)


def test_without_a_parser_every_parse_figure_is_na(tcfg, small, teacher, monkeypatch):
    monkeypatch.setattr("utils.fim.load_parser", lambda *a, **k: None)
    with pytest.warns(UserWarning, match="no MoonScript parser"):
        ds, stats = run(tcfg, small, teacher)
    assert all(v is None for s in ds for v in ds[s]["teacher_parses"]) and stats["breaks_file"] is None
    table = parse_table(ds, 50)
    assert (table["share"] == "n/a").all() and (table["breaks the file"] == "n/a").all()
    assert broken_example(ds, None, None) is None and "no parser" in broken_example_html(None, None)
