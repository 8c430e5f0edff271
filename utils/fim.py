"""Fill-in-the-middle: segments, spans, the teacher's prompt and the student's input (notebook 02).

A file is cut into windows of at most `segment_tokens` teacher tokens on line
boundaries; in each window a middle is chosen the way HumanEval-infilling
(Bavarian et al., 2022, "Efficient Training of Language Models to Fill in the
Middle") defines its three benchmarks:

- `single_line`: one whole non-blank line (indentation and newline included) is the middle;
- `multi_line`: a block of 2 to `max_middle_lines` consecutive lines is the middle;
- `random_span`: a span starting at a uniformly random character with a random
  length, inside one line or across lines.

`prefix + middle + suffix` is the window byte for byte. The teacher reads santacoder's
FIM prompt (PSM or SPM); the student reads `prefix + HOLE + suffix`, trimmed from the
outside in (prefix from the left, suffix from the right, on line boundaries where
possible) to fit its context, so the text around the hole is what survives.
The student input is built from prefix and suffix only: it never holds the middle.
"""

from __future__ import annotations

import html
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Sequence
from typing import Callable

import pandas as pd
from datasets import Dataset, DatasetDict, Features, Value
from datasets.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

from .artifacts import relative, save_stage, stage_dir, write_json
from .config import HOLE, Config, UserError, fim_prompt, student_prompt
from .data import assign_splits, clean_corpus, filter_summary, load_corpus
from .models import load_tokenizer
from .parser import ParseResult, Parser, load_parser
from .tokenization import encode_batch, make_code_safe

SPAN_TYPES = ("single_line", "multi_line", "random_span")
SPLITS = ("train", "valid", "test")
FIM_FEATURES = Features(
    {
        "id": Value("string"),
        "source": Value("string"),
        "split": Value("string"),
        "prefix": Value("string"),
        "middle": Value("string"),
        "suffix": Value("string"),
        "span_type": Value("string"),
        "teacher_input": Value("string"),
        "student_input": Value("string"),
        "segment_index": Value("int32"),
        "segment_start": Value("int64"),  # character offset of the segment in its file (see `rebuild`)
        "middle_start": Value("int32"),  # character offset of the middle in its segment
        "segment_tokens": Value("int32"),  # teacher tokens of prefix + middle + suffix
        "teacher_input_tokens": Value("int32"),
        "student_input_tokens": Value("int32"),  # code-safe student tokens of student_input
        "student_trimmed": Value("bool"),  # True when the context was cut to fit the student
    }
)
# the seed project's names for our columns, for readers who come from it
SEED_COLUMNS = {
    "label_middles": "middle",
    "santacoder_outputs": "teacher_middle",
    "openai_rationales": "rationale",
    "fim_inputs": "teacher_input",
}
Counter_ = Callable[[list[str]], list[int]]


# --------------------------------------------------------------------------- text helpers


def split_lines(text: str) -> list[str]:
    """Lines of `text` split after each '\\n' only (CR, form feeds, U+2028 stay inside lines); joined they give `text`."""
    if not text:
        return []
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def token_counter(tokenizer) -> Counter_:
    """A function giving the token count of each text (no special tokens added), batched and silent."""

    def count(texts: list[str]) -> list[int]:
        return [len(ids) for ids in encode_batch(tokenizer, list(texts))]

    return count


def _longest_fitting(text: str, count: Counter_, budget: int, from_end: bool) -> str:
    """The longest head (or tail, `from_end`) of `text`, cut at any character, within `budget` tokens."""
    lo, hi = 0, len(text)  # number of characters kept
    while lo < hi:
        mid = (lo + hi + 1) // 2
        piece = text[len(text) - mid:] if from_end else text[:mid]
        if count([piece])[0] <= budget:
            lo = mid
        else:
            hi = mid - 1
    return text[len(text) - lo:] if from_end else text[:lo]


def keep_within(text: str, count: Counter_, budget: int, from_end: bool) -> str:
    """The most whole lines of `text` nearest its end (`from_end`) or start that fit in `budget` tokens.

    If not even the nearest line fits, that line is cut at a character instead.
    """
    if budget <= 0 or not text:
        return ""
    if count([text])[0] <= budget:
        return text
    lines = split_lines(text)
    if from_end:
        lines = lines[::-1]
    costs = count(lines)
    n, total = 0, 0
    while n < len(lines) and total + costs[n] <= budget:
        total += costs[n]
        n += 1

    def join(k: int) -> str:
        return "".join(lines[:k][::-1]) if from_end else "".join(lines[:k])

    while n > 0 and count([join(n)])[0] > budget:  # per-line counts are not exactly additive
        n -= 1
    if n == 0:
        return _longest_fitting(lines[0], count, budget, from_end)
    return join(n)


