"""MoonScript's own parser as a judge of code: does this text parse, and if not, where does it fail?

The parser is leafo/moonscript's pure-Lua one (`moonscript/parse/slow.lua`, pinned at commit
`PARSER_COMMIT`), run inside Python by `lupa` (Lua 5.1): one Lua runtime per parser folder per
process, created on first use and guarded by a lock. The project never ships its files; a parser
folder is found, in this order:

1. a setting: `Config.moonscript_parser` (or `--parser PATH` on the command line);
2. the `MOONSCRIPT_PARSER` environment variable;
3. a copy fetched earlier into the cache, `cache_dir() / "moonscript-parser-<commit>"`
   (`python -m utils get-parser` makes it; `get_parser()` does it on first use when the network is
   allowed, never when `HF_HUB_OFFLINE` or `DISTIL_OFFLINE` is set).

A folder is one holding `moonscript/parse.lua` plus `moonscript/parse/slow.lua` (or a native
parse module): a checkout of leafo/moonscript, or the `share/lua/5.1` folder of a luarocks install.

Two ways to ask:
- `get_parser(setting)` returns a `Parser` or raises `UserError` saying how to get one;
- `load_parser(setting)` returns a `Parser` or None, for code that should run on without one:
  print `NO_PARSER_HINT` once and show "n/a" for every parser-based figure.

`parses(code)` / `parse_many(texts)` use the default parser (`get_parser()`); a `Parser` has the
same two methods. A result is a `ParseResult(ok, line, column, message)`: line and column are
1-based (columns in characters) and name where the parser gave up, which for an unclosed bracket
or string is the end of the input. Lua errors (for example the parser's recursion limit on absurdly
nested code) become failed results, never exceptions, and no result depends on earlier texts.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from tqdm.auto import tqdm

from .artifacts import moon_files
from .config import UserError, cache_dir

PARSER_COMMIT = "60a07f80a9b87da85db49f4e0b2283fb821e0e85"  # leafo/moonscript, MIT
PARSER_URL = f"https://codeload.github.com/leafo/moonscript/tar.gz/{PARSER_COMMIT}"
PARSER_ENV = "MOONSCRIPT_PARSER"
OFFLINE_ENVS = ("DISTIL_OFFLINE", "HF_HUB_OFFLINE")
DOWNLOAD_TIMEOUT_S = 60.0
# the only files parsing needs (the compiler's other modules need LPeg and are left out)
PARSER_FILES = (
    "moonscript/parse.lua",
    "moonscript/parse/errors.lua",
    "moonscript/parse/slow.lua",
    "moonscript/parse/tree.lua",
)
LICENSE_FILE = "LICENSE-leafo-moonscript.md"

HOW_TO_GET = (
    f"set {PARSER_ENV} to a folder holding moonscript/parse.lua and moonscript/parse/slow.lua "
    f"(a checkout of github.com/leafo/moonscript at {PARSER_COMMIT[:12]}), "
    f"or `luarocks install moonscript` (a version shipping moonscript/parse/slow.lua) and set {PARSER_ENV} "
    "to its share/lua/5.1 folder, or run `python -m utils get-parser` on a machine with network "
    "and copy the folder it prints here (then set MOONSCRIPT_PARSER to it)"
)
NO_PARSER_HINT = f"no MoonScript parser found, parser-based figures are n/a: {HOW_TO_GET}"

_ERROR_AT = re.compile(r"^(.*?) at line (\d+), column (\d+):")
_LUA_POSITION = re.compile(r"at position (\d+)")
_LUA_LOCATION = re.compile(r"^(lua error: )?\S*\.lua:\d+: ")
# The parser backtracks: a few text shapes (deeply nested brackets, as a weak model may write) take it exponential
# time. A count hook gives each parse a budget of Lua VM instructions, deterministic on any machine; past it the
# text counts as not parsing, with a message that says so.
BUDGET_INSTRUCTIONS = 300_000_000  # real files take a few million; about 5 s of Lua on one core
_HOOK_EVERY = 100_000
_GAVE_UP = "the parser gave up: over its instruction budget"
_LUA_WRAPPER = f"""
local parse_string = require("moonscript.parse").string
local limit = {BUDGET_INSTRUCTIONS // _HOOK_EVERY}
return function(code)
  local ticks = 0
  debug.sethook(function()
    ticks = ticks + 1
    if ticks > limit then error("{_GAVE_UP}", 0) end
  end, "", {_HOOK_EVERY})
  local ok, tree, err = pcall(parse_string, code)
  debug.sethook()
  if not ok then return false, "lua error: " .. tostring(tree) end
  if tree == nil then return false, tostring(err) end
  return true, nil
end
"""


@dataclass(frozen=True)
class ParseResult:
    """Whether a text parsed; if not, where (1-based line and column, or None) and why."""

    ok: bool
    line: int | None = None
    column: int | None = None
    message: str | None = None


# --- finding a parser -------------------------------------------------------------------------


def cached_parser_dir() -> Path:
    """Where `get-parser` keeps its copy of the parser."""
    return cache_dir() / f"moonscript-parser-{PARSER_COMMIT[:12]}"


def validate_parser_dir(folder: str | os.PathLike, origin: str = "folder") -> Path:
    """The folder as a Path if it holds a MoonScript parser, else a UserError naming it and the fix."""
    path = Path(folder).expanduser()
    parse_dir = path / "moonscript" / "parse"
    native = any(parse_dir.glob("native.*")) if parse_dir.is_dir() else False
    if (path / "moonscript" / "parse.lua").is_file() and ((parse_dir / "slow.lua").is_file() or native):
        return path.resolve()
    raise UserError(
        f"{origin} {str(path)!r} is not a MoonScript parser: it needs moonscript/parse.lua and "
        f"moonscript/parse/slow.lua inside; point it at such a folder, or {HOW_TO_GET}"
    )


def find_parser(setting: str | os.PathLike | None = None) -> Path | None:
    """The parser folder: the setting, else $MOONSCRIPT_PARSER, else the cached copy, else None."""
    if setting:
        return validate_parser_dir(setting, "the moonscript_parser setting")
    if os.environ.get(PARSER_ENV):
        return validate_parser_dir(os.environ[PARSER_ENV], f"${PARSER_ENV}")
    cached = cached_parser_dir()
    if cached.is_dir():
        return validate_parser_dir(cached, "the cached parser (delete it or run `python -m utils get-parser --force`)")
    return None


def offline() -> bool:
    """True when the network must not be used (DISTIL_OFFLINE or HF_HUB_OFFLINE set)."""
    return any(os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off") for name in OFFLINE_ENVS)


# --- fetching one ------------------------------------------------------------------------------


def _download(url: str, timeout: float) -> bytes:
    """The bytes at url (a plain GET with a timeout)."""
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (a fixed https URL)
        return response.read()


def _license_text(readme: str) -> str:
    """The "License (MIT)" section of leafo/moonscript's README (the repository has no LICENSE file)."""
    start = readme.find("## License")
    return readme[start:] if start >= 0 else readme


def unpack_parser(tarball: bytes, dest: Path) -> Path:
    """Write the parser files and the license from a leafo/moonscript tarball into dest (a new folder)."""
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:*") as tar:
        members = {m.name.split("/", 1)[1]: m for m in tar.getmembers() if m.isfile() and "/" in m.name}
        missing = [name for name in (*PARSER_FILES, "README.md") if name not in members]
        if missing:
            raise UserError(f"the downloaded leafo/moonscript archive lacks {', '.join(missing)}: {HOW_TO_GET}")
        for name in PARSER_FILES:
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(tar.extractfile(members[name]).read())
        readme = tar.extractfile(members["README.md"]).read().decode("utf-8", "replace")
    (dest / LICENSE_FILE).write_text(_license_text(readme), encoding="utf-8")
    return dest


def fetch_parser(force: bool = False, download: Callable[[str, float], bytes] = _download) -> Path:
    """Download the pinned parser into the cache (atomically) unless it is there; return its folder."""
    dest = cached_parser_dir()
    if dest.is_dir() and not force:
        return validate_parser_dir(dest, "the cached parser")
    if offline():
        raise UserError(f"no MoonScript parser, and the network is off ({' / '.join(OFFLINE_ENVS)} set): {HOW_TO_GET}")
    try:
        tarball = download(PARSER_URL, DOWNLOAD_TIMEOUT_S)
    except (urllib.error.URLError, OSError, TimeoutError) as err:
        raise UserError(f"could not download the MoonScript parser from {PARSER_URL} ({err}): {HOW_TO_GET}") from err
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".moonscript-parser-", dir=dest.parent))
    try:
        unpack_parser(tarball, tmp)
        _move_into_place(tmp, dest, force)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return validate_parser_dir(dest, "the fetched parser")


