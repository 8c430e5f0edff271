"""Shipping the student: real-size bench, int8 quantisation, the fill-in-the-middle completions server (tiny profile, offline)."""

from __future__ import annotations

import json
import re
import shutil
import socket
import urllib.error
import urllib.request

import openai
import pandas as pd
import pytest
import torch
from datasets import DatasetDict
from transformers import GPTBigCodeConfig, T5Config, T5ForConditionalGeneration

from utils import evaluation as E
from utils import speed
from utils.__main__ import main
from utils.artifacts import save_stage
from utils.config import STUDENT_HUB_ID, TEACHER_HUB_ID, load_config
from utils.onnx_student import DECODER, ENCODER, OnnxStudent, export_student
from utils.quantize import RUNTIMES, int8_dir, load_int8, quantize_student, three_runtimes, weight_megabytes
from utils.serving import serve_student, student_inputs
from utils.student import generate_ids, generate_middles, load_trained
from utils.training import train_variant

VARIANT = "finetune"
PLACEHOLDER_KEY = "sk-local-placeholder"
SMALL_CONFIGS = {  # the real architectures, shrunk: the command's whole path in a second
    TEACHER_HUB_ID: GPTBigCodeConfig(vocab_size=32200, n_positions=256, n_embd=64, n_layer=2, n_head=4, multi_query=True,
                                     bos_token_id=1, eos_token_id=1),
    STUDENT_HUB_ID: T5Config(vocab_size=32200, d_model=32, d_ff=64, d_kv=8, num_layers=2, num_decoder_layers=2, num_heads=4,
                             feed_forward_proj="gated-gelu", tie_word_embeddings=False, decoder_start_token_id=0),
}
SETTINGS = dict(bootstrap_samples=100, max_target_tokens=8, eval_batch_size=8, device="cpu", max_steps=2, eval_steps=2,
                logging_steps=2, train_batch_size=4, student_max_input_tokens=128)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory, fim_cfg, fim_dataset):
    """A tiny run with a 12-row test split (its files for the parser), the teacher's answers, and a trained `finetune` student."""
    root = tmp_path_factory.mktemp("ship-artifacts")
    cfg = load_config("tiny", artifacts_dir=str(root), run_name="ship", **SETTINGS)
    test = fim_dataset["test"].select(range(12))
    save_stage(DatasetDict(test=test), cfg.run_dir / "fim")
    shutil.copy(fim_cfg.run_dir / "fim" / "files.parquet", cfg.run_dir / "fim" / "files.parquet")
    save_stage(DatasetDict(test=test.add_column("teacher_middle", list(test["middle"]))), cfg.run_dir / "teacher")
    train_variant(cfg, VARIANT, data=DatasetDict(train=fim_dataset["train"].select(range(8)), valid=fim_dataset["valid"].select(range(2))))
    return cfg


@pytest.fixture(scope="module")
def report(shipped):
    """`quantize_student` on the trained tiny student, timed on a short prompt."""
    return quantize_student(shipped, repeats=1, prompt_tokens=16, new_tokens=2)


# --------------------------------------------------------------------------- real-size bench


def test_forced_generation_writes_exactly_the_asked_tokens(shipped):
    model, _ = load_trained(shipped, VARIANT)
    model.config.eos_token_id = 1
    ids = speed.random_prompts(model, 2, 10)
    assert ids.shape == (2, 10) and int(ids.min()) >= speed.FIRST_ID
    assert speed.forced_generate(model, ids, 5).shape == (2, 5)


def test_speedup_is_teacher_latency_over_the_students_at_batch_one():
    table = pd.DataFrame({"role": ["teacher", "teacher", "student", "student"], "device": "cpu", "batch": [1, 4, 1, 4],
                          "latency_p50_s": [3.0, 9.0, 0.5, 1.0]})
    assert speed.speedup(table) == 6.0 and speed.speedup(table, batch=4) == 9.0


