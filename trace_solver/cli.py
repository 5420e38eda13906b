"""`trace-solver` command line: run and score traces; generate, convert and inspect data sets.

trace-solver run FILE|-            print the value (exit 0) or a one-line error (exit 1)
trace-solver run --json FILE|-     print the whole outcome as JSON
trace-solver score --answer A [--expert E] FILE|-   print the reward
trace-solver generate | convert-gsm8k | stats | check ...  (see --help of each)
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence

from trace_solver.executor import execute
from trace_solver.numbers import format_number
from trace_solver.scoring import score_completion

# Modules that add their own subcommand through add_cli(subparsers); a new one is one entry here.
_SUBCOMMAND_MODULES = (
    "trace_solver.generate",
    "trace_solver.gsm8k",
    "trace_solver.mawps",
    "trace_solver.augment",
    "trace_solver.stats",
    "trace_solver.check",
)


def _read(path: str) -> str:
    """The text of FILE or stdin (`-`), decoded as UTF-8 either way; anything else is refused in one line."""
    try:
        if path == "-":
            stdin = getattr(sys.stdin, "buffer", None)  # a text stream without bytes underneath is already text
            data = stdin.read() if stdin is not None else sys.stdin.read().encode("utf-8", "surrogateescape")
        else:
            with open(path, "rb") as handle:
                data = handle.read()
    except OSError as exc:
        raise SystemExit(f"trace-solver: cannot read {path}: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        name = "stdin" if path == "-" else path
        raise SystemExit(
            f"trace-solver: {name} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}): "
            "save the trace as UTF-8"
        ) from None


def _run(args: argparse.Namespace) -> int:
    outcome = execute(_read(args.file))
    if args.json:
        print(json.dumps(outcome.to_dict()))
    elif outcome.ok:
        print(format_number(outcome.value))
    else:
        print(f"error [{outcome.code}]: {outcome.message}", file=sys.stderr)
    return 0 if outcome.ok else 1


def _score(args: argparse.Namespace) -> int:
    score = score_completion(_read(args.file), args.answer, args.expert)
    if args.json:
        print(json.dumps({"reward": score.reward(), "tier": score.tier_name, "outcome": score.outcome.to_dict()}))
    else:
        print(score.reward())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trace-solver", description="Execute and score YAML math traces.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute a trace and print its value")
    run.add_argument("file", help="YAML trace or model completion; - for stdin")
    run.add_argument("--json", action="store_true", help="print the whole outcome as JSON")
    run.set_defaults(handler=_run)
    score = sub.add_parser("score", help="print the graduated reward of a completion")
    score.add_argument("file", help="model completion; - for stdin")
    score.add_argument("--answer", required=True, help="gold answer, e.g. 18 or $1,000")
    score.add_argument("--expert", default=None, help="gold expert (any registered expert counts when omitted)")
    score.add_argument("--json", action="store_true", help="print reward, tier and outcome as JSON")
    score.set_defaults(handler=_score)
    for name in _SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.add_cli(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
