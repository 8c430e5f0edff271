"""Colab as committed: one repository address everywhere, an install that keeps Colab's own packages, artifacts that
can outlive a runtime, images that render without the repository beside them, and papermill's `-p` for overrides."""

import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

from utils import colab
from utils.config import (
    COLAB_KEEPS,
    DRIVE_ARTIFACTS,
    DRIVE_MOUNT,
    GITHUB_REPO,
    REPO_ROOT,
    REPO_URL,
    UserError,
    load_config,
    notebook_config,
    parse_notebook_overrides,
)

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
README = (REPO_ROOT / "README.md").read_text()
NEVER_ON_COLAB = ("torch", "numpy", "pandas", "ipykernel", "pytest", "nbval", "hypothesis")
TEST_TOOLS = ("pytest", "nbval", "hypothesis")


def _nb(path):
    return nbformat.read(path, as_version=4)


def _setup_source(path) -> str:
    nb = _nb(path)
    i = colab.setup_cell_index(nb)
    assert i is not None, f"{path.name}: no code cell right after the `parameters` cell"
    return nb.cells[i].source


def _names(path: Path) -> list[str]:
    return [n for n in map(colab.requirement_name, path.read_text().splitlines()) if n]


# ---------------------------------------------------------------------------- one place names the repository


def test_the_repository_is_named_once_in_config():
    assert REPO_URL == f"https://github.com/{GITHUB_REPO}"
    assert re.fullmatch(r"[\w.-]+/[\w.-]+", GITHUB_REPO)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_each_notebook_opens_itself_in_colab_from_the_configured_repository(path):
    nb = _nb(path)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and colab.badge(path.name) in first.source
    for cell in nb.cells:
        for url in re.findall(r"https://colab\.research\.google\.com/github/[^\s)\"']+", cell.source):
            assert url == colab.badge_url(path.name), f"{path.name}: badge {url} is not {colab.badge_url(path.name)}"


def test_readme_badges_use_the_configured_repository():
    urls = re.findall(r"https://colab\.research\.google\.com/github/[^\s)\"']+", README)
    assert {u.rsplit("/", 1)[1] for u in urls} == {p.name for p in NOTEBOOKS}, "one README badge per notebook"
    for url in urls:
        assert url == colab.badge_url(url.rsplit("/", 1)[1]), f"README badge {url} does not use utils.config"
    # any other link to a GitHub repository of ours is the configured one (leafo/moonscript is the parser's home)
    for owner_name in re.findall(r"github\.com/([\w.-]+/[\w.-]+)", README):
        assert owner_name in (GITHUB_REPO, "leafo/moonscript"), f"README links github.com/{owner_name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_each_setup_cell_clones_the_configured_url_and_is_the_shared_one(path):
    source = _setup_source(path)
    assert source.startswith("# NBVAL_IGNORE_OUTPUT")
    assert re.findall(r'REPO_URL = "([^"]+)"', source) == [REPO_URL]
    assert source == colab.setup_cell(), f"{path.name}: run `python -m utils.colab sync`"
    assert "!" not in "".join(line.split("#")[0].lstrip()[:1] for line in source.splitlines()), "no shell escapes"


# ---------------------------------------------------------------------------- installing on Colab


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_the_install_cell_names_none_of_colabs_own_packages_or_the_test_tools(path):
    source = _setup_source(path)
    code = "\n".join(line.split("#", 1)[0] for line in source.splitlines())  # what runs, not what comments say
    for name in NEVER_ON_COLAB:
        assert not re.search(rf"\b{name}\b", code), f"{path.name}: the set-up cell names {name}"
    assert "requirements.txt" not in code and "pip" not in code  # it installs through install_requirements only


def test_colab_requirements_are_requirements_txt_without_colabs_own_packages():
    path = REPO_ROOT / "requirements-colab.txt"
    assert path.read_text() == colab.colab_requirements(), "run `python -m utils.colab sync`"
    names = _names(path)
    assert not set(names) & set(NEVER_ON_COLAB) and not set(names) & set(COLAB_KEEPS)
    assert set(names) == set(_names(REPO_ROOT / "requirements.txt")) - set(COLAB_KEEPS)
    assert {"transformers", "datasets", "lupa", "openai"} <= set(names)