def _move_into_place(tmp: Path, dest: Path, replace: bool) -> None:
    """Rename tmp to dest; an existing dest is swapped out when replace, else kept (another process won)."""
    if dest.exists() and replace:
        old = dest.with_name(f"{dest.name}.old-{os.getpid()}")
        dest.rename(old)
        shutil.rmtree(old, ignore_errors=True)
    try:
        tmp.rename(dest)
    except OSError:
        if not dest.is_dir():
            raise


def get_parser(setting: str | os.PathLike | None = None, fetch: bool = True) -> Parser:
    """The parser found by `find_parser`, fetched into the cache if none is (and fetch); else a UserError."""
    folder = find_parser(setting)
    if folder is None:
        if not fetch:
            raise UserError(f"no MoonScript parser found: {HOW_TO_GET}")
        folder = fetch_parser()
    return _parser_for(folder)


def load_parser(setting: str | os.PathLike | None = None, fetch: bool = True) -> Parser | None:
    """Like `get_parser`, but None when no parser can be had (show `NO_PARSER_HINT`, report n/a, run on)."""
    try:
        return get_parser(setting, fetch)
    except UserError:
        return None


# --- parsing -----------------------------------------------------------------------------------


def _to_bytes(code: str) -> bytes:
    """UTF-8 bytes of code; bytes read with surrogateescape come back unchanged."""
    try:
        return code.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return code.encode("utf-8", "replace")


