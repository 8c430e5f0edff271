"""Where the series keeps things, in one place: run folders and stage artifacts, caches, locks, figures,
printable paths, secrets, and the `.moon` files of a folder.

Every stage (notebooks 02-07) reads and writes through these helpers, so a rule (fsync before a
record counts as saved, one run per stage at a time, no absolute path in an output) holds everywhere.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasets import DatasetDict, load_from_disk
from filelock import FileLock, Timeout

from .config import REPO_ROOT, Config, UserError

# which notebook writes each stage's artifact, for error messages
STAGE_NOTEBOOK = {
    "fim": "02_fim_segmentation.ipynb",
    "teacher": "03_teacher_generation.ipynb",
    "rationale": "04_rationale_generation.ipynb",
    "models": "05_step_by_step_training.ipynb",
    "logits": "06_logit_distillation.ipynb",
    "report": "07_evaluation.ipynb",
}


# --------------------------------------------------------------------------- paths


def relative(path: str | Path) -> str:
    """`path` relative to the repo root when inside it (outputs never show absolute paths), else as is."""
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def stage_dir(cfg: Config, stage: str) -> Path:
    """Folder of one stage's artifact: artifacts/<run_name>/<stage>."""
    return cfg.run_dir / stage


# --------------------------------------------------------------------------- stage artifacts


def save_stage(ds: DatasetDict, folder: str | Path) -> Path:
    """Save a DatasetDict to disk plus one parquet file per split (for pandas and reviewers)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ds.save_to_disk(str(folder / "dataset"))
    for split, part in ds.items():
        part.to_parquet(str(folder / f"{split}.parquet"))
    return folder


def load_stage(cfg: Config, stage: str) -> DatasetDict:
    """Load a stage's artifact, or say which notebook to run first and where we looked."""
    path = stage_dir(cfg, stage) / "dataset"
    if not path.exists():
        nb = STAGE_NOTEBOOK.get(stage, stage)
        raise UserError(f"no {stage} artifact at {relative(path)}: run notebook {nb} first (same profile and run_name)")
    return load_from_disk(str(path))


COMES_WITH = {"teacher_middle": ("teacher_parses",)}  # columns joined along with a stage's main one, where present


def load_merged(cfg: Config, require: tuple[str, ...] = ("teacher_middle", "rationale")) -> DatasetDict:
    """The FIM rows joined by id with `teacher_middle` (03) and `rationale` (04) where those exist.

    A column in `require` whose stage has not been run raises an error naming the notebook.
    """
    fim = load_stage(cfg, "fim")
    extra = {"teacher_middle": "teacher", "rationale": "rationale"}
    for column, stage in extra.items():
        if not (stage_dir(cfg, stage) / "dataset").exists():
            if column in require:
                raise UserError(f"the dataset has no {column!r}: run notebook {STAGE_NOTEBOOK[stage]} first")
            continue
        other = load_stage(cfg, stage)
        for name in (column, *COMES_WITH.get(column, ())):
            if not all(name in other[split].column_names for split in other):
                continue  # an artifact written before the column existed
            for split in fim:
                values = dict(zip(other[split]["id"], other[split][name])) if split in other else {}
                feature = next((other[s].features[name] for s in other), None) if name != column else None
                fim[split] = fim[split].add_column(name, [values.get(i) for i in fim[split]["id"]], feature=feature)
    return fim