def test_bench_real_size_command_prints_the_table_and_speedup_last(monkeypatch, capsys):
    monkeypatch.setattr(speed, "REAL_CONFIGS", SMALL_CONFIGS)
    assert main(["bench", "student", "--real-size", "--set", "device=cpu", "--repeats", "2", "--batch", "2",
                 "--prompt-tokens", "12", "--new-tokens", "3", "--threads", "1", "2"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(r"speedup: \d+\.\dx", out[-1]), out[-1]
    assert "12 prompt tokens, 3 forced new tokens" in out[0]
    rows = [line.split() for line in out if line.split()[:2] in (["teacher", "cpu"], ["student", "cpu"])]
    assert sorted((r[0], r[4]) for r in rows) == [("student", "1"), ("student", "2"), ("teacher", "1"), ("teacher", "2")]
    assert all("1:" in line and "2:" in line for line in out if re.match(r"\s*(teacher|student)\s+cpu\s+\S+\s+\d\s+1\s", line))
    assert re.search(r"student at \d thread\(s\): encoder .* ms/step\); \d+% of the time in torch ops", "\n".join(out))


# --------------------------------------------------------------------------- int8


def _step_logits(model, ids, mask, decoder_ids):
    """Next-token logits after each of `decoder_ids`, from a PyTorch model or an OnnxStudent (its two graphs, step by step)."""
    if not isinstance(model, OnnxStudent):
        with torch.no_grad():
            return model(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids).logits
    keys, values = model.encoder.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
    c = model.config
    past_k = past_v = torch.zeros(c.num_decoder_layers, len(ids), c.num_heads, 0, c.d_kv).numpy()
    out = []
    for t in range(decoder_ids.shape[1]):
        logits, past_k, past_v = model.decoder.run(None, {"token": decoder_ids[:, t:t + 1].numpy(), "past_keys": past_k,
                                                          "past_values": past_v, "cross_keys": keys, "cross_values": values,
                                                          "attention_mask": mask.numpy()})
        out.append(torch.from_numpy(logits))
    return torch.stack(out, dim=1)


@pytest.mark.parametrize("scaled_head", [False, True])
def test_exported_graphs_compute_the_pytorch_models_logits(tmp_path, scaled_head):
    # a small T5 of flan-t5's kind (gated GELU, own head), and one whose head input transformers scales (a tied head)
    config = T5Config(**{**SMALL_CONFIGS[STUDENT_HUB_ID].to_dict(), "tie_word_embeddings": scaled_head,
                         "scale_decoder_outputs": scaled_head, "dropout_rate": 0.5})
    torch.manual_seed(0)
    model = T5ForConditionalGeneration(config).eval()
    assert model.config.scale_decoder_outputs == scaled_head
    onnx = OnnxStudent(export_student(model, tmp_path), threads=1)
    assert not model.training  # the export leaves the model in eval mode (dropout 0.5 would show in the logits below)
    # two rows of different lengths (the second padded), and lengths the graphs were not traced with
    ids = torch.randint(100, 32000, (2, 11))
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    decoder_ids = torch.tensor([[0, 5, 9, 13, 2, 40], [0, 8, 8, 3, 77, 6]])
    want, got = _step_logits(model, ids, mask, decoder_ids), _step_logits(onnx, ids, mask, decoder_ids)
    assert got.shape == want.shape and torch.allclose(got, want, atol=1e-4), (got - want).abs().max()
    with torch.inference_mode():
        greedy = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=6, min_new_tokens=6, do_sample=False, pad_token_id=0)
    assert torch.equal(onnx.generate(ids, mask, max_new_tokens=6, min_new_tokens=6), greedy)


def test_int8_copy_is_saved_as_int8_graphs_and_loads_back(shipped, report):
    import onnx

    folder = int8_dir(shipped, VARIANT)
    assert report["folder"] == folder and report["exported_same"]
    assert E.find_variants(shipped) == [VARIANT]  # the int8 folder is not taken for a trained PyTorch variant
    for name in (ENCODER, DECODER):
        graph = onnx.load(str(folder / name)).graph
        weights = {w.name for w in graph.initializer}
        ops = [n.op_type for n in graph.node]
        assert {"MatMulInteger", "DynamicQuantizeMatMul"} & set(ops), name
        # every product with a weight matrix is int8; fp32 MatMuls left are attention's (activation x activation)
        assert not [n.name for n in graph.node if n.op_type == "MatMul" and set(n.input) & weights], name
    model, tok = load_int8(folder, shipped)
    inputs = E.test_examples(shipped)["student_input"].tolist()
    scored = report["predictions"][report["predictions"].system == VARIANT + "-int8"]
    assert generate_middles(model, tok, inputs, shipped) == scored["prediction"].tolist()  # what was scored is what loads back


def test_quality_before_and_after_with_intervals_and_paired_differences(report):
    results = report["results"]
    assert set(results.system) == {VARIANT, VARIANT + "-int8"}
    overall = results[results.span_type == "all"].set_index(["system", "metric"])
    for system in (VARIANT, VARIANT + "-int8"):
        for metric in ("edit_similarity", "exact_match", "parses"):
            row = overall.loc[(system, metric)]
            assert row.n == 12 and row.ci_low <= row.value <= row.ci_high
    assert set(report["paired"].metric) == {"edit_similarity", "parses", "exact_match"}
    assert set(report["paired"].system_a) == {VARIANT + "-int8"} and set(report["paired"].system_b) == {VARIANT}


def test_quantize_command_prints_quality_and_speedup_last(shipped, report, monkeypatch, capsys):
    monkeypatch.setenv("DISTIL_ARTIFACTS", shipped.artifacts_dir)
    args = ["quantize", "--variant", VARIANT, "--repeats", "1", "--prompt-tokens", "16", "--new-tokens", "2"]
    for key, value in {"run_name": "ship", **SETTINGS}.items():
        args += ["--set", f"{key}={value}"]
    assert main(args) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(r"quantised speedup: \d+\.\d\dx", out[-1]), out[-1]
    assert any(line.startswith(f"{VARIANT}-int8 ") and "[" in line for line in out)
    assert any("tiny profile: the trained finetune student itself" in line for line in out)
    assert main(["quantize", "--variant", "distill", "--set", "run_name=ship"]) == 2  # not trained: a clear error


def test_int8_at_real_size_stores_about_a_third_of_the_weights(tmp_path):
    big = speed.real_size_model("student")
    runtimes = three_runtimes(big, tmp_path, threads=1)
    assert list(runtimes) == list(RUNTIMES)
    table = speed.random_prompts(big, 1, 8)
    sizes = [weight_megabytes(m) for m in runtimes.values()]
    assert 290 < sizes[0] < 297  # 77M fp32 parameters
    assert sizes[2] < 0.35 * sizes[0] < sizes[1]  # int8 products; the fp32 graphs hold the embedding twice (encoder, decoder)
    new = [speed.forced_generate(m, table, 3) for m in runtimes.values()]
    assert torch.equal(new[0], new[1]) and new[2].shape == (1, 3)  # the fp32 graphs answer as PyTorch does


# --------------------------------------------------------------------------- the completions server


def _post(url: str, body: bytes | dict, path: str = "/completions") -> tuple[int, dict]:
    """Status and JSON body of a raw POST."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_server_fills_the_middle_through_the_openai_client(shipped, fim_cfg, fim_dataset):
    row = fim_dataset["test"][0]
    model, tok = load_trained(shipped, VARIANT)
    # the server builds the student's input as notebook 02 built the dataset's (same tokenizer, same budget)
    assert student_inputs(tok, [row["prefix"]], [row["suffix"]], fim_cfg) == [row["student_input"]]
    [expected] = generate_middles(model, tok, student_inputs(tok, [row["prefix"]], [row["suffix"]], shipped), shipped)
    with serve_student(shipped, VARIANT, port=0) as url:
        client = openai.OpenAI(base_url=url, api_key=PLACEHOLDER_KEY, max_retries=0, timeout=30)
        resp = client.completions.create(model=url.model, prompt=row["prefix"], suffix=row["suffix"], max_tokens=8)
        choice = resp.choices[0]
        assert choice.text == expected and choice.finish_reason in ("stop", "length")
        assert 1 <= resp.usage.completion_tokens <= 8 and resp.usage.prompt_tokens > 10
        assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
        short = client.completions.create(model=url.model, prompt=row["prefix"], suffix=row["suffix"], max_tokens=2)
        assert short.usage.completion_tokens <= 2
        two = client.completions.create(model=url.model, prompt=[row["prefix"], "x = 1\n"], suffix=row["suffix"])
        assert [c.index for c in two.choices] == [0, 1] and two.choices[0].text == expected
        with urllib.request.urlopen(url.replace("/v1", "/health"), timeout=10) as r:
            assert r.status == 200 and json.loads(r.read())["model"] == VARIANT
        with pytest.raises(openai.BadRequestError, match="max_tokens"):
            client.completions.create(model=url.model, prompt="a", suffix="b", max_tokens=10_000)
        port = int(url.rsplit(":", 1)[1].split("/")[0])
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0  # closed with the context


def test_server_answers_bad_requests_with_a_4xx_naming_the_problem(shipped):
    with serve_student(shipped, VARIANT, port=0) as url:
        cases = [
            (b"{not json", 400, None, "not JSON"),
            (b"[1, 2]", 400, None, "JSON object"),
            ({"suffix": "x"}, 400, "prompt", "missing 'prompt'"),
            ({"prompt": 3}, 400, "prompt", "'prompt' must be a string"),
            ({"prompt": []}, 400, "prompt", "'prompt' must be"),
            ({"prompt": "a", "suffix": ["b"]}, 400, "suffix", "'suffix' must be a string"),
            ({"prompt": "a", "max_tokens": 0}, 400, "max_tokens", "from 1 to 8"),
            ({"prompt": "a", "max_tokens": 9}, 400, "max_tokens", "from 1 to 8"),
            ({"prompt": "a", "max_tokens": "5"}, 400, "max_tokens", "integer"),
            ({"prompt": "a", "max_tokens": True}, 400, "max_tokens", "integer"),
            ({"prompt": "a", "stream": True}, 400, "stream", "streaming"),
            ({"prompt": "a", "n": 2}, 400, "n", "greedily"),
            ({"prompt": "a", "model": "gpt-4o"}, 404, "model", "does not exist"),
        ]
        for body, status, param, words in cases:
            got, payload = _post(url, body)
            assert got == status and payload["error"]["param"] == param and words in payload["error"]["message"], (body, payload)
        assert _post(url, {"prompt": "a"}, "/chat/completions")[0] == 404
        assert _post(url, b"{}", "/nowhere")[1]["error"]["code"] == "not_found"
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(url + "/completions", timeout=10)
        assert info.value.code == 405


def test_int8_server_serves_the_saved_int8_copy(shipped, report):
    model, tok = load_int8(int8_dir(shipped, VARIANT), shipped)
    prefix, suffix = "f = (x) ->\n", "\nprint f 2\n"
    rows = generate_ids(model, tok, student_inputs(tok, [prefix], [suffix], shipped), shipped, max_new_tokens=4)
    assert len(rows[0]) <= 4
    expected = generate_middles(model, tok, student_inputs(tok, [prefix], [suffix], shipped), shipped)
    with serve_student(shipped, VARIANT, int8=True, port=0) as url:
        assert url.model == VARIANT + "-int8"
        status, payload = _post(url, {"model": url.model, "prompt": prefix, "suffix": suffix})
        assert status == 200 and payload["choices"][0]["text"] == expected[0]