def _position(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and character column of a 0-based byte offset."""
    offset = max(0, min(offset, len(data)))
    line = data.count(b"\n", 0, offset) + 1
    start = data.rfind(b"\n", 0, offset) + 1
    return line, len(data[start:offset].decode("utf-8", "replace")) + 1


def _result(data: bytes, ok: bool, error: bytes | str | None) -> ParseResult:
    """A ParseResult from the Lua wrapper's answer."""
    if ok:
        return ParseResult(True)
    text = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error or "failed to parse")
    first = _LUA_LOCATION.sub("", text.split("\n", 1)[0]).strip()
    found = _ERROR_AT.match(first)
    if found:
        line, byte_col = int(found.group(2)), int(found.group(3))
        offset = _offset(data, line, byte_col)
        return ParseResult(False, line, _position(data, offset)[1], _summary(found.group(1), data, offset))
    at = _LUA_POSITION.search(first)
    line, column = _position(data, int(at.group(1))) if at else (None, None)
    return ParseResult(False, line, column, first)


def _offset(data: bytes, line: int, byte_column: int) -> int:
    """0-based byte offset of a 1-based line and byte column."""
    start = 0
    for _ in range(line - 1):
        start = data.find(b"\n", start) + 1
        if start == 0:
            return len(data)
    return start + byte_column - 1


def _summary(label: str, data: bytes, offset: int) -> str:
    """One line: the parser's label and the source line it stopped on (or "at end of input")."""
    if not data[offset:].strip():
        return f"{label} at end of input (unclosed bracket, string or block?)"
    start = data.rfind(b"\n", 0, offset) + 1
    end = data.find(b"\n", offset)
    source = data[start : end if end >= 0 else len(data)].decode("utf-8", "replace").strip()
    return f"{label} near {source[:80]!r}"


