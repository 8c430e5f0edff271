"""Google Colab: the notebooks' set-up cell, the packages it installs, and the links that open the notebooks there.

Everything here that names the repository reads `utils.config` (GITHUB_REPO, REPO_URL, REPO_BRANCH), so the address
is written in one place. A Colab badge in the README or a notebook, and the clone URL in a set-up cell, are text a
reader sees before any code runs, so they hold the address too: `python -m utils.colab sync` rewrites them from the
constants, and tests/test_colab.py fails when they disagree.

Only the standard library is imported here: on Colab this module runs before the requirements are installed.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from .config import (
    COLAB_KEEPS,
    COLAB_REPO,
    DRIVE_MOUNT,
    DRIVE_REPO,
    GITHUB_REPO,
    REPO_BRANCH,
    REPO_ROOT,
    REPO_URL,
)

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
README = REPO_ROOT / "README.md"
REQUIREMENTS = REPO_ROOT / "requirements.txt"
COLAB_REQUIREMENTS = REPO_ROOT / "requirements-colab.txt"

# a Colab badge's target, whatever repository and branch it names
BADGE_RE = re.compile(r"https://colab\.research\.google\.com/github/([^/\s)]+/[^/\s)]+)/blob/([^/\s)]+)/notebooks/([^\s)]+\.ipynb)")


def badge_url(notebook: str) -> str:
    """The address that opens `notebook` (a file name in notebooks/) in Colab."""
    return f"https://colab.research.google.com/github/{GITHUB_REPO}/blob/{REPO_BRANCH}/notebooks/{notebook}"


def badge(notebook: str) -> str:
    """The markdown of the "Open In Colab" badge of `notebook`."""
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({badge_url(notebook)})"


# The set-up cell of every notebook (the code cell right after `parameters`). It runs before `utils` can be imported
# on Colab, so it finds or fetches the code itself; then it installs what Colab lacks and builds `cfg`.
SETUP_CELL = '''# NBVAL_IGNORE_OUTPUT
import os, sys, subprocess
REPO_URL = "{repo_url}"  # the project's address: REPO_URL in utils/config.py
if "google.colab" in sys.modules:  # Colab: find the code (uploaded, on Drive, or cloned here), keep Colab's own packages
    if use_drive:  # artifacts on Google Drive outlive the runtime (each Colab notebook gets a fresh one)
        from google.colab import drive
        drive.mount("{drive_mount}")
    places = [os.environ.get("DISTIL_REPO", ""), "{drive_repo}", "{colab_repo}"]
    repo = next((p for p in places if p and os.path.isdir(os.path.join(p, "utils"))), None)
    if repo is None:
        repo = "{colab_repo}"
        git = ["git", "clone", "-q", "--depth", "1", "--branch", "{repo_branch}", REPO_URL, repo]
        done = subprocess.run(git, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"could not clone {{REPO_URL}} into {{repo}}: {{done.stderr.strip() or 'git exited with ' + str(done.returncode)}}. "
                f"Fix: upload the repository folder to {{repo}} (Files pane), or keep it on Google Drive at "
                f"{drive_repo_short} and set use_drive = True (or set DISTIL_REPO to its folder), or correct REPO_URL"
            )
    os.chdir(os.path.join(repo, "notebooks"))
sys.path.insert(0, os.path.abspath(".."))  # the repo root, where utils/ lives
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if "google.colab" in sys.modules:
    from utils.colab import install_requirements
    install_requirements()  # requirements-colab.txt: never torch, numpy, pandas, ipykernel or the test tools
from utils.config import notebook_config
cfg = notebook_config(profile, run_name, overrides, artifacts_dir, use_drive)
print(cfg.summary())'''


def setup_cell() -> str:
    """The source of every notebook's set-up cell, with the repository's address from utils/config.py."""
    return SETUP_CELL.format(
        repo_url=REPO_URL,
        repo_branch=REPO_BRANCH,
        drive_mount=DRIVE_MOUNT,
        drive_repo=DRIVE_REPO,
        drive_repo_short=DRIVE_REPO.replace(DRIVE_MOUNT + "/", ""),
        colab_repo=COLAB_REPO,
    )


# ---------------------------------------------------------------------------- requirements


def requirement_name(line: str) -> str | None:
    """The normalised package name a requirements line installs, or None for a comment, blank or option line."""
    line = line.split("#", 1)[0].strip()
    if not line or line.startswith("-"):
        return None
    name = re.split(r"[\s\[<>=!~;@]", line, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def colab_requirements(text: str | None = None) -> str:
    """requirements-colab.txt as it must read: requirements.txt without COLAB_KEEPS (comments kept)."""
    text = REQUIREMENTS.read_text() if text is None else text
    keeps = {requirement_name(k) for k in COLAB_KEEPS}
    header = (
        "# Generated from requirements.txt by `python -m utils.colab sync`: do not edit by hand.\n"
        "# What the notebooks' set-up cell installs on Colab: everything the series needs except Colab's\n"
        f"# own {', '.join(COLAB_KEEPS)}\n"
        "# (COLAB_KEEPS in utils/config.py), which stay at Colab's versions.\n"
    )
    lines = [line for line in text.splitlines() if requirement_name(line) not in keeps and not line.startswith("# ")]
    return header + "\n".join(line for line in lines if line.strip()) + "\n"


def install_requirements(dry_run: bool = False) -> list[str]:
    """pip-install requirements-colab.txt, holding Colab's installed COLAB_KEEPS at their versions; return pip's command.

    A package that would need another torch / numpy / pandas / ipykernel makes pip stop (the constraints), instead of
    replacing the runtime's own copy; the error says so.
    """
    pins = []
    for name in COLAB_KEEPS:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    constraints = Path(tempfile.mkdtemp(prefix="colab-keeps-")) / "constraints.txt"
    constraints.write_text("\n".join(pins) + "\n")
    cmd = [sys.executable, "-m", "pip", "install", "-q", "-r", str(COLAB_REQUIREMENTS), "-c", str(constraints)]
    if dry_run:
        return cmd
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        raise RuntimeError(
            f"pip could not install {COLAB_REQUIREMENTS.name} next to Colab's own {', '.join(pins) or 'packages'}:\n"
            f"{tail}\nFix: if a pinned version needs another torch / numpy / pandas, loosen that pin in "
            f"requirements.txt and run `python -m utils.colab sync`; for a network error, run the cell again"
        )
    return cmd


# ---------------------------------------------------------------------------- keeping the links in step


def _notebooks() -> list[Path]:
    return sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def setup_cell_index(nb: dict) -> int | None:
    """Index of the set-up cell: the code cell right after the one tagged `parameters` (None when there is none)."""
    cells = nb["cells"]
    for i, cell in enumerate(cells):
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return i + 1 if i + 1 < len(cells) and cells[i + 1]["cell_type"] == "code" else None
    return None


def _fix_badges(text: str) -> str:
    return BADGE_RE.sub(lambda m: badge_url(m.group(3)), text)


def sync() -> list[str]:
    """Rewrite README.md's and the notebooks' Colab badges, the set-up cells and requirements-colab.txt from
    utils/config.py; return the files changed. Cell ids and outputs are kept."""
    import nbformat

    changed = []
    readme = README.read_text()
    if _fix_badges(readme) != readme:
        README.write_text(_fix_badges(readme))
        changed.append("README.md")
    reqs = colab_requirements()
    if not COLAB_REQUIREMENTS.exists() or COLAB_REQUIREMENTS.read_text() != reqs:
        COLAB_REQUIREMENTS.write_text(reqs)
        changed.append(COLAB_REQUIREMENTS.name)
    for path in _notebooks():
        nb = nbformat.read(path, as_version=4)
        before = nbformat.writes(nb)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = _fix_badges(cell.source)
        i = setup_cell_index(nb)
        if i is not None and nb.cells[i].source != setup_cell():
            nb.cells[i].source = setup_cell()
        after = nbformat.writes(nb)
        if after != before:
            path.write_text(after + "\n")
            changed.append(str(path.relative_to(REPO_ROOT)))
    return changed


if __name__ == "__main__":  # python -m utils.colab sync
    if sys.argv[1:] != ["sync"]:
        sys.exit("usage: python -m utils.colab sync   (rewrite the Colab links, set-up cells and requirements-colab.txt)")
    for name in sync() or ["nothing: everything already matches utils/config.py"]:
        print("updated", name)
