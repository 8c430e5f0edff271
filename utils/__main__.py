"""Command line: `python -m utils <command> --help`."""

from __future__ import annotations

import argparse
import os
import sys

from .config import ALL_VARIANTS, Config, UserError, load_config, parse_overrides


def _config(args: argparse.Namespace, **extra: object) -> Config:
    """The run's settings from `--profile` and `--set`, checked before any work."""
    return load_config(args.profile, **{**parse_overrides(args.set), **extra})


def cmd_run(args: argparse.Namespace) -> None:
    from .runner import run_series

    run_dir = run_series(args.profile, args.run_name, parse_overrides(args.set), args.only, args.regenerate)
    report = run_dir / "report" / "results.csv"
    print(f"run finished: artifacts in {run_dir}")
    if report.exists():
        print(f"report: {report}")


def cmd_roundtrip(args: argparse.Namespace) -> None:
    from .inspection import roundtrip_report

    print(roundtrip_report(args.dir, _config(args), show_files=not args.summary))


def cmd_fim(args: argparse.Namespace) -> None:
    from .fim import fim_command

    fim_command(_config(args), args.corpus, args.out)


def cmd_train(args: argparse.Namespace) -> None:
    from .training import train_command

    train_command(_config(args), args.variants, args.retrain)


def cmd_teacher_logits(args: argparse.Namespace) -> None:
    from .logits import teacher_logits_command

    teacher_logits_command(_config(args))


def cmd_bench(args: argparse.Namespace) -> None:
    if args.what == "teacher":
        from .teacher import bench_teacher

        bench_teacher(_config(args), args.examples)
    elif args.real_size:
        from .speed import bench_real_size, format_bench, random_prompts, real_size_model, time_breakdown

        cfg = _config(args)
        devices = None if cfg.device == "auto" else [cfg.device]
        table = bench_real_size(args.prompt_tokens, args.new_tokens, args.repeats, args.batch, devices=devices,
                                threads=args.threads)
        threads = table.loc[(table.role == "student") & (table.device == "cpu") & (table.batch == 1), "threads"]
        student = real_size_model("student")
        breakdown = time_breakdown(student, random_prompts(student, 1, args.prompt_tokens), args.new_tokens,
                                   int(threads.iloc[0]) if len(threads) else 1)
        print(format_bench(table, breakdown))
    else:
        from .evaluation import bench_student

        bench_student(_config(args), args.examples)


def cmd_rehearse(args: argparse.Namespace) -> None:
    from .rehearse import rehearse_command

    rehearse_command(_config(args), args.examples, args.t5_tokenizer, args.train_steps, args.teacher_new_tokens)


def cmd_quantize(args: argparse.Namespace) -> None:
    from .quantize import format_quantize_report, quantize_student

    report = quantize_student(_config(args), args.variant, args.real_size, args.repeats, args.prompt_tokens, args.new_tokens)
    print(format_quantize_report(report))