def write_json(path: str | Path, obj: Any) -> None:
    """Write `obj` as indented JSON, creating folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1, ensure_ascii=False, default=str) + "\n")


def save_figure(fig: Any, path: str | Path | None, dpi: int = 100) -> None:
    """Save a matplotlib figure to `path` (folders created); nothing when `path` is None."""
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi)


# --------------------------------------------------------------------------- caches and locks


@dataclass
class JsonlCache:
    """An append-only JSON-lines file: a record counts as saved once `append` returns (flushed and fsync'ed).

    Reading skips what a crash or a stray write can leave behind: a torn last line, a line that is
    not JSON, or bytes that are not UTF-8. `skipped` counts them, so a report can say so.
    """

    path: Path
    skipped: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)

    def records(self) -> Iterator[dict]:
        """Every readable record, in file order."""
        self.skipped = 0
        if not self.path.exists():
            return
        with open(self.path, "rb") as fh:
            for raw in fh:
                try:
                    rec = json.loads(raw.decode("utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError):
                    self.skipped += bool(raw.strip())
                    continue
                if isinstance(rec, dict):
                    yield rec
                else:
                    self.skipped += 1

    def append(self, records: Iterable[dict]) -> None:
        """Append records as JSON lines, flushed and fsync'ed: once this returns, a kill cannot lose them."""
        data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
        if not data:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell():  # a torn last line must not swallow our first record
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    fh.write(b"\n")
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


@contextlib.contextmanager
def stage_lock(cfg: Config, stage: str) -> Iterator[None]:
    """Hold the lock of one stage of one run; a second run of it stops at once, naming the run that holds it."""
    folder = stage_dir(cfg, stage)
    folder.mkdir(parents=True, exist_ok=True)
    lock, owner = FileLock(str(folder / ".lock")), folder / ".lock.owner"
    try:
        lock.acquire(timeout=0)
    except Timeout:
        who = owner.read_text().strip() if owner.exists() else "another process"
        raise UserError(
            f"the {stage} stage of run {cfg.run_name!r} is already running ({who}): wait for it to finish, "
            f"or use another run_name; nothing was started twice"
        ) from None
    try:
        owner.write_text(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        yield
    finally:
        owner.unlink(missing_ok=True)
        lock.release()


# --------------------------------------------------------------------------- secrets


def secret(name: str) -> str | None:
    """A secret by name: the environment variable, else the Colab secret of that name, else None."""
    value = os.environ.get(name, "").strip()
    if value:
        return value
    if "google.colab" not in sys.modules:
        return None
    try:  # pragma: no cover - only on Colab (the key icon in the left bar)
        from google.colab import userdata  # type: ignore[import-not-found]

        return (userdata.get(name) or "").strip() or None
    except Exception:  # noqa: BLE001 - secret missing or notebook access not granted
        return None


# --------------------------------------------------------------------------- corpus files

UNREADABLE = {
    "dangling_symlink": "a symbolic link to nothing",
    "symlink_loop": "a symbolic link that loops",
    "not_a_file": "not a regular file (a folder or a device named .moon)",
    "unreadable": "could not be read (permissions or an I/O error)",
}


def _why_unreadable(path: Path) -> str | None:
    """Why `path` is not a regular readable file (a key of UNREADABLE), or None when it is one."""
    try:
        mode = path.stat().st_mode  # follows symlinks
    except RuntimeError:
        return "symlink_loop"
    except OSError as err:
        if path.is_symlink():
            return "symlink_loop" if err.errno == 40 else "dangling_symlink"  # 40: ELOOP
        return "unreadable"
    if not stat.S_ISREG(mode):
        return "not_a_file"
    return None if os.access(path, os.R_OK) else "unreadable"


def moon_files(folder: str | Path) -> tuple[list[tuple[Path, bytes]], list[tuple[Path, str]]]:
    """Every `.moon` file under `folder`, sorted: ([(path, bytes)], [(path, reason it was skipped)]).

    Symbolic links to folders are not followed (no loops); a `.moon` entry that is not a regular
    readable file is skipped with a reason from UNREADABLE, never raised on.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{str(folder)!r} does not exist or is not a folder: give a folder that holds .moon files")
    found, skipped = [], []
    for root, dirs, names in os.walk(folder, followlinks=False):
        dirs.sort()
        entries = [Path(root) / n for n in names] + [Path(root) / d for d in dirs if d.endswith(".moon")]
        for path in sorted(p for p in entries if p.name.endswith(".moon")):
            reason = _why_unreadable(path)
            if reason is None:
                try:
                    found.append((path, path.read_bytes()))
                    continue
                except OSError:
                    reason = "unreadable"
            skipped.append((path, reason))
    found.sort(key=lambda item: item[0])
    skipped.sort(key=lambda item: item[0])
    return found, skipped


def read_moon_texts(folder: str | Path) -> dict[str, str]:
    """Path (relative to `folder`) -> text of every readable `.moon` file under it (bad UTF-8 replaced)."""
    found, _ = moon_files(folder)
    if not found:
        raise UserError(f"no .moon files under {str(folder)!r}: give a folder that holds MoonScript")
    return {str(p.relative_to(folder)): raw.decode("utf-8", errors="replace") for p, raw in found}