def student_context(prefix: str, suffix: str, count: Counter_, budget: int) -> tuple[str, str]:
    """(tail of prefix, head of suffix) such that `tail + HOLE + head` fits in `budget` student tokens.

    Each side gets half the room; a side that needs less gives the rest to the other.
    """
    if count([student_prompt(prefix, suffix)])[0] <= budget:
        return prefix, suffix
    avail = max(budget - count([HOLE])[0], 0)
    p_need, s_need = count([prefix, suffix])
    half = avail // 2
    if p_need <= half:
        p_room, s_room = p_need, avail - p_need
    elif s_need <= half:
        p_room, s_room = avail - s_need, s_need
    else:
        p_room, s_room = avail - half, half
    for _ in range(avail + 2):  # each round frees at least one token: bounded
        tail = keep_within(prefix, count, p_room, from_end=True)
        head = keep_within(suffix, count, s_room, from_end=False)
        excess = count([student_prompt(tail, head)])[0] - budget
        if excess <= 0:
            return tail, head
        if p_room >= s_room:
            p_room = max(p_room - excess, 0)
        else:
            s_room = max(s_room - excess, 0)
    return "", ""


# --------------------------------------------------------------------------- segmentation


def segment_text(text: str, count: Counter_, max_tokens: int) -> list[str]:
    """Consecutive windows of at most `max_tokens` tokens cut on line boundaries; joined they give `text`.

    A single line longer than `max_tokens` is cut inside the line (the only exception to line boundaries);
    a character is never split, so with a byte-level tokenizer `max_tokens` should be at least 4.
    """
    lines = split_lines(text)
    costs = count(lines)
    windows, i = [], 0
    while i < len(lines):
        if costs[i] > max_tokens:
            rest = lines[i]
            while rest:
                piece = _longest_fitting(rest, count, max_tokens, from_end=False) or rest[0]
                windows.append(piece)
                rest = rest[len(piece):]
            i += 1
            continue
        j, total = i, 0
        while j < len(lines) and costs[j] <= max_tokens and total + costs[j] <= max_tokens:
            total += costs[j]
            j += 1
        while j - i > 1 and count(["".join(lines[i:j])])[0] > max_tokens:
            j -= 1
        windows.append("".join(lines[i:j]))
        i = j
    return windows


def segment_corpus(files: Dataset, splits: dict[str, str], cfg: Config, tokenizer=None) -> tuple[Dataset, dict]:
    """Windows of every kept file (at most cfg.max_segments_per_file each, seeded), with split and token count.

    Returns the segments and counts of what was skipped (whitespace-only windows, windows over the cap).
    """

    if cfg.segment_tokens < 16:
        raise UserError(f"segment_tokens={cfg.segment_tokens} is too small to hold code: use at least 16 (e.g. 256)")
    count = token_counter(tokenizer or load_tokenizer(cfg.teacher))
    rows, skipped = [], Counter()
    for source, text in zip(files["source"], files["content"]):
        windows = segment_text(text, count, cfg.segment_tokens)
        starts = _offsets(windows)
        usable = [(k, w) for k, w in enumerate(windows) if w.strip()]
        skipped["whitespace_only"] += len(windows) - len(usable)
        cap = cfg.max_segments_per_file
        if cap is not None and len(usable) > cap:
            keep = set(random.Random(f"{cfg.seed}:{source}:segments").sample(range(len(usable)), cap))
            skipped["over_max_segments_per_file"] += len(usable) - cap
            usable = [u for n, u in enumerate(usable) if n in keep]
        tokens = count([w for _, w in usable])
        rows += [{"source": source, "split": splits[source], "segment_index": k, "segment_start": starts[k], "segment": w, "tokens": t}
                 for (k, w), t in zip(usable, tokens)]
    columns = {"source": [], "split": [], "segment_index": [], "segment_start": [], "segment": [], "tokens": []}
    return (Dataset.from_list(rows) if rows else Dataset.from_dict(columns)), dict(skipped)


# --------------------------------------------------------------------------- spans