def test_pip_is_held_to_colabs_installed_versions():
    cmd = colab.install_requirements(dry_run=True)
    assert cmd[:4] == [sys.executable, "-m", "pip", "install"] and "requirements-colab.txt" in cmd[cmd.index("-r") + 1]
    pins = Path(cmd[cmd.index("-c") + 1]).read_text().split()
    import numpy

    assert f"numpy=={numpy.__version__}" in pins


def test_runtime_and_test_requirements_are_apart():
    runtime = _names(REPO_ROOT / "requirements.txt")
    assert not set(runtime) & set(TEST_TOOLS)
    test = (REPO_ROOT / "requirements-test.txt").read_text()
    assert "-r requirements.txt" in test.splitlines()
    assert set(TEST_TOOLS) <= set(_names(REPO_ROOT / "requirements-test.txt"))


def test_ci_runs_exactly_the_readme_test_command():
    ci = [line for line in (REPO_ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.startswith(("#", "set ", "cd "))]
    assert ci == ["python -m pip install -q -r requirements-test.txt", "python -m pytest"]
    blocks = re.findall(r"```bash\n(.*?)```", README, re.S)
    test_block = [b for b in blocks if "python -m pytest" in b]
    assert test_block and "pip install -r requirements-test.txt" in test_block[0]


# ---------------------------------------------------------------------------- the set-up cell on a (pretend) Colab


@pytest.fixture
def fake_colab(monkeypatch, tmp_path):
    """`google.colab` in sys.modules (as on Colab) with a drive.mount that records its calls; cwd restored after."""
    mounts = []
    module = types.ModuleType("google.colab")
    module.drive = types.SimpleNamespace(mount=lambda path, **kw: mounts.append(path))
    monkeypatch.setitem(sys.modules, "google.colab", module)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISTIL_REPO", raising=False)
    installs = []
    monkeypatch.setattr(colab, "install_requirements", lambda: installs.append(True))
    return types.SimpleNamespace(mounts=mounts, installs=installs)


def _run_setup(source: str, **params):
    scope = {"profile": "tiny", "run_name": None, "overrides": {}, "artifacts_dir": None, "use_drive": False, **params}
    exec(compile(source, "<setup cell>", "exec"), scope)
    return scope


def test_a_failed_clone_stops_with_the_url_the_cause_and_the_fix(fake_colab, tmp_path):
    source = (colab.setup_cell()
              .replace(REPO_URL, str(tmp_path / "no-such-repository"))
              .replace(colab.COLAB_REPO, str(tmp_path / "clone")))
    with pytest.raises(RuntimeError) as err:
        _run_setup(source)
    message = str(err.value)
    assert str(tmp_path / "no-such-repository") in message  # the URL
    assert "does not exist" in message or "fatal" in message  # git's own words: the cause
    assert "upload the repository folder" in message and "use_drive = True" in message and "REPO_URL" in message
    assert not fake_colab.installs


def test_a_repository_already_there_is_used_as_is_and_drive_keeps_the_artifacts(fake_colab, monkeypatch):
    monkeypatch.setenv("DISTIL_REPO", str(REPO_ROOT))  # uploaded, or on Drive: no clone
    source = colab.setup_cell().replace(REPO_URL, "/nowhere")  # a clone would fail
    scope = _run_setup(source, use_drive=True, overrides='{"max_files": 12}')
    assert Path.cwd() == REPO_ROOT / "notebooks"
    assert fake_colab.mounts == [DRIVE_MOUNT] and fake_colab.installs == [True]
    cfg = scope["cfg"]
    assert cfg.artifacts_dir == DRIVE_ARTIFACTS and cfg.max_files == 12


# ---------------------------------------------------------------------------- notebook settings


def test_notebook_config_takes_overrides_as_a_dict_or_json_text(monkeypatch, tmp_path):
    monkeypatch.delenv("DISTIL_ARTIFACTS", raising=False)
    assert notebook_config("tiny", None, {"max_files": 12}).max_files == 12
    assert notebook_config("tiny", None, '{"max_files": 12, "fim_mode": "spm"}').fim_mode == "spm"
    assert parse_notebook_overrides("") == {} and parse_notebook_overrides(None) == {}
    assert notebook_config("tiny").run_dir == REPO_ROOT / "artifacts" / "tiny"
    assert notebook_config("tiny", "x", None, str(tmp_path)).run_dir == tmp_path / "x"
    monkeypatch.setenv("DISTIL_ARTIFACTS", str(tmp_path / "env"))
    assert notebook_config("tiny").run_dir == tmp_path / "env" / "tiny"
    assert notebook_config("tiny", None, {}, str(tmp_path)).artifacts_dir == str(tmp_path)  # the parameter wins


@pytest.mark.parametrize("bad, says", [
    ("{'max_files': 12}", "-p overrides '{\"max_files\": 12}'"),
    ("max_files=12", "not JSON"),
    ("[12]", "mapping"),
])
def test_overrides_that_are_not_a_json_object_name_the_fix(bad, says):
    with pytest.raises(UserError, match=re.escape(says)):
        notebook_config("tiny", None, bad)


def test_bad_settings_in_json_text_are_refused_like_any_other():
    with pytest.raises(UserError, match="max_fils"):
        notebook_config("tiny", None, '{"max_fils": 12}')


def test_drive_outside_colab_and_two_artifacts_folders_are_refused(tmp_path):
    with pytest.raises(UserError, match="Colab only"):
        notebook_config("tiny", use_drive=True)
    with pytest.raises(UserError, match="two artifacts folders"):
        notebook_config("tiny", None, {"artifacts_dir": str(tmp_path / "a")}, str(tmp_path / "b"))


def test_a_missing_stage_names_its_notebook_and_the_folder_looked_in(tmp_path):
    from utils.artifacts import load_merged, load_stage

    cfg = load_config("tiny", artifacts_dir=str(tmp_path), run_name="fresh-runtime")
    with pytest.raises(UserError) as err:
        load_stage(cfg, "teacher")
    assert "03_teacher_generation.ipynb" in str(err.value) and str(tmp_path / "fresh-runtime" / "teacher") in str(err.value)
    with pytest.raises(UserError, match="02_fim_segmentation.ipynb"):
        load_merged(cfg)


# ---------------------------------------------------------------------------- images


IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)|<img[^>]*\bsrc=[\"']([^\"']+)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_notebook_images_render_without_the_repository_beside_them(path):
    for cell in _nb(path).cells:
        if cell.cell_type != "markdown":
            continue
        for match in IMAGE.finditer(cell.source):
            target = match.group(1) or match.group(2)
            assert target.startswith(("attachment:", "https://", "data:")), f"{path.name}: relative image {target}"
            if target.startswith("attachment:"):
                assert target[len("attachment:"):] in cell.get("attachments", {}), f"{path.name}: {target} not attached"


def test_the_method_diagram_is_attached_and_matches_img():
    import base64

    nb = _nb(next(p for p in NOTEBOOKS if p.name.startswith("05")))
    cell = next(c for c in nb.cells if "attachment:step_by_step.png" in c.source)
    data = cell.attachments["step_by_step.png"]["image/png"]
    assert base64.b64decode(data) == (REPO_ROOT / "img" / "step_by_step.png").read_bytes()


# ---------------------------------------------------------------------------- papermill's command line


def test_papermill_command_line_takes_overrides_as_json_text(tmp_path):
    out = tmp_path / "01.ipynb"
    env = {**os.environ, "DISTIL_ARTIFACTS": str(tmp_path / "artifacts"), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "papermill", str(NOTEBOOKS[0]), str(out), "--cwd", str(REPO_ROOT / "notebooks"),
         "-k", "python3", "--no-progress-bar",
         "-p", "overrides", '{"max_files": 12}', "-p", "run_name", "cli"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    nb = _nb(out)
    injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert 'overrides = "{\\"max_files\\": 12}"' in injected.source  # papermill passes the text, not a dict
    setup = next(c for c in nb.cells if c.source == colab.setup_cell())  # after the parameters and injected cells
    text = "".join(o.get("text", "") for o in setup.outputs if o.get("output_type") == "stream")
    assert "run 'cli'" in text and "max_files=12" in text, text
    assert str(tmp_path / "artifacts" / "cli") in text
