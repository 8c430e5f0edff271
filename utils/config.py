"""Profiles: every knob of the series in one place (tiny / colab / full)."""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class UserError(Exception):
    """A problem the user can fix; the message names the problem and the fix."""


REPO_ROOT = Path(__file__).resolve().parent.parent

# Where the project lives: the one place that names it. The README's Colab badges and every notebook's badge and
# set-up cell use exactly these values (tests/test_colab.py checks); after changing them, `python -m utils.colab sync`
# rewrites those links. The address is a placeholder until the project is published.
GITHUB_REPO = "moondistil/moondistil"  # owner/name on GitHub
REPO_URL = f"https://github.com/{GITHUB_REPO}"
REPO_BRANCH = "main"  # the branch the Colab badges open

# Colab: where the set-up cell looks for the code before cloning it, and where use_drive=True keeps the artifacts
COLAB_REPO = "/content/moondistil"
DRIVE_MOUNT = "/content/drive"
DRIVE_REPO = f"{DRIVE_MOUNT}/MyDrive/moondistil"
DRIVE_ARTIFACTS = f"{DRIVE_MOUNT}/MyDrive/moondistil-artifacts"
# Colab's own packages the set-up cell never installs over (requirements-colab.txt leaves them out, and pip is held
# to Colab's installed versions of them): replacing torch, numpy or pandas under a running runtime breaks it or needs a
# restart, and Colab's ipykernel, ipywidgets and nbclient belong to its front end (pip warns the runtime can crash)
COLAB_KEEPS = ("torch", "numpy", "pandas", "ipykernel", "ipywidgets", "nbclient", "matplotlib")

TEACHER_HUB_ID = "bigcode/gpt_bigcode-santacoder"
STUDENT_HUB_ID = "google/flan-t5-small"

# santacoder's FIM special tokens, in the order its tokenizer defines them
EOS = "<|endoftext|>"
FIM_PREFIX = "<fim-prefix>"
FIM_MIDDLE = "<fim-middle>"
FIM_SUFFIX = "<fim-suffix>"
FIM_PAD = "<fim-pad>"
FIM_TOKENS = (EOS, FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX, FIM_PAD)

# the hole marker in the student's input: T5's first span-corruption sentinel,
# which is exactly what flan-t5 learned "a missing span goes here" means
HOLE = "<extra_id_0>"

# the distilling step-by-step paper's 2x2 (notebook 05): labels {true middle, teacher's middle} x rationales {no, yes}
VARIANTS = ("finetune", "finetune_explain", "distill", "step_by_step")
# variants beyond the 2x2, trained when named in `variants` (not by default): logit distillation (utils/logits.py)
EXTRA_VARIANTS = ("logit_distill",)
ALL_VARIANTS = VARIANTS + EXTRA_VARIANTS
# settings that were removed, and what replaces them (a clear message instead of "unknown setting")
REMOVED = {"label_type": "the 2x2 variants name their labels: finetune / finetune_explain train on the true middles, "
                         "distill / step_by_step on the teacher's (choose with variants=...)"}


def fim_prompt(prefix: str, suffix: str, mode: str = "psm") -> str:
    """santacoder's FIM prompt; the model continues it with the middle.

    PSM: <fim-prefix>prefix<fim-suffix>suffix<fim-middle>
    SPM: <fim-prefix><fim-suffix>suffix<fim-middle>prefix   (the variant bigcode trained)
    """
    if mode == "psm":
        return f"{FIM_PREFIX}{prefix}{FIM_SUFFIX}{suffix}{FIM_MIDDLE}"
    if mode == "spm":
        return f"{FIM_PREFIX}{FIM_SUFFIX}{suffix}{FIM_MIDDLE}{prefix}"
    raise ValueError(f"unknown FIM mode {mode!r}: use 'psm' or 'spm'")


def student_prompt(prefix: str, suffix: str) -> str:
    """The student's input: prefix, one hole marker, suffix (never the middle)."""
    return f"{prefix}{HOLE}{suffix}"