def _offsets(pieces: list[str]) -> list[int]:
    """Character offset of each piece in `"".join(pieces)`."""
    starts, pos = [], 0
    for piece in pieces:
        starts.append(pos)
        pos += len(piece)
    return starts


def choose_span(segment: str, kind: str, rng: random.Random, cfg: Config) -> tuple[int, int] | None:
    """Character offsets (start, end) of a middle of the given kind in `segment`, or None if it has none."""
    lines = split_lines(segment)
    starts = _offsets(lines)
    max_chars = cfg.max_middle_chars
    if kind == "single_line":
        options = [i for i, line in enumerate(lines) if line.strip() and len(line) <= max_chars]
        if not options:
            return None
        i = rng.choice(options)
        return starts[i], starts[i] + len(lines[i])
    if kind == "multi_line":
        top = min(cfg.max_middle_lines, len(lines))
        for _ in range(20):
            if top < 2:
                return None
            n = rng.randint(2, top)
            i = rng.randrange(0, len(lines) - n + 1)
            block = lines[i:i + n]
            while n > 2 and len("".join(block)) > max_chars:
                n -= 1
                block = block[:n]
            if len("".join(block)) <= max_chars and sum(1 for b in block if b.strip()) >= 2:
                return starts[i], starts[i] + len("".join(block))
        return None
    if kind == "random_span":
        if not segment.strip():
            return None
        for _ in range(50):
            start = rng.randrange(len(segment))
            end = start + rng.randint(1, min(max_chars, len(segment) - start))
            # never split a CRLF pair (a tokenizer would see a lone CR)
            if segment[start - 1:start + 1] == "\r\n" or segment[end - 1:end + 1] == "\r\n":
                continue
            if segment[start:end].strip():
                return start, end
        return None
    raise ValueError(f"unknown span type {kind!r}: use one of {SPAN_TYPES}")


def choose_spans(segment: str, rng: random.Random, cfg: Config, n: int) -> list[tuple[str, int, int]]:
    """Up to `n` distinct (span_type, start, end), each kind drawn with cfg.span_proportions.

    A kind the segment cannot give (e.g. multi_line in a one-line segment) falls back to the others.
    """
    kinds = [k for k in SPAN_TYPES if cfg.span_proportions.get(k, 0) > 0]
    unknown = set(cfg.span_proportions) - set(SPAN_TYPES)
    if unknown or not kinds:
        raise UserError(f"span_proportions must weight some of {SPAN_TYPES}, got {cfg.span_proportions}")
    weights = [cfg.span_proportions[k] for k in kinds]
    out: list[tuple[str, int, int]] = []
    for _ in range(n * 4):
        if len(out) == n:
            break
        first = rng.choices(kinds, weights)[0]
        for kind in [first] + [k for k in kinds if k != first]:
            span = choose_span(segment, kind, rng, cfg)
            if span is not None and not (segment[: span[0]] + segment[span[1] :]).strip():
                span = None  # no code around the hole: nothing to infer the middle from
            if span is not None:
                break
        if span is None:
            break  # nothing usable in this segment
        if all((s, e) != span for _, s, e in out):
            out.append((kind, *span))
    return out


def make_examples(segments: Dataset, cfg: Config, teacher_tokenizer=None, student_tokenizer=None) -> DatasetDict:
    """FIM rows (the contract's columns) for every segment: cfg.spans_per_segment spans each, seeded."""

    t_count = token_counter(teacher_tokenizer or load_tokenizer(cfg.teacher))
    s_count = token_counter(student_tokenizer or make_code_safe(load_tokenizer(cfg.student)))
    budget = cfg.student_max_input_tokens - cfg.student_reserve_tokens
    if budget < 16:
        raise UserError(f"student_max_input_tokens - student_reserve_tokens = {budget} tokens leaves no room for context: raise student_max_input_tokens")
    rows: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for seg in segments:
        text = seg["segment"]
        rng = random.Random(f"{cfg.seed}:{seg['source']}:{seg['segment_index']}:spans")
        for kind, start, end in choose_spans(text, rng, cfg, cfg.spans_per_segment):
            prefix, middle, suffix = text[:start], text[start:end], text[end:]
            tail, head = student_context(prefix, suffix, s_count, budget)
            rows[seg["split"]].append({
                "id": f"{seg['source']}#{seg['segment_index']}:{start}-{end}",
                "source": seg["source"], "split": seg["split"],
                "prefix": prefix, "middle": middle, "suffix": suffix, "span_type": kind,
                "teacher_input": fim_prompt(prefix, suffix, cfg.fim_mode),
                "student_input": student_prompt(tail, head),
                "segment_index": seg["segment_index"], "segment_start": seg["segment_start"], "middle_start": start, "segment_tokens": seg["tokens"],
                "teacher_input_tokens": 0, "student_input_tokens": 0,  # counted below, in batches
                "student_trimmed": (tail, head) != (prefix, suffix),
            })
    out = {}
    for split in SPLITS:
        part = rows[split]
        limit = cfg.max_examples.get(split) if isinstance(cfg.max_examples, dict) else cfg.max_examples
        if limit is not None and len(part) > limit:
            keep = set(random.Random(f"{cfg.seed}:{split}:examples").sample(range(len(part)), limit))
            part = [r for i, r in enumerate(part) if i in keep]
        for r, t, s in zip(part, t_count([r["teacher_input"] for r in part]), s_count([r["student_input"] for r in part])):
            r["teacher_input_tokens"], r["student_input_tokens"] = t, s
        out[split] = Dataset.from_list(part, features=FIM_FEATURES) if part else Dataset.from_dict(
            {k: [] for k in FIM_FEATURES}, features=FIM_FEATURES)
    return DatasetDict(out)