class Parser:
    """One parser folder with its own Lua runtime, created on first use; safe to share between threads."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._lock = threading.Lock()
        self._fn = None

    def __repr__(self) -> str:
        return f"Parser({str(self.folder)!r})"

    def _runtime(self):
        """The Lua function parsing one text (built once; the lock is held by the caller)."""
        if self._fn is None:
            # lupa is imported here, not at the top: an optional, compiled dependency only parsing needs
            try:
                from lupa import lua51
            except ImportError as err:
                raise UserError("parsing MoonScript needs lupa: pip install lupa==2.8") from err
            lua = lua51.LuaRuntime(unpack_returned_tuples=True, encoding=None)
            root = str(self.folder).replace("\\", "/").encode()
            lua.globals().package.path = root + b"/?.lua;" + root + b"/?/init.lua"
            # each parse leaves only garbage behind: a lazier collector parsed ~10% faster here
            lua.execute(b'collectgarbage("setpause", 1000)')
            if (self.folder / "moonscript" / "parse" / "slow.lua").is_file():
                lua.execute(
                    b'package.preload["moonscript.parse.native"] = function() return require("moonscript.parse.slow") end'
                )
            try:
                self._fn = lua.execute(_LUA_WRAPPER.encode())
            except Exception as err:  # lupa.LuaError and friends: a folder whose modules do not load
                raise UserError(f"the MoonScript parser in {str(self.folder)!r} does not load ({err}): {HOW_TO_GET}") from err
        return self._fn

    def parses(self, code: str) -> ParseResult:
        """Does code parse as MoonScript? A failed result names the line and column."""
        data = _to_bytes(code)
        with self._lock:
            fn = self._runtime()
            try:
                ok, error = fn(data)
            except Exception as err:  # a Lua error escaping the wrapper: start a fresh runtime next time
                self._fn = None
                return ParseResult(False, None, None, f"lua error: {err}".split("\n", 1)[0])
        return _result(data, bool(ok), error)

    def parse_many(self, texts: Iterable[str], progress: bool = False) -> list[ParseResult]:
        """`parses` over many texts, with an optional progress bar."""
        texts = list(texts)
        return [self.parses(t) for t in tqdm(texts, desc="parsing", unit="file", disable=not progress)]


_PARSERS: dict[Path, Parser] = {}
_PARSERS_LOCK = threading.Lock()


def _parser_for(folder: Path) -> Parser:
    """The process's one Parser for a folder."""
    with _PARSERS_LOCK:
        return _PARSERS.setdefault(Path(folder).resolve(), Parser(Path(folder).resolve()))


def parses(code: str, parser: Parser | None = None) -> ParseResult:
    """Does code parse as MoonScript (with parser, else the default one from `get_parser()`)?"""
    return (parser or get_parser()).parses(code)


def parse_many(texts: Iterable[str], parser: Parser | None = None, progress: bool = False) -> list[ParseResult]:
    """`parses` over many texts (same results as one call each), with an optional tqdm bar."""
    return (parser or get_parser()).parse_many(texts, progress)


# --- folders of files: the command line and the benchmark --------------------------------------


def _texts(folder: str | os.PathLike) -> dict[str, str]:
    """Path -> text of every readable .moon file under `folder` (bytes that are not UTF-8 kept as surrogates)."""
    found, _ = moon_files(folder)
    if not found:
        raise UserError(f"no .moon files under {str(folder)!r}")
    return {str(path): raw.decode("utf-8", errors="surrogateescape") for path, raw in found}


def bench_parser(folder: str | os.PathLike, parser: Parser | None = None) -> float:
    """Files parsed per second over a folder's .moon files (runtime warmed up first); prints the figure."""
    parser = parser or get_parser()
    texts = list(_texts(folder).values())
    parser.parses("x = 1\n")  # builds the runtime outside the timing
    start = time.perf_counter()
    parser.parse_many(texts)
    rate = len(texts) / (time.perf_counter() - start)
    print(f"{len(texts)} files in {len(texts) / rate:.2f} s: {rate:.1f} files/s (one thread)")
    return rate


def parse_dir(folder: str | os.PathLike, setting: str | None = None, quiet: bool = False, bench: bool = False) -> int:
    """`python -m utils parse`: one line per .moon file, then `parsed: N/M`; returns N."""
    texts = _texts(folder)
    parser = get_parser(setting)
    if bench:
        bench_parser(folder, parser)
    good, files = 0, list(texts)
    for path, result in zip(files, parser.parse_many(texts.values())):
        good += result.ok
        if not result.ok:
            where = f"{path}:{result.line or '?'}:{result.column or '?'}"
            print(f"FAILED  {where}  {result.message}")
        elif not quiet:
            print(f"parsed  {path}")
    print(f"parsed: {good}/{len(files)}")
    return good
