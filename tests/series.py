"""The notebook series on the tiny profile, run once for the whole suite (see the root conftest.py)."""

# what each notebook leaves in the run folder (artifacts/<run>/...), so a later one can run
PRODUCES = {
    "01": "notebooks/01_model_inspection.ipynb",
    "02": "fim/dataset",
    "03": "teacher/dataset",
    "04": "rationale/dataset",
    "05": "models/step_by_step",
    "06": "models/logit_distill",
    "07": "report/results.csv",
    "08": "shipping/real_size_latency.png",
}


def ensure_series(until: str | None = None) -> None:
    """Run (papermill) every notebook before number `until` (None: all) whose artifact is missing."""
    from utils.config import load_config
    from utils.runner import run_series

    run_dir = load_config("tiny").run_dir  # the folder the committed notebooks write to under nbval
    for number, artifact in PRODUCES.items():
        if until is not None and number >= until:
            break
        if number != "01" and not (run_dir / artifact).exists():
            run_series("tiny", only=[number])