@dataclass
class Config:
    """All settings of a run; build one with `load_config(profile, **overrides)`."""

    profile: str = "tiny"
    run_name: str = "tiny"
    artifacts_dir: str = str(REPO_ROOT / "artifacts")
    seed: int = 42
    device: str = "auto"  # auto | cpu | cuda

    # models: a hub id, a local folder, or "tiny-teacher" / "tiny-student"
    teacher: str = "tiny-teacher"
    student: str = "tiny-student"

    # corpus (notebook 02)
    corpus: str = "sample"  # sample | the-stack | a local folder of .moon files
    # folder holding MoonScript's parser (moonscript/parse.lua + parse/slow.lua); None: $MOONSCRIPT_PARSER,
    # else the copy `python -m utils get-parser` keeps in the cache (see utils/parser.py)
    moonscript_parser: str | None = None
    drop_unparsable: bool = True  # drop corpus files MoonScript's parser rejects (when a parser is available)
    streaming: bool = False
    max_files: int | None = None
    min_file_bytes: int = 64
    max_file_bytes: int = 200_000
    max_line_length: int = 1000
    min_alnum_fraction: float = 0.25
    drop_generated: bool = True
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    segment_tokens: int = 256  # teacher tokens per window
    max_segments_per_file: int | None = 8
    spans_per_segment: int = 2  # FIM examples cut from each segment (distinct middles)
    span_proportions: dict[str, float] = field(
        default_factory=lambda: {"single_line": 0.4, "multi_line": 0.4, "random_span": 0.2}
    )
    max_middle_lines: int = 6
    max_middle_chars: int = 300
    fim_mode: str = "psm"  # psm | spm
    student_max_input_tokens: int = 512
    student_reserve_tokens: int = 8  # kept free in student_input for the task prefix ("predict: ") and </s>
    max_examples: dict[str, int | None] = field(
        default_factory=lambda: {"train": None, "valid": None, "test": None}
    )

    # teacher generation (notebook 03)
    teacher_backend: str = "transformers"  # transformers | openai
    teacher_base_url: str | None = None
    teacher_batch_size: int = 16
    max_new_tokens: int = 96
    do_sample: bool = False
    temperature: float = 0.2
    top_p: float = 0.95
    num_samples: int = 1
    dtype: str = "auto"  # auto | float32 | float16 | bfloat16
    teacher_served_model: str | None = None  # model name sent to the endpoint (None: the teacher's hub id / local path)
    teacher_concurrency: int = 4  # parallel requests when the endpoint takes one prompt per request (transformers serve)
    teacher_max_retries: int = 4  # endpoint retries (exponential back-off) before giving up
    teacher_timeout_s: float = 600.0  # per endpoint request
    teacher_bench_examples: int = 48  # examples timed by `python -m utils bench teacher`
    # training rows whose teacher middle leaves its file unparsable (notebook 03 judges them with the parser):
    # keep them as they are, drop them, or train on the true middle instead ("gold"); no effect without a parser
    teacher_filter: str = "keep"  # keep | drop | gold

    # rationales (notebook 04)
    rationale_base_url: str | None = None  # None: a local server for "tiny-explainer" / a local folder, else OpenAI
    rationale_model: str = "tiny-explainer"  # chat model name on the server, "tiny-explainer", or a local model folder
    rationale_api_key_env: str = "OPENAI_API_KEY"  # NAME of the env variable / Colab secret holding the key (never the key)
    rationale_max_words: int = 60  # the prompt asks for at most this many words
    rationale_min_words: int = 6  # quality gate: shorter answers are rejected
    rationale_max_tokens: int = 120  # completion limit per request (also the output side of the cost estimate)
    rationale_reasoning_tokens: int = 1024  # reasoning models (o-series, gpt-5): budget added to rationale_max_tokens
    rationale_splits: tuple[str, ...] = ("train",)  # splits that get rationales (only training uses them); add "valid", "test"
    rationale_temperature: float = 0.0
    rationale_few_shot: int = 0  # hand-written example answers sent before each request (0-2)
    rationale_quality_retries: int = 1  # re-asks (at temperature 0.7) when an answer fails the quality gate
    rationale_concurrency: int = 4  # requests in flight at once
    rationale_retries: int = 5  # retries after the first attempt on 429 / 5xx / timeouts / connection errors
    rationale_timeout_s: float = 60.0  # per request
    rationale_price_per_mtok: tuple[float, float] | None = None  # (input, output) USD per 1M tokens; None: dated table
    max_cost_usd: float = 5.0  # the run stops before a request that could take spending past this
    dry_run: bool = False  # estimate the cost only, send nothing

    # training (notebook 05)
    variants: tuple[str, ...] = VARIANTS  # any of ALL_VARIANTS; each trained on every share of data_fractions (logit ones: 100% only)
    # the data curve: each variant also trained on these shares of the train rows (nested seeded subsets, 1.0 = all)
    data_fractions: tuple[float, ...] = (0.25, 0.5, 1.0)
    alpha: float = 0.5
    max_target_tokens: int = 128
    max_rationale_tokens: int = 128
    train_batch_size: int = 8
    eval_batch_size: int = 32
    gradient_accumulation_steps: int = 1
    learning_rate: float = 3e-3
    num_train_epochs: float = 30
    # every variant and data fraction gets the same number of updates: max_steps, or (max_steps <= 0)
    # num_train_epochs over the whole train split, whatever share of it a point trains on
    max_steps: int = 30
    eval_steps: int = 30
    logging_steps: int = 10  # training loss logged every N steps; eval_steps must be a multiple of it
    warmup_steps: int | float = 0.1  # an int (steps) or a float in [0, 1) (share of all steps)
    weight_decay: float = 0.0
    student_dropout: float | None = 0.0  # the student's dropout while fine-tuning (None: the model's own, 0.1 for flan-t5)
    early_stopping_patience: int | None = None  # stop after N evaluations without progress (None: off, same budget for all)
    deterministic: bool = True  # torch's deterministic algorithms while training (CPU; GPUs may refuse some ops or slow down)
    keep_checkpoints: bool = False  # keep models/<variant>/checkpoints/ once a variant has finished
    bf16: bool = False
    # logit distillation (utils/logits.py, variant logit_distill): cross-entropy + beta * ULD (Boizard et al. 2024)
    logit_top_k: int = 8  # teacher probabilities kept per position (its k most likely tokens, the rest as one tail mass)
    logit_labels: str = "teacher"  # teacher | gold: the middle the distributions are taken along (and the variant's labels)
    logit_alignment: str = "position"  # position (the paper: i-th with i-th) | offsets (tokens that start at the same character)
    beta: float = 1.0  # weight of the ULD term
    push_to_hub: bool = False
    hub_model_id: str | None = None

    # evaluation (notebook 07)
    bootstrap_samples: int = 1000
    bench_examples: int = 32  # test examples timed per system (notebook 07, `python -m utils bench student`)
    # CPU threads while timing (None: torch's default). Tiny models gain nothing from threads, and on shared
    # cores extra threads make timings 10x slower and erratic; the real profiles time with every thread.
    bench_threads: int | None = 1
    torch_threads: int | None = 1  # CPU threads while training / generating with the student (None: torch's default)

    @property
    def run_dir(self) -> Path:
        """Folder holding every artifact of this run."""
        return Path(self.artifacts_dir) / self.run_name

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the settings (for saving next to artifacts)."""
        return dataclasses.asdict(self)

    def summary(self) -> str:
        """One line for a notebook's set-up cell: profile, run, where the artifacts go, what differs from the profile."""
        base = Config(**{"profile": self.profile, **PROFILES.get(self.profile, {})})
        changed = [f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self)
                   if f.name not in ("run_name", "artifacts_dir") and getattr(self, f.name) != getattr(base, f.name)]
        try:
            where = str(self.run_dir.resolve().relative_to(REPO_ROOT))
        except ValueError:
            where = str(self.run_dir)
        return (f"profile {self.profile}, run {self.run_name!r}, artifacts in {where}"
                + ("; changed from the profile: " + ", ".join(changed) if changed else ""))


