"""The committed notebooks, as a reader sees them on GitHub: outputs that hold on any machine, no noise.

nbval (run in the same suite) checks that the outputs are what the code makes; these checks read the saved
outputs themselves, so they hold whoever regenerated them and wherever.
"""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# an absolute path of the machine that ran the notebook: home and work folders, temporary folders, CI checkouts
MACHINE_PATH = re.compile(r"(?<![\w.:/])/(?:work|home|root|tmp|Users|check|mnt|builds|runner|private)/[\w.\-]+")


def output_texts(path: Path) -> list[tuple[int, str, str]]:
    """(cell index, output kind, text) of every saved text output of a notebook (images left out)."""
    out = []
    for i, cell in enumerate(json.loads(path.read_text())["cells"]):
        for o in cell.get("outputs", []):
            if "text" in o:
                out.append((i, o.get("name", "stream"), "".join(o["text"])))
            for mime, data in o.get("data", {}).items():
                if mime.startswith("text/"):
                    out.append((i, mime, "".join(data)))
    return out


def test_the_pattern_finds_machine_paths_and_spares_relative_ones():
    assert MACHINE_PATH.search("found in /work/shared/data/tokenizers/t5: 32,100 pieces")
    assert MACHINE_PATH.search("saved to /tmp/distil-artifacts-x1/tiny/report")
    assert not MACHINE_PATH.search("found in ../shared/data/tokenizers/t5 and artifacts/tiny/report, see https://x.org/home/a")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_saved_outputs_name_no_path_of_the_machine_that_ran_them(path):
    found = [(i, m.group()) for i, _, text in output_texts(path) for m in [MACHINE_PATH.search(text)] if m]
    assert not found, f"{path.name}: cells show absolute paths (use paths relative to the repository): {found}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_saved_outputs_hold_no_stderr_warnings_or_errors(path):
    cells = json.loads(path.read_text())["cells"]
    errors = [i for i, c in enumerate(cells) for o in c.get("outputs", []) if o.get("output_type") == "error"]
    stderr = [(i, text[:200]) for i, kind, text in output_texts(path) if kind == "stderr"]
    warnings = [(i, text[:200]) for i, _, text in output_texts(path) if re.search(r"\w+Warning\b|^WARNING", text, re.M)]
    assert not errors and not stderr and not warnings, f"{path.name}: errors {errors}, stderr {stderr}, warnings {warnings}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_progress_bars_show_how_they_ended_not_a_frozen_first_frame(path):
    frozen = [(i, text) for i, kind, text in output_texts(path) if kind == "text/plain" and re.match(r"^[^|\n]*?\b0%\|", text)]
    assert not frozen, f"{path.name}: progress widgets saved at 0% (run `python -m utils run --regenerate`): {frozen[:3]}"


def test_widget_text_reads_the_last_state_of_a_tqdm_bar():
    from utils.runner import widget_text

    state = {
        "box": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_l", "IPY_MODEL_b", "IPY_MODEL_r"]}},
        "l": {"model_name": "HTMLModel", "state": {"value": "timing: 100%"}},
        "b": {"model_name": "FloatProgressModel", "state": {"value": 7.0, "max": 7.0}},
        "r": {"model_name": "HTMLModel", "state": {"value": "\u20077/7\u2007[00:12&lt;00:00,\u2007\u20071.7s/system]"}},
    }
    assert widget_text(state, "box") == "timing: 100%|██████████| 7/7 [00:12<00:00,  1.7s/system]"
    state["b"]["state"]["value"] = 3.5
    assert widget_text(state, "box").split("|")[1] == "█████     "
    assert widget_text(state, "missing") is None
