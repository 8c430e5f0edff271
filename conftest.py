"""Repository-wide pytest hooks: the notebook series runs once, under nbval (tests/conftest.py holds the fixtures).

- Threads: the tiny profile's models are tiny, so one thread per process is fastest and never oversubscribes
  shared cores; the notebook kernels nbval starts inherit the setting.
- Order: unit tests first, then the notebooks in their numbered order (nbval executes each one, writing the
  run's artifacts), then the checks of the series' report (`tests/test_series.py`), which read what the
  notebooks wrote. A notebook selected alone first gets the artifacts of the notebooks before it (papermill).
- Two workers (pytest-xdist, `-n 2 --dist loadgroup` in pytest.ini): the series (notebooks, then its checks) is one
  group, sent first and whole to one worker, which runs it in order; the unit tests run on the other worker
  meanwhile. The series is a chain of about 6 minutes on one core, so a second core adds nothing to it; the unit
  tests fill that core instead of waiting for the series to end. `-n 0` runs everything in one process.
"""

import os
import subprocess
import sys
import tempfile

import pytest

# before transformers / datasets are imported anywhere: no test touches the network
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# notebooks executed by the tests (papermill, nbval) write here, never into the repo's artifacts/
os.environ["DISTIL_ARTIFACTS"] = tempfile.mkdtemp(prefix="distil-artifacts-")  # whatever the user's environment says
# MoonScript's own parser, where CI and developers have it beside the checkout (tests needing it skip without it)
SHARED_PARSER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "shared", "tools", "moonscript-parser")
if os.path.isdir(SHARED_PARSER):
    os.environ.setdefault("MOONSCRIPT_PARSER", os.path.abspath(SHARED_PARSER))

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

SERIES_CHECKS = "test_series.py"
# unit tests that load the tiny teacher model, which takes minutes to build on a fresh clone: they run after the
# others, which need at most its tokenizer (built alone in seconds, utils.tiny.ensure_tiny_tokenizer)
NEED_THE_TEACHER_MODEL = {"test_colab.py", "test_evaluation.py", "test_inspection.py", "test_logit_distill.py",
                          "test_models.py", "test_teacher.py", "test_tiny.py"}


def _notebook_of(item) -> str | None:
    """The notebook file name of an nbval item, else None."""
    name = os.path.basename(str(getattr(item, "fspath", "")))
    return name if name.endswith(".ipynb") else None


SERIES_GROUP = "series"


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups (it appends them to the test ids)
def pytest_collection_modifyitems(items):
    """Unit tests, then notebooks in order, then the series checks (with workers: the series first, as one group);
    nbval gets time to collect output."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1, ...; unset in one process (collection runs in the workers only)
    for item in items:
        if hasattr(item, "output_timeout"):
            # after a long cell (training in notebook 05) a loaded 2-core machine can take more than nbval's fixed
            # 5 s to flush the kernel's last messages; nbval would then fail the cell and skip the rest
            item.output_timeout = 120

    def rank(item):
        nb = _notebook_of(item)
        if nb:
            return (1, nb)
        name = os.path.basename(str(item.fspath))
        if name == SERIES_CHECKS:
            return (2, "")
        return (0, "b" if name in NEED_THE_TEACHER_MODEL else "a")  # the others run while the teacher trains

    items.sort(key=rank)  # stable: each group keeps its own order
    if worker:  # the series, whole and in order, to the first free worker; the unit tests to the other
        unit = [item for item in items if rank(item)[0] == 0]
        series = items[len(unit):]  # sorted after the unit tests
        for item in series:
            item.add_marker(pytest.mark.xdist_group(SERIES_GROUP))
        items[:] = series + unit
    # every worker collects every test: the first one alone starts the builds
    if any(_notebook_of(item) for item in items) and worker in (None, "gw0"):
        _build_tiny_models_in_background()


_builds: list[subprocess.Popen] = []


def _build_tiny_models_in_background() -> None:
    """Start building the missing tiny models, one process each, while the first tests run (the series needs both).

    Each build takes the model's file lock (utils.tiny.build_once): a test that needs a model waits for its build
    instead of starting a second one. One thread per build, as in-process, so the models are the same either way.
    """
    from utils.tiny import TINY_NAMES, tiny_dir

    for name in TINY_NAMES:
        if not (tiny_dir(name) / "config.json").exists():
            log = open(os.path.join(tempfile.gettempdir(), f"distil-build-{name}.log"), "w")
            code = f"from utils.tiny import ensure_tiny_model; ensure_tiny_model({name!r})"
            _builds.append(subprocess.Popen([sys.executable, "-c", code], cwd=os.path.dirname(os.path.abspath(__file__)),
                                            stdout=log, stderr=subprocess.STDOUT))


def pytest_sessionfinish(session, exitstatus):
    """Builds still running when the session ends early are stopped (their half-built folder is never used)."""
    for build in _builds:
        if build.poll() is None:
            build.terminate()
            build.wait()


_ready: set[str] = set()


def pytest_runtest_setup(item):
    """Before a notebook's first cell runs: the tiny models exist (waiting for their builds, so that no notebook builds
    one and saves its log), and so do the earlier notebooks' artifacts (a notebook selected alone)."""
    nb = _notebook_of(item)
    if nb and nb not in _ready:
        _ready.add(nb)
        from tests.series import ensure_series
        from utils.tiny import TINY_NAMES, ensure_tiny_model

        for name in TINY_NAMES:  # waits on the build's file lock; builds here only if no other process does
            ensure_tiny_model(name, verbose=False)
        ensure_series(until=nb[:2])