PROFILES: dict[str, dict[str, Any]] = {
    # offline, CPU, minutes: the default of the run command and of every test
    "tiny": dict(
        # 155 sample files give about 1,200 FIM rows: 400 train rows keep notebooks 03-07 to minutes on 2 CPU
        # cores, while every valid and test row is kept for the intervals
        max_examples={"train": 400, "valid": None, "test": None},
        # the tiny student reads the 256 code-safe tokens around the hole (about half a segment; the teacher reads it
        # all), as flan-t5 reads 512 where santacoder reads 2048: training and generation cost a third of 512's
        student_max_input_tokens=256,
        bench_examples=16,  # completions timed per system in notebook 07: seven systems, on 2 CPU cores
    ),
    # the real models, sized to finish the series on a free Colab T4 in about 1.5 hours (`python -m utils rehearse` estimates it)
    "colab": dict(
        bench_threads=None,
        torch_threads=None,
        run_name="colab",
        teacher=TEACHER_HUB_ID,
        student=STUDENT_HUB_ID,
        corpus="the-stack",
        max_files=600,
        segment_tokens=512,
        max_segments_per_file=4,
        spans_per_segment=1,
        max_examples={"train": 2000, "valid": 200, "test": 300},
        teacher_batch_size=16,
        max_new_tokens=128,
        dtype="float16",
        teacher_bench_examples=16,  # the seed's 512-token loop takes ~20 s per example on a T4
        rationale_model="gpt-4o-mini",
        rationale_few_shot=2,
        max_cost_usd=2.0,
        rationale_concurrency=8,
        # 16 examples an update, as 2 micro-batches of 8: a batch holds both tasks (16 rows of up to 512 tokens for 8
        # examples), and autograd keeps about 0.44 GB of activations per row in fp32 (measured by `python -m utils
        # rehearse`), so 16 at once (32 rows, ~14 GB) would not fit a T4's 15 GB beside the weights and Adam's states
        train_batch_size=8,
        gradient_accumulation_steps=2,
        learning_rate=3e-4,
        num_train_epochs=3,
        max_steps=-1,
        student_dropout=None,
        eval_steps=100,
        logging_steps=10,
        deterministic=False,
    ),
    # everything: the whole MoonScript part of The Stack
    "full": dict(
        bench_threads=None,
        torch_threads=None,
        run_name="full",
        teacher=TEACHER_HUB_ID,
        student=STUDENT_HUB_ID,
        corpus="the-stack",
        segment_tokens=1024,
        max_segments_per_file=None,
        spans_per_segment=1,
        teacher_batch_size=32,
        max_new_tokens=192,
        dtype="bfloat16",
        rationale_model="gpt-4o-mini",
        rationale_few_shot=2,
        max_cost_usd=50.0,
        rationale_concurrency=16,
        train_batch_size=32,
        learning_rate=3e-4,
        num_train_epochs=5,
        max_steps=-1,
        student_dropout=None,
        eval_steps=500,
        logging_steps=50,
        bf16=True,
        deterministic=False,
    ),
}


