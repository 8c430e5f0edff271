"""The series as a whole, read from the run the notebooks made under nbval (see the root conftest.py).

`python -m utils run` executes the same notebooks through papermill; `test_the_runner_injects_parameters`
checks that path on the first notebook, the rest reads the artifacts nbval's run left (or makes them when
this file is selected alone).
"""

import json

import pandas as pd
import pytest

from tests.series import PRODUCES, ensure_series
from utils.config import load_config
from utils.runner import run_series


@pytest.fixture(scope="module")
def run_dir():
    ensure_series()  # a no-op after nbval ran the notebooks
    return load_config("tiny").run_dir


def test_the_runner_injects_parameters(tmp_path, monkeypatch):
    monkeypatch.setenv("DISTIL_ARTIFACTS", str(tmp_path))
    run_dir = run_series("tiny", run_name="runner", only=["01"])
    cells = json.loads((run_dir / "notebooks" / "01_model_inspection.ipynb").read_text())["cells"]
    injected = [c for c in cells if "injected-parameters" in c["metadata"].get("tags", [])]
    assert len(injected) == 1 and "run_name = \"runner\"" in "".join(injected[0]["source"])
    assert not [o for c in cells for o in c.get("outputs", []) if o.get("output_type") == "error"]


def test_series_report_is_complete(run_dir):
    results = pd.read_csv(run_dir / "report" / "results.csv")
    assert json.loads((run_dir / "report" / "results.json").read_text())
    systems = set(results["system"])
    assert {"teacher", "untrained", "finetune", "distill", "step_by_step"} <= systems
    overall = results[results["span_type"] == "all"]
    for metric in ("exact_match", "edit_similarity", "chrf", "bleu", "empty_rate"):
        assert set(overall[overall["metric"] == metric]["system"]) >= systems, metric
    es = overall[overall["metric"] == "edit_similarity"].set_index("system")["value"]
    assert es["step_by_step"] > es["untrained"], es.to_dict()
    assert list(run_dir.joinpath("report").glob("*.png"))


def test_every_stage_left_its_artifact(run_dir):
    for number, artifact in PRODUCES.items():
        if number != "01":
            assert (run_dir / artifact).exists(), f"notebook {number} left no {artifact}"
