"""`python -m utils rehearse`: the colab path at real size with random weights, its measurements and its T4 estimate."""

import subprocess
import sys

import pytest
import torch
from datasets import Dataset

from utils.config import REPO_ROOT, load_config
from utils.rehearse import Rehearsal, Stage, colab_rows, fill, longest, seq2seq_flops, t4_estimate, t4_memory

T5_TOKENIZER = REPO_ROOT.parent / "shared" / "data" / "tokenizers" / "t5"


def test_fill_repeats_rows_with_distinct_ids():
    rows = Dataset.from_dict({"id": ["a", "b", "c"], "teacher_input": ["x", "xxx", "xx"]})
    filled = fill(rows, 7, "t")
    assert len(filled) == 7 and len(set(filled["id"])) == 7
    assert [i.split("#")[0] for i in filled["id"]] == ["a", "b", "c", "a", "b", "c", "a"]
    assert longest(rows, 2)["id"] == ["b", "c"]


MEASURE_64_MIB = """
import torch
from utils.rehearse import Stage, measure
with measure(Stage("alloc"), torch.device("cpu")) as st:
    block = torch.ones(64 * 2**20 // 4)  # 64 MiB, touched
    block += 1
print(st.seconds, st.peak_growth, st.peak_total)
"""


def test_measure_sees_time_and_memory_of_the_block():
    # a fresh process: in a long test session the allocator can serve 64 MiB from memory it already holds,
    # and resident memory then does not grow (the rehearsal itself starts each stage on a new, larger peak)
    done = subprocess.run([sys.executable, "-c", MEASURE_64_MIB], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    seconds, growth, total = map(float, done.stdout.split()[-3:])
    assert seconds > 0 and growth >= 48 * 2**20 and total >= growth


def test_colab_rows_are_capped_by_the_profile_and_the_files():
    cfg = load_config("colab")
    rows = colab_rows(cfg)  # 600 files x 4 segments x 1 span, split 80/10/10, capped at 2000/200/300
    assert rows == {"train": 1920, "valid": 200, "test": 240}
    assert seq2seq_flops({"encoder": 10, "decoder": 20}, 3, 4, 6) == 6 * (30 + 80)


def _rehearsal(activations: float) -> Rehearsal:
    """A rehearsal as the stages would leave it, with round numbers."""
    cfg = load_config("colab")
    r = Rehearsal(cfg, cfg, torch.device("cpu"))
    r.stages = [Stage("02 FIM build", seconds=10.0), Stage("03 teacher: generate", peak_growth=int(1e9)),
                Stage("05 training", peak_growth=int(activations))]
    r.facts = {"sample_files": 100, "teacher_linear": 1.0e9, "teacher_params": 1.1e9, "prompt_tokens": 480.0,
               "teacher_weights": 4.4e9, "usd_per_request": 0.0003, "train_step_flops": 3e12, "student_params": 7.7e7,
               "activations": activations, "largest_activation": 1.5e8,
               "train_shapes": {"rows": 32, "explain_rows": 16, "input_len": 512, "label_len": 128}}
    return r


def test_t4_estimate_covers_every_notebook_and_says_how():
    est = t4_estimate(_rehearsal(7e9))
    assert [name[:2] for name, _, _ in est] == ["02", "03", "04", "05", "06", "07"]
    assert all(seconds > 0 and how for _, seconds, how in est)
    assert est[0][1] == pytest.approx(10.0 * 600 / 100)  # CPU work scaled by files
    fits = dict((name, nbytes) for name, nbytes, _ in t4_memory(_rehearsal(7e9)))
    assert fits["03 teacher (fp16)"] < 15e9 and fits["05 training (fp32)"] < 15e9
    too_big = dict((name, nbytes) for name, nbytes, _ in t4_memory(_rehearsal(14e9)))  # 16 examples at once: 32 rows
    assert too_big["05 training (fp32)"] > 15e9


@pytest.mark.skipif(not T5_TOKENIZER.is_dir(), reason="../shared/data/tokenizers/t5 is not beside this checkout")
def test_rehearse_command_runs_the_real_architectures(tmp_path):
    # real sizes (santacoder 1.1B, flan-t5-small 77M, the real T5 tokenizer), colab's 512-token segments, inputs and
    # rationale limits; batches cut to 1-2 and a few new tokens so the test stays near two minutes on 2 CPU cores
    out = subprocess.run(
        [sys.executable, "-m", "utils", "rehearse", "--examples", "1", "--train-steps", "1", "--teacher-new-tokens", "2",
         "--t5-tokenizer", str(T5_TOKENIZER), "--set", "teacher_batch_size=1", "--set", "train_batch_size=1",
         "--set", "gradient_accumulation_steps=1", "--set", "eval_batch_size=2", "--set", "max_target_tokens=8"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout
    for stage in ("02 FIM build", "03 teacher: build santacoder-size model", "03 teacher: generate a batch of 1",
                  "04 rationale", "05 training: 1 step(s)", "07 evaluation: generate a batch of 2"):
        assert stage in text
    assert "1.125B parameters" in text and "vocabulary 49,280" in text and "77.2M parameters" in text
    assert "n/a (random weights)" in text and "ESTIMATE of the whole colab series on a T4" in text
    assert "ESTIMATE of peak GPU memory on a T4" in text and "fits" in text