# --------------------------------------------------------------------------- the whole build


@dataclass
class FimBuild:
    """Everything notebook 02 shows: the dataset and how it was made."""

    dataset: DatasetDict
    files: Dataset  # kept files (source, content, sha256, bytes, lines, split)
    log: pd.DataFrame  # one row per input file: source, bytes, kept, reason
    splits: dict[str, str]  # source -> train | valid | test
    segments: Dataset  # source, split, segment_index, segment, tokens
    stats: dict = field(default_factory=dict)

    @classmethod
    def from_parts(cls, cfg: Config, dataset: DatasetDict, files: Dataset, log: pd.DataFrame, splits: dict[str, str],
                   segments: Dataset, skipped: dict | None = None) -> "FimBuild":
        """Assemble a build from the steps run one by one (as notebook 02 does), computing its stats."""
        build = cls(dataset, files, log, splits, segments, {"segments_skipped": dict(skipped or {})})
        build.stats = fim_stats(build, cfg)
        return build


def fim_stats(build: FimBuild, cfg: Config) -> dict:
    """Counts describing a build (saved as stats.json)."""

    seg_tokens = pd.Series(build.segments["tokens"], dtype="int64")
    per_split = {}
    for split in SPLITS:
        ds = build.dataset[split]
        per_split[split] = {
            "files": sum(1 for s in build.splits.values() if s == split),
            "segments": sum(1 for s in build.segments["split"] if s == split),
            "rows": len(ds),
            **{k: sum(1 for t in ds["span_type"] if t == k) for k in SPAN_TYPES},
            "student_trimmed": int(sum(ds["student_trimmed"])),
        }
    return {
        "corpus": cfg.corpus,
        "files_read": len(build.log),
        "files_kept": len(build.files),
        "filters": filter_summary(build.log).to_dict(orient="records"),
        "dropped": build.log[~build.log["kept"]][["source", "reason"]].to_dict(orient="records"),
        "segments": {"count": len(build.segments), "tokens_mean": round(float(seg_tokens.mean()), 1) if len(seg_tokens) else 0,
                     "tokens_max": int(seg_tokens.max()) if len(seg_tokens) else 0, "skipped": build.stats.get("segments_skipped", {})},
        "splits": per_split,
        "settings": {k: getattr(cfg, k) for k in (
            "seed", "split_fractions", "segment_tokens", "max_segments_per_file", "spans_per_segment", "span_proportions",
            "max_middle_lines", "max_middle_chars", "fim_mode", "student_max_input_tokens", "student_reserve_tokens",
            "max_examples", "min_file_bytes", "max_file_bytes", "max_line_length", "min_alnum_fraction", "drop_generated",
            "teacher", "student")},
    }


def build_fim(cfg: Config, corpus: str | None = None) -> FimBuild:
    """Load, clean, split by file, segment and cut FIM spans: the whole of notebook 02 in one call."""

    rows = load_corpus(cfg, corpus)
    files, log = clean_corpus(rows, cfg, load_parser(cfg.moonscript_parser))
    splits = assign_splits(files["source"], tuple(cfg.split_fractions), cfg.seed)
    files = files.add_column("split", [splits[s] for s in files["source"]])
    segments, skipped = segment_corpus(files, splits, cfg)
    dataset = make_examples(segments, cfg)
    build = FimBuild.from_parts(cfg, dataset, files, log, splits, segments, skipped)
    if corpus:
        build.stats["corpus"] = corpus
    return build