def cmd_serve(args: argparse.Namespace) -> None:
    import time

    from .serving import serve_student

    with serve_student(_config(args), args.variant, args.int8, args.port, args.host) as url:
        print(f"serving {url.model} at {url}: POST {url}/completions with 'prompt' (the code before the gap) and "
              f"'suffix' (the code after it); the middle comes back in choices[0].text. GET {url.replace('/v1', '/health')}. "
              "Ctrl-C stops.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("server stopped")


def cmd_parse(args: argparse.Namespace) -> None:
    from .parser import parse_dir

    parse_dir(args.dir, args.parser, args.quiet, args.bench)


def cmd_get_parser(args: argparse.Namespace) -> None:
    from .parser import fetch_parser

    print(f"MoonScript parser: {fetch_parser(force=args.force)}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m utils`."""
    parser = argparse.ArgumentParser(prog="python -m utils", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--profile", default="tiny", help="tiny (offline, default), colab or full")
        p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override one setting of utils/config.py (repeatable)")

    p = sub.add_parser("run", help="execute the notebook series with papermill into artifacts/<run_name>/")
    common(p)
    p.add_argument("--run-name", default=None, help="folder under artifacts/ (default: the profile's name)")
    p.add_argument("--only", nargs="+", metavar="NN", help="run only these notebooks, e.g. --only 01 02")
    p.add_argument("--regenerate", action="store_true", help="execute the committed notebooks in place (refreshes their saved outputs)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("roundtrip", help="does encode then decode give each .moon file back, per tokenizer?")
    common(p)
    p.add_argument("dir", help="folder searched recursively for .moon files")
    p.add_argument("--summary", action="store_true", help="only the rate per tokenizer, no per-file table")
    p.set_defaults(func=cmd_roundtrip)

    p = sub.add_parser("fim", help="build the FIM dataset (notebook 02) without the notebook")
    common(p)
    p.add_argument("--corpus", default=None, help="sample, the-stack, or a folder of .moon files (default: the profile's corpus)")
    p.add_argument("--out", default=None, help="output folder (default: artifacts/<run_name>/fim)")
    p.set_defaults(func=cmd_fim)

    p = sub.add_parser("train", help="train the student variants (notebook 05) without the notebook; torchrun / accelerate launch ready")
    common(p)
    p.add_argument("--variants", nargs="+", metavar="NAME",
                   help=f"points to train: {', '.join(ALL_VARIANTS)}, optionally @<percent of train rows> (distill@25); "
                        "default: every variant at every data fraction")
    p.add_argument("--retrain", action="store_true", help="train again even when an identical finished run is saved")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("teacher-logits", help="store the teacher's top-k probabilities along every train middle (logit distillation; resumes)")
    common(p)
    p.set_defaults(func=cmd_teacher_logits)

    p = sub.add_parser("bench", help="speed figures: `teacher` (ours vs the seed project's loop) or `student` (vs teacher)")
    common(p)
    p.add_argument("what", choices=["teacher", "student"])
    p.add_argument("--examples", type=int, default=None, help="how many examples to time")
    p.add_argument("--real-size", action="store_true",
                   help="student: time santacoder's and flan-t5-small's real architectures (random weights) instead of the run's models")
    p.add_argument("--repeats", type=int, default=5, help="--real-size: timed completions at batch 1 per model")
    p.add_argument("--batch", type=int, default=4, help="--real-size: batch size for the throughput figure (1: none)")
    p.add_argument("--prompt-tokens", type=int, default=384, help="--real-size: prompt length in tokens")
    p.add_argument("--new-tokens", type=int, default=32, help="--real-size: new tokens forced per completion")
    p.add_argument("--threads", type=int, nargs="+", default=None,
                   help="--real-size: CPU thread counts to try, each model keeps its fastest (default: 1 and every core)")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("rehearse", help="the colab profile's path (02-05, 07) at real size with random weights, offline: time, "
                                        "peak memory, and an estimate of the series on a T4")
    p.add_argument("--profile", default="colab", help="profile whose settings are rehearsed (default: colab)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override one setting of utils/config.py (repeatable)")
    p.add_argument("--examples", type=int, default=8, help="sample examples, repeated to fill each batch (default: 8)")
    p.add_argument("--t5-tokenizer", default=None, metavar="DIR", help="folder of the real T5 tokenizer (default: the tiny student's)")
    p.add_argument("--train-steps", type=int, default=2, help="training steps at the profile's batch size (default: 2; "
                                                              "step 2 holds the optimizer's states)")
    p.add_argument("--teacher-new-tokens", type=int, default=32, metavar="N",
                   help="new tokens per teacher prompt (default: 32, to finish in 15 minutes on 2 CPU cores; the prompts "
                        "keep the profile's length; 0: the profile's max_new_tokens)")
    p.set_defaults(func=cmd_rehearse)

    p = sub.add_parser("quantize", help="int8 copy of a trained student: quality and speed before and after, saved to models/<variant>-int8/")
    common(p)
    p.add_argument("--variant", default=None, help="trained variant (default: the last of the 2x2 that is trained, step_by_step first)")
    p.add_argument("--real-size", action="store_true", help="time flan-t5-small's real architecture (random weights) instead of the tiny student")
    p.add_argument("--repeats", type=int, default=5, help="timed completions per model")
    p.add_argument("--prompt-tokens", type=int, default=384, help="prompt length in tokens for the timing")
    p.add_argument("--new-tokens", type=int, default=32, help="new tokens forced per timed completion")
    p.set_defaults(func=cmd_quantize)

    p = sub.add_parser("serve", help="serve a trained student's fill-in-the-middle completions (OpenAI /v1/completions with a suffix)")
    common(p)
    p.add_argument("--variant", default=None, help="trained variant (default: the last of the 2x2 that is trained, step_by_step first)")
    p.add_argument("--int8", action="store_true", help="serve the int8 copy (models/<variant>-int8/, quantised now if missing)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (0: any free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("parse", help="does each .moon file under DIR parse? (MoonScript's own parser)")
    p.add_argument("dir", help="folder searched recursively for .moon files")
    p.add_argument("--parser", default=None, metavar="PATH", help="parser folder (default: $MOONSCRIPT_PARSER, else the cached copy)")
    p.add_argument("--quiet", action="store_true", help="print only the failures and the total")
    p.add_argument("--bench", action="store_true", help="also print the parser's speed in files/s")
    p.set_defaults(func=cmd_parse)

    p = sub.add_parser("get-parser", help="download MoonScript's parser into the cache and print where it is")
    p.add_argument("--force", action="store_true", help="download again even when a copy is cached")
    p.set_defaults(func=cmd_get_parser)

    args = parser.parse_args(argv)
    try:
        args.func(args)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished work is saved; run the same command again to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
