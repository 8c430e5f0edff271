"""Run the notebook series in order with papermill, stopping at the first failure."""

from __future__ import annotations

import html
import json
import time
from pathlib import Path

from .config import REPO_ROOT, UserError, load_config

NOTEBOOK_DIR = REPO_ROOT / "notebooks"


def notebooks(only: list[str] | None = None) -> list[Path]:
    """The numbered notebooks in order, optionally only those whose number or name is in `only`."""
    found = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    if only:
        found = [nb for nb in found if any(nb.name.startswith(o) or nb.stem == o for o in only)]
        if not found:
            raise UserError(f"no notebook matches {only}: use numbers such as 01 02, or full names from notebooks/")
    return found


def widget_text(state: dict, model_id: str) -> str | None:
    """The last text of a tqdm progress widget (`desc: 100%|██████████| 30/30 [00:23<00:00]`) from a notebook's saved widget state."""
    box = state.get(model_id, {})
    children = [state.get(c.removeprefix("IPY_MODEL_"), {}) for c in box.get("state", {}).get("children", [])]
    if box.get("model_name") != "HBoxModel" or [c.get("model_name") for c in children] != ["HTMLModel", "FloatProgressModel", "HTMLModel"]:
        return None
    left, bar, right = (c.get("state", {}) for c in children)
    done = bar.get("value", 0) / bar["max"] if bar.get("max") else 1.0
    filled = max(0, min(10, int(10 * done)))
    text = f"{left.get('value', '')}|{'█' * filled}{' ' * (10 - filled)}|{right.get('value', '')}"
    return html.unescape(text).replace("\u2007", " ")


def strip_run_metadata(path: Path) -> None:
    """Drop papermill's timing metadata so a regenerated notebook diffs cleanly; progress widgets read as they ended.

    A tqdm widget's text fallback (what GitHub and nbval see) is its first frame, `0%|          | 0/30`; it is
    replaced with the widget's last state, so a saved notebook shows how each bar ended, not a frozen start.
    """
    nb = json.loads(path.read_text())
    nb["metadata"].pop("papermill", None)
    state = nb["metadata"].get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    for cell in nb["cells"]:
        cell.get("metadata", {}).pop("papermill", None)
        cell.get("metadata", {}).pop("execution", None)
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get("application/vnd.jupyter.widget-view+json")
            if view and (text := widget_text(state, view.get("model_id", ""))) is not None:
                output["data"]["text/plain"] = [text]
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def run_series(
    profile: str = "tiny",
    run_name: str | None = None,
    overrides: dict | None = None,
    only: list[str] | None = None,
    regenerate: bool = False,
    log_output: bool = False,
) -> Path:
    """Execute the notebooks in order into `artifacts/<run_name>/notebooks/`; return the run folder.

    `regenerate=True` executes the committed notebooks in place with their own default
    parameters (the tiny profile), which is how their saved outputs are made.
    """
    import papermill as pm
    from tqdm.auto import tqdm

    overrides = dict(overrides or {})
    cfg = load_config(profile, run_name=run_name, **overrides)  # refuse bad settings before running anything
    out_dir = cfg.run_dir / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    params = {"profile": profile, "run_name": cfg.run_name, "overrides": overrides}
    todo = notebooks(only)
    bar = tqdm(todo, desc="notebooks", unit="nb")
    for nb in bar:
        bar.set_postfix_str(nb.stem)
        target = nb if regenerate else out_dir / nb.name
        start = time.time()
        try:
            pm.execute_notebook(
                str(nb),
                str(target),
                parameters=None if regenerate else params,
                cwd=str(NOTEBOOK_DIR),
                kernel_name="python3",
                progress_bar=False,
                log_output=log_output,
            )
        except pm.PapermillExecutionError as err:
            raise UserError(
                f"notebook {nb.name} failed in cell {err.exec_count}: {err.ename}: {err.evalue.strip()[:300]}; "
                f"the executed copy with the traceback is {target}"
            ) from None
        if regenerate:
            strip_run_metadata(target)
        tqdm.write(f"  {nb.name}: done in {time.time() - start:.0f}s -> {target}")
    return cfg.run_dir