def load_files(cfg: Config) -> dict[str, str]:
    """Source -> whole text of every file notebook 02 kept (saved beside the dataset as files.parquet)."""
    path = stage_dir(cfg, "fim") / "files.parquet"
    if not path.exists():
        raise UserError(f"no {relative(path)}: run notebook 02_fim_segmentation.ipynb again (same profile and run_name)")
    table = pd.read_parquet(path, columns=["source", "content"])
    return dict(zip(table["source"], table["content"]))


def rebuild(row: dict, middle: str, files: dict[str, str]) -> str:
    """The whole source file of `row` with `middle` in place of the true one (the true middle gives the file back)."""
    text = files[row["source"]]
    start = row["segment_start"]
    end = start + len(row["prefix"]) + len(row["middle"]) + len(row["suffix"])
    return text[:start] + row["prefix"] + middle + row["suffix"] + text[end:]


def parse_context(cfg: Config) -> tuple[dict[str, str] | None, Parser | None]:
    """(files, parser) to judge middles with: notebook 02's files and MoonScript's parser, each None when missing."""
    try:
        files = load_files(cfg)
    except UserError:
        files = None
    return files, load_parser(cfg.moonscript_parser)


def files_parse(rows: Sequence[dict], middles: Sequence[str], files: dict[str, str] | None,
                parser: Parser | None) -> list[ParseResult | None]:
    """For each row: does its whole file, with `middles[i]` in place of the true middle, still parse? (None: no parser or file)."""
    if len(rows) != len(middles):
        raise ValueError(f"{len(middles)} middles for {len(rows)} rows: they must pair up")
    seen: dict[str, ParseResult] = {}  # one parse per distinct file text
    out: list[ParseResult | None] = []
    for row, middle in zip(rows, middles):
        if parser is None or files is None or row["source"] not in files:
            out.append(None)
            continue
        text = rebuild(row, middle, files)
        if text not in seen:
            seen[text] = parser.parses(text)
        out.append(seen[text])
    return out


def leak_check(dataset: DatasetDict) -> pd.DataFrame:
    """Per split, how many rows pass each promise of the contract (all of them, or the build is wrong)."""
    home: dict[str, set] = {}
    for split, part in dataset.items():
        for source in part["source"]:
            home.setdefault(source, set()).add(split)
    table = {}
    for split, part in dataset.items():
        ok = Counter()
        for r in part:
            tail, _, head = r["student_input"].partition(HOLE)
            ok["rows"] += 1
            ok["teacher_input from prefix, suffix"] += r["teacher_input"] in (fim_prompt(r["prefix"], r["suffix"], m) for m in ("psm", "spm"))
            ok["one hole"] += r["student_input"].count(HOLE) == 1
            ok["hole where the middle was"] += r["prefix"].endswith(tail) and r["suffix"].startswith(head)
            ok["middle not in student_input"] += r["middle"] not in r["student_input"] or r["middle"] in r["prefix"] + r["suffix"]
            ok["file only in this split"] += home[r["source"]] == {split}
        table[split] = ok
    return pd.DataFrame(table).fillna(0).astype(int)


def build_fim_dataset(cfg: Config, corpus: str | None = None) -> DatasetDict:
    """The FIM DatasetDict (train/valid/test) of `corpus` (default cfg.corpus), deterministic for cfg.seed."""
    return build_fim(cfg, corpus).dataset


def save_fim(build: FimBuild, folder: str | Path) -> Path:
    """Save the dataset (disk + parquet), split.json (file -> split), stats.json and filters.csv under `folder`."""
    was_disabled = are_progress_bars_disabled()
    disable_progress_bars()  # a few hundred rows: bars would only clutter the output
    try:
        folder = save_stage(build.dataset, folder)
    finally:
        if not was_disabled:
            enable_progress_bars()
    build.files.select_columns(["source", "split", "content"]).to_parquet(str(folder / "files.parquet"))
    write_json(folder / "split.json", build.splits)
    write_json(folder / "stats.json", build.stats)
    build.log.to_csv(folder / "filters.csv", index=False)
    return folder


def split_table(build: FimBuild) -> pd.DataFrame:
    """Per split: files, segments, rows, rows per span type, rows whose student context was trimmed."""
    table = pd.DataFrame(build.stats["splits"]).T
    table.loc["total"] = table.sum()
    return table.astype(int)


