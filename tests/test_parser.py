"""MoonScript's own parser as a judge (utils/parser.py) and `python -m utils parse / get-parser`."""

import io
import tarfile

import pytest

from utils.__main__ import main
from utils.config import REPO_ROOT, UserError, load_config
from utils.artifacts import moon_files
from utils.parser import (
    PARSER_COMMIT,
    PARSER_FILES,
    ParseResult,
    cached_parser_dir,
    fetch_parser,
    find_parser,
    get_parser,
    load_parser,
    parse_many,
    parses,
)

SHARED_PARSER = REPO_ROOT.parent / "shared" / "tools" / "moonscript-parser"
REAL_MOONSCRIPT = REPO_ROOT.parent / "shared" / "data" / "moonscript-real"
SAMPLE = REPO_ROOT / "data" / "moonscript"


@pytest.fixture(scope="module")
def parser():
    """The shared copy of leafo/moonscript's parser (CI has it; a fresh clone may not)."""
    if not (SHARED_PARSER / "moonscript" / "parse.lua").is_file():
        pytest.skip(f"no MoonScript parser at {SHARED_PARSER}")
    return get_parser(str(SHARED_PARSER))


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """No parser anywhere: an empty cache, no $MOONSCRIPT_PARSER, and offline."""
    monkeypatch.setenv("DISTIL_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.delenv("MOONSCRIPT_PARSER", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path


def fake_parser_dir(path):
    """A folder that passes validation (the files exist; nothing is loaded from them)."""
    (path / "moonscript" / "parse").mkdir(parents=True)
    (path / "moonscript" / "parse.lua").write_text("")
    (path / "moonscript" / "parse" / "slow.lua").write_text("")
    return path.resolve()


# --- what it accepts and rejects -------------------------------------------------------------

BAD_SNIPPETS = {
    # the table is still open when the input ends: the parser stops at the end, line 2 column 1
    "unclosed table": ("x = {1, 2\n", 2, 1),
    # `print 2` dedents to a column no enclosing block opened
    "bad dedent": ("f = ->\n  print 1\n print 2\nprint 3\n", 3, 2),
    # an over-indented line in the middle of a class body
    "bad indent": ("class A\n  new: =>\n    @x = 1\n   foo: =>\n    @x\n", 4, 4),
    # `=>` after a complete expression, on the middle line, column of the arrow
    "stray fat arrow": ("x = 1\ny = 2 =>\nz = 3\n", 2, 7),
}


@pytest.mark.parametrize("name", BAD_SNIPPETS)
def test_known_bad_snippets_fail_at_the_right_place(parser, name):
    code, line, column = BAD_SNIPPETS[name]
    result = parser.parses(code)
    assert not result.ok
    assert (result.line, result.column) == (line, column), result
    assert result.message and "\n" not in result.message


def test_failure_messages_say_where_and_what(parser):
    assert "end of input" in parser.parses("x = {1, 2\n").message
    assert "y = 2 =>" in parser.parses("x = 1\ny = 2 =>\nz = 3\n").message
    # columns are counted in characters, not UTF-8 bytes
    assert parser.parses("s = 'héé' )\n").column == 11


def test_good_code_parses(parser):
    assert parser.parses("class A\n  new: (@x) =>\n  get: => @x\n\nprint A(1)\\get!\n") == ParseResult(True)
    assert parser.parses("") == ParseResult(True)


def test_lua_errors_become_results_not_exceptions(parser):
    deep = "x = " + "(" * 3000 + "1" + ")" * 3000 + "\n"  # past the parser's recursion limit
    result = parser.parses(deep)
    assert not result.ok and result.line == 1 and "recursion" in result.message
    assert parser.parses("x = 1\n").ok  # and the runtime is fine afterwards


def test_parse_many_equals_one_call_each_and_failures_do_not_poison(parser):
    texts = ["a = 1\n", "x = {1, 2\n", "b = 2\n", "x = " + "(" * 3000, "f = ->\n  1\n 2\n", "class B\n  c: 1\n"]
    results = parse_many(texts, parser, progress=False)
    assert results == [parses(t, parser) for t in texts]
    assert [r.ok for r in results] == [True, False, True, False, False, True]


def test_every_sample_file_parses(parser):
    files = [p for p, _ in moon_files(SAMPLE)[0]]
    results = parser.parse_many(raw.decode("utf-8") for _, raw in moon_files(SAMPLE)[0])
    failed = {p.name: r for p, r in zip(files, results) if not r.ok}
    assert len(files) >= 40 and not failed


@pytest.fixture(scope="module")
def real_files():
    if not REAL_MOONSCRIPT.is_dir():
        pytest.skip(f"no real MoonScript at {REAL_MOONSCRIPT}")
    return {p: raw.decode("utf-8") for p, raw in moon_files(REAL_MOONSCRIPT)[0]}


def test_every_real_file_parses_and_a_broken_copy_does_not(parser, real_files):
    texts = list(real_files.values())
    assert all(r.ok for r in parser.parse_many(texts))
    # a stray `)` on a line of its own after the last line: nothing can make that valid
    broken = [t.rstrip("\n") + "\n)\n" for t in texts]
    for text, result in zip(broken, parser.parse_many(broken)):
        assert not result.ok and result.line == text.count("\n"), result


# --- finding a parser ------------------------------------------------------------------------


def test_setting_beats_env_beats_cache(tmp_path, nowhere, monkeypatch):
    setting, env = fake_parser_dir(tmp_path / "setting"), fake_parser_dir(tmp_path / "env")
    cached = fake_parser_dir(cached_parser_dir())
    assert cached.name == f"moonscript-parser-{PARSER_COMMIT[:12]}"
    assert find_parser() == cached
    monkeypatch.setenv("MOONSCRIPT_PARSER", str(env))
    assert find_parser() == env
    assert find_parser(str(setting)) == setting
    cfg = load_config("tiny", moonscript_parser=str(setting))
    assert get_parser(cfg.moonscript_parser).folder == setting


def test_a_bad_folder_is_named(tmp_path, nowhere, monkeypatch):
    with pytest.raises(UserError, match=r"'[^']*not-a-parser'.*moonscript/parse/slow.lua"):
        get_parser(str(tmp_path / "not-a-parser"))
    monkeypatch.setenv("MOONSCRIPT_PARSER", str(tmp_path))
    with pytest.raises(UserError, match=r"MOONSCRIPT_PARSER.*" + tmp_path.name):
        find_parser()


def test_no_parser_anywhere_offline(nowhere):
    assert find_parser() is None
    assert load_parser() is None
    with pytest.raises(UserError) as err:
        get_parser()
    message = str(err.value)
    assert "MOONSCRIPT_PARSER" in message and "luarocks install moonscript" in message
    assert "python -m utils get-parser" in message


def test_offline_is_checked_before_any_download(nowhere):
    def download(url, timeout):
        raise AssertionError("the network was used")

    with pytest.raises(UserError, match="network is off"):
        fetch_parser(download=download)


def test_fetch_keeps_only_the_parser_and_the_license(parser, nowhere, monkeypatch):
    buffer = io.BytesIO()
    top = f"moonscript-{PARSER_COMMIT}"
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in PARSER_FILES + ("moonscript/compile.lua",):
            tar.add(SHARED_PARSER / name, f"{top}/{name}")
        readme = b"# MoonScript\n\n## License (MIT)\n\nCopyright (C) 2025 by Leaf Corcoran\n"
        info = tarfile.TarInfo(f"{top}/README.md")
        info.size = len(readme)
        tar.addfile(info, io.BytesIO(readme))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("DISTIL_OFFLINE", "0")
    calls = []
    folder = fetch_parser(download=lambda url, timeout: calls.append(url) or buffer.getvalue())
    assert folder == cached_parser_dir().resolve() and PARSER_COMMIT in calls[0]
    kept = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert kept == sorted(PARSER_FILES + ("LICENSE-leafo-moonscript.md",))
    assert "Leaf Corcoran" in (folder / "LICENSE-leafo-moonscript.md").read_text()
    assert fetch_parser(download=lambda url, timeout: 1 / 0) == folder  # cached: no second download
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".moonscript-parser-")]  # no temp left
    assert get_parser().parses("x = {1, 2\n").line == 2  # the fetched copy works