def parse_overrides(pairs: list[str] | None) -> dict[str, Any]:
    """`["key=value", ...]` from the command line as a dict; values are read as JSON when they parse, else as text.

    Types and ranges are checked by `load_config`, which coerces text such as `0.9,0.2,0.1` to its field's type.
    """
    out: dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise UserError(f"--set expects key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def _field_types() -> dict[str, Any]:
    return typing.get_type_hints(Config)


def _spelling(tp: Any) -> str:
    """How a value of type `tp` is written, for error messages."""
    text = str(tp).replace("typing.", "").replace("NoneType", "None").replace("<class '", "").replace("'>", "")
    return text


def _coerce(value: Any, tp: Any) -> Any:
    """`value` as type `tp` (ints, floats, bools, text, tuples, dicts, optionals); ValueError when it is not one."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null")):
            if type(None) in args:
                return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg)
            except (ValueError, TypeError) as err:
                errors.append(str(err))
        raise ValueError("; ".join(errors))
    if origin is tuple:
        if isinstance(value, str):
            value = [v.strip() for v in value.strip("()[] ").split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{value!r} is not a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0]) for v in value)
        if len(value) != len(args):
            raise ValueError(f"{value!r} has {len(value)} values, not {len(args)}")
        return tuple(_coerce(v, a) for v, a in zip(value, args))
    if origin is dict:
        if isinstance(value, str):
            value = json.loads(value)
        if not isinstance(value, dict):
            raise ValueError(f"{value!r} is not a mapping")
        return {_coerce(k, args[0]): _coerce(v, args[1]) for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.strip().lower() in ("true", "1", "yes")
        raise ValueError(f"{value!r} is not true or false")
    if tp is int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(f"{value!r} is not a whole number")
        return int(value) if not isinstance(value, str) else int(value.strip())
    if tp is float:
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not a number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not text")
        return value
    return value


# ranges checked after coercion: (test, what the setting takes)
_POSITIVE = ("segment_tokens", "spans_per_segment", "max_middle_lines", "max_middle_chars", "student_max_input_tokens",
             "teacher_batch_size", "max_new_tokens", "num_samples", "teacher_concurrency", "rationale_max_words",
             "rationale_max_tokens", "rationale_concurrency", "max_target_tokens", "max_rationale_tokens",
             "train_batch_size", "eval_batch_size", "gradient_accumulation_steps", "eval_steps", "logging_steps",
             "bootstrap_samples", "bench_examples", "teacher_bench_examples", "max_files", "max_segments_per_file",
             "bench_threads", "torch_threads", "logit_top_k")
_NON_NEGATIVE = ("min_file_bytes", "max_file_bytes", "max_line_length", "rationale_min_words", "rationale_few_shot",
                 "rationale_quality_retries", "teacher_max_retries", "rationale_retries", "student_reserve_tokens",
                 "max_cost_usd", "weight_decay", "early_stopping_patience", "temperature", "rationale_temperature",
                 "num_train_epochs", "beta")
_CHOICES = {
    "device": ("auto", "cpu", "cuda"),
    "fim_mode": ("psm", "spm"),
    "teacher_backend": ("transformers", "openai"),
    "dtype": ("auto", "float32", "float16", "bfloat16"),
    "teacher_filter": ("keep", "drop", "gold"),
    "logit_labels": ("teacher", "gold"),
    "logit_alignment": ("position", "offsets"),
}


def _range_problem(name: str, value: Any) -> str | None:
    """What is wrong with an in-type `value` of setting `name`, or None."""
    if value is None:
        return None
    if name in _POSITIVE and value <= 0:
        return "a number above 0"
    if name in _NON_NEGATIVE and value < 0:
        return "a number of 0 or more"
    if name in _CHOICES and value not in _CHOICES[name]:
        return "one of " + ", ".join(_CHOICES[name])
    if name in ("alpha", "min_alnum_fraction") and not 0 <= value <= 1:
        return "a number from 0 to 1"
    if name in ("top_p",) and not 0 < value <= 1:
        return "a number above 0, at most 1"
    if name == "max_rationale_tokens" and value < 2:
        return "2 or more (an explain label holds at least its opening mark and </s>)"
    if name == "learning_rate" and value <= 0:
        return "a number above 0"
    if name == "split_fractions" and (min(value) < 0 or value[0] <= 0 or abs(sum(value) - 1) > 1e-6):
        return "three fractions train,valid,test, each 0 or more, train above 0, summing to 1 (e.g. 0.8,0.1,0.1)"
    if name == "span_proportions" and (set(value) - {"single_line", "multi_line", "random_span"} or min(value.values()) < 0 or sum(value.values()) <= 0):
        return "a mapping of single_line, multi_line, random_span to weights of 0 or more, not all 0"
    if name == "warmup_steps" and (value < 0 or (not float(value).is_integer() and value >= 1)):
        return "a whole number of steps, or a share of all steps in [0, 1)"
    if name == "variants" and (not value or set(value) - set(ALL_VARIANTS)):
        return "a list of " + ", ".join(ALL_VARIANTS)
    if name == "data_fractions" and (not all(0 < f <= 1 for f in value) or 1.0 not in value):
        return "shares of the train rows, each above 0 and at most 1, 1.0 among them (e.g. 0.25,0.5,1.0)"
    return None


def load_config(profile: str = "tiny", run_name: str | None = None, **overrides: Any) -> Config:
    """Settings of `profile` (run in folder `run_name`, None: the profile's), any single value overridden.

    Every override is checked before any work: an unknown name, a value of the wrong type or out of
    range is refused with one line naming the setting, what it got and what it takes. `None` is a real
    value (for settings that accept it), never "keep the profile's value".
    """
    if profile not in PROFILES:
        raise UserError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
    types_ = _field_types()
    values = {"profile": profile, **PROFILES[profile]}
    if run_name is not None:
        overrides = {"run_name": run_name, **overrides}
    for key, value in overrides.items():
        if key in REMOVED:
            raise UserError(f"setting {key!r} was removed: {REMOVED[key]}")
        if key not in types_:
            close = difflib.get_close_matches(key, types_, n=3)
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            raise UserError(f"unknown setting {key!r}{hint}: see utils/config.py for the list")
        try:
            values[key] = _coerce(value, types_[key])
        except (ValueError, TypeError, json.JSONDecodeError):
            raise UserError(f"setting {key}={value!r} is not valid: it takes {_spelling(types_[key])}") from None
    for key, value in values.items():
        if (problem := _range_problem(key, value)) is not None:
            raise UserError(f"setting {key}={value!r} is out of range: it takes {problem}")
    if "artifacts_dir" not in overrides and os.environ.get("DISTIL_ARTIFACTS"):
        values["artifacts_dir"] = os.environ["DISTIL_ARTIFACTS"]
    return Config(**values)


def parse_notebook_overrides(overrides: Any) -> dict[str, Any]:
    """A notebook's `overrides` parameter as a dict: a dict as is, None or "" as {}, a string read as a JSON object.

    papermill's `-p overrides '{"max_files": 12}'` passes the text, not a dict (`-y` passes YAML, which gives one).
    """
    if overrides is None:
        return {}
    if isinstance(overrides, str):
        text = overrides.strip()
        if not text:
            return {}
        try:
            overrides = json.loads(text)
        except json.JSONDecodeError as err:
            raise UserError(
                f"overrides {text!r} is not JSON ({err.msg}, column {err.colno}): write a JSON object with double "
                f"quotes, e.g. papermill ... -p overrides '{{\"max_files\": 12}}', or give YAML with "
                f"-y 'overrides: {{max_files: 12}}'"
            ) from None
    if not isinstance(overrides, dict):
        raise UserError(
            f"overrides must be a mapping of setting names to values, such as {{\"max_files\": 12}}, "
            f"not {type(overrides).__name__} {overrides!r}"
        )
    return dict(overrides)


def in_colab() -> bool:
    """Whether this runs in a Google Colab runtime."""
    import sys

    return "google.colab" in sys.modules


def notebook_config(
    profile: str = "tiny",
    run_name: str | None = None,
    overrides: Any = None,
    artifacts_dir: str | None = None,
    use_drive: bool = False,
) -> Config:
    """The settings of a notebook, from its `parameters` cell (what every notebook's set-up cell calls).

    `overrides` is a dict or a JSON object in a string (papermill's `-p`). The artifacts folder is, first
    found: `artifacts_dir`; with `use_drive` (Colab, Drive mounted by the set-up cell) DRIVE_ARTIFACTS;
    `$DISTIL_ARTIFACTS`; `artifacts/` in the repo.
    """
    values = parse_notebook_overrides(overrides)
    if isinstance(use_drive, str):  # papermill -p use_drive True gives a bool; be kind to "true" / "false" too
        use_drive = _coerce(use_drive, bool)
    if use_drive and artifacts_dir is None:
        if not in_colab():
            raise UserError("use_drive=True works on Google Colab only: elsewhere give artifacts_dir (any folder)")
        artifacts_dir = DRIVE_ARTIFACTS
    if artifacts_dir is not None:
        given = values.get("artifacts_dir")
        if given is not None and str(given) != str(artifacts_dir):
            raise UserError(
                f"two artifacts folders: artifacts_dir={str(artifacts_dir)!r} and overrides "
                f"artifacts_dir={str(given)!r}: give one of them"
            )
        values["artifacts_dir"] = str(artifacts_dir)
    return load_config(profile, run_name=run_name, **values)


def cache_dir() -> Path:
    """Where tiny models and other built things are kept (DISTIL_CACHE, else .cache/ in the repo)."""
    return Path(os.environ.get("DISTIL_CACHE", REPO_ROOT / ".cache"))