def fim_command(cfg: Config, corpus: str | None = None, out: str | Path | None = None) -> Path:
    """`python -m utils fim`: build notebook 02's FIM dataset from `corpus` and print what was kept."""
    cfg.corpus = corpus or cfg.corpus
    start = time.time()
    build = build_fim(cfg, cfg.corpus)
    out = save_fim(build, out or stage_dir(cfg, "fim"))
    print(f"corpus {cfg.corpus!r}: {len(build.log)} files read, {len(build.files)} kept")
    print(filter_summary(build.log).to_string(index=False))
    print()
    print(split_table(build).to_string())
    print(f"\nwrote {relative(out)} (dataset/, train|valid|test.parquet, split.json, stats.json, filters.csv) in {time.time() - start:.1f}s")
    return out


# --------------------------------------------------------------------------- pictures


COLOURS = {"prefix": "#dbeafe", "middle": "#fde68a", "suffix": "#dcfce7"}


def fim_html(row: dict, context_chars: int | None = 600) -> str:
    """HTML of one row: prefix, middle and suffix in three colours (context clipped to `context_chars`)."""
    prefix, suffix = row["prefix"], row["suffix"]
    if context_chars is not None:
        prefix = ("…" if len(prefix) > context_chars else "") + prefix[-context_chars:]
        suffix = suffix[:context_chars] + ("…" if len(suffix) > context_chars else "")

    def span(name: str, text: str) -> str:
        return f'<span style="background:{COLOURS[name]}" title="{name}">{html.escape(text)}</span>'

    legend = " ".join(f'<span style="background:{c};padding:0 6px">{n}</span>' for n, c in COLOURS.items())
    head = html.escape(f"{row['id']}  ·  {row['span_type']}  ·  {row['split']}")
    body = span("prefix", prefix) + span("middle", row["middle"]) + span("suffix", suffix)
    return (f"<div><b>{head}</b> &nbsp; {legend}<pre style='white-space:pre-wrap;border:1px solid #ccc;"
            f"padding:6px;color:#111;font-size:12px'>{body}</pre></div>")


def examples_html(dataset: DatasetDict, split: str = "test") -> str:
    """HTML of the first row of each span type in `split`, in three colours."""
    shown = {}
    for row in dataset[split]:
        shown.setdefault(row["span_type"], row)
    return "".join(fim_html(shown[k], context_chars=240) for k in SPAN_TYPES if k in shown)


def segment_length_plot(segments: Dataset, cfg: Config, path: str | Path | None = None):
    """Histogram of teacher tokens per segment, by split, with the window limit; saved to `path` if given."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2))
    tokens, split = segments["tokens"], segments["split"]
    data = [[t for t, s in zip(tokens, split) if s == name] for name in SPLITS]
    ax.hist(data, bins=24, stacked=True, label=list(SPLITS))
    ax.axvline(cfg.segment_tokens, color="k", ls="--", lw=1, label=f"segment_tokens = {cfg.segment_tokens}")
    ax.set(xlabel="teacher tokens per segment", ylabel="segments", title="Segment lengths")
    ax.legend(fontsize=8)
    fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
    plt.close(fig)  # shown once, by the notebook displaying the returned figure
    return fig


def column_mapping() -> pd.DataFrame:
    """The seed project's column names next to ours."""
    return pd.DataFrame([{"seed project": k, "this project": v} for k, v in SEED_COLUMNS.items()])


def fim_browser(dataset: DatasetDict):
    """An ipywidgets browser: pick a split and page through its rows, shown in three colours with both inputs."""
    import ipywidgets as w

    split = w.Dropdown(options=[s for s in SPLITS if len(dataset[s])], description="split")
    index = w.IntSlider(0, 0, max(len(dataset[split.value]) - 1, 0), description="row")
    view = w.HTML()

    def show(*_):
        index.max = max(len(dataset[split.value]) - 1, 0)
        row = dataset[split.value][min(index.value, index.max)]
        view.value = fim_html(row) + (
            "<details><summary>teacher_input / student_input</summary><pre style='white-space:pre-wrap'>"
            f"{html.escape(row['teacher_input'])}\n\n---\n\n{html.escape(row['student_input'])}</pre></details>")

    split.observe(show, "value")
    index.observe(show, "value")
    show()
    return w.VBox([w.HBox([split, index]), view])
