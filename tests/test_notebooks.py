"""The whole series, executed in order through papermill on the tiny profile (as `python -m utils run` does).

Each notebook is its own test, so a failure names the notebook; they share one run folder, so each
notebook reads the artifacts of the ones before it. nbval checks the committed notebooks separately
(pytest collects notebooks/ with --nbval; see pytest.ini).
"""

import json

import pandas as pd
import pytest

from utils.config import load_config
from utils.runner import notebooks, run_series

RUN = "chain"
# what each notebook must leave behind in the run folder
PRODUCES = {
    "01": "notebooks/01_model_inspection.ipynb",
    "02": "fim/dataset",
    "03": "teacher/dataset",
    "04": "rationale/dataset",
    "05": "models/step_by_step",
    "06": "report/results.csv",
}


@pytest.fixture(scope="module")
def run_dir():
    return load_config("tiny", run_name=RUN).run_dir


@pytest.mark.parametrize("nb", notebooks(), ids=lambda p: p.stem)
def test_notebook_runs_in_the_series(nb, run_dir):
    run_series("tiny", run_name=RUN, only=[nb.name[:2]])
    executed = run_dir / "notebooks" / nb.name
    assert executed.exists()
    # papermill injected our parameters, and no cell raised
    cells = json.loads(executed.read_text())["cells"]
    assert any("injected-parameters" in c["metadata"].get("tags", []) for c in cells)
    assert not [o for c in cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert (run_dir / PRODUCES[nb.name[:2]]).exists()


def test_chain_report_is_complete_and_step_by_step_beats_untrained(run_dir):
    path = run_dir / "report" / "results.csv"
    if not path.exists():
        pytest.fail("the chain did not produce report/results.csv (see the notebook tests above)")
    results = pd.read_csv(path)
    assert json.loads((run_dir / "report" / "results.json").read_text())
    systems = set(results["system"])
    assert {"teacher", "untrained", "finetune", "distill", "step_by_step"} <= systems
    overall = results[(results["span_type"] == "all")]
    for metric in ("exact_match", "edit_similarity", "chrf", "bleu", "empty_rate"):
        assert set(overall[overall["metric"] == metric]["system"]) >= systems, metric
    es = overall[overall["metric"] == "edit_similarity"].set_index("system")["value"]
    assert es["step_by_step"] > es["untrained"], es.to_dict()
    assert list(run_dir.joinpath("report").glob("*.png"))