# --- the command line ------------------------------------------------------------------------


def test_cli_parse_reports_each_file_and_the_total(parser, tmp_path, capsys):
    (tmp_path / "sub").mkdir()
    (tmp_path / "good.moon").write_text("x = {1, 2}\nprint x[1]\n")
    (tmp_path / "sub" / "bad.moon").write_text("f = ->\n  print 1\n print 2\n")
    assert main(["parse", str(tmp_path), "--parser", str(SHARED_PARSER)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"parsed  {tmp_path / 'good.moon'}"
    assert lines[1].startswith(f"FAILED  {tmp_path / 'sub' / 'bad.moon'}:3:2  ")
    assert lines[-1] == "parsed: 1/2" and len(lines) == 3


def test_cli_parse_quiet_with_bench_prints_the_speed(parser, tmp_path, capsys):
    (tmp_path / "good.moon").write_text("x = 1\n")
    assert main(["parse", str(tmp_path), "--parser", str(SHARED_PARSER), "--quiet", "--bench"]) == 0
    out = capsys.readouterr().out
    assert "files/s" in out and out.splitlines()[-1] == "parsed: 1/1" and "parsed  " not in out


def test_cli_parse_without_a_parser_exits_2_with_the_hint(nowhere, tmp_path, capsys):
    (tmp_path / "a.moon").write_text("x = 1\n")
    assert main(["parse", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "MOONSCRIPT_PARSER" in err and "get-parser" in err


def test_cli_parse_without_files_exits_2(parser, tmp_path, capsys):
    assert main(["parse", str(tmp_path / "missing"), "--parser", str(SHARED_PARSER)]) == 2
    assert main(["parse", str(tmp_path), "--parser", str(SHARED_PARSER)]) == 2
    assert "no .moon files" in capsys.readouterr().err


def test_cli_get_parser_offline_says_how(nowhere, capsys):
    assert main(["get-parser"]) == 2
    assert "MOONSCRIPT_PARSER" in capsys.readouterr().err


def test_a_text_that_makes_the_parser_backtrack_for_ever_is_given_up_on(parser):
    """Deeply nested brackets (a weak teacher wrote this one) take the backtracking parser exponential time: it stops
    at its instruction budget, the text counts as not parsing, and the next parse works."""
    code = "f = ->\n    " + "@items[" * 13 + "i] = @items" + "] = @items" * 2 + "]\n"
    result = parser.parses(code)
    assert not result.ok and "gave up" in result.message
    assert parser.parses("x = {1, 2}\n").ok
