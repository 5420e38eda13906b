"""Statistics of a trace dataset (the JSONL that `generate`, `convert-gsm8k` and `convert-mawps` write).

    trace-solver stats data/gsm8k_train.jsonl [--tokenizer PATH [--max-length N]] [--dev FILE [FILE ...]]

Prints the example count per source and per expert, a histogram of operation steps, and, with ``--tokenizer``,
token-length percentiles of system prompt + question + trace rendered with the tokenizer's chat template exactly as
training sees them (``build_messages(question)`` plus the trace as the assistant turn), with how many examples would
be truncated at common ``max_length`` values (and at ``--max-length``). Silent truncation at 512 tokens once cost a
whole training run; this is how to pick ``max_length`` knowing what it cuts.

With ``--dev``, the file's questions are compared with those of dev files (any JSONL whose lines have a string
``question``: the output of ``convert-gsm8k --split dev`` or ``convert-mawps --split dev``):

* **exact duplicates**: the same question after normalisation (``normalize_question``, then ``mawps.question_key``:
  case, quote style, punctuation and spacing ignored). A training file should have none.
* **near duplicates**: not exact, but the same once every number is masked (``"Tom has 3 apples"`` and
  ``"Tom has 5 apples"``): the same problem with other numbers, as number-varied augmentation makes.

Both are counts of rows of the file, with example ids; the exit status stays 0 (the caller decides what is fatal).

transformers is imported only when ``--tokenizer`` is given, which must be a local model folder or ``.gguf`` file
(no hub access).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trace_solver.jsonl import JSONLError, read_jsonl
from trace_solver.mawps import question_key
from trace_solver.numbers import normalize_question
from trace_solver.prompt import build_messages

PERCENTILES = (50, 90, 95, 99)
MAX_LENGTHS = (256, 384, 512, 768, 1024, 2048)  # common max_length settings to count truncation against
_BAR_WIDTH = 40
_EXAMPLES = 5  # example ids printed per duplicate kind
_NUMBER = re.compile(r"\d+(?:[./]\d+)?")


class StatsError(ValueError):
    """The dataset or tokenizer cannot be read; the message is one line naming the file (and line)."""


@dataclass(frozen=True)
class TokenLengths:
    """Tokens per example: the prompt with the generation prompt, the trace after it, and the whole conversation."""

    prompt: list[int]
    completion: list[int]
    total: list[int]


def percentile(values: Sequence[int], q: float) -> int:
    """Nearest-rank percentile (an actual value of the data, so 'p99 = 412' means some example has 412 tokens)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def token_lengths(rows: Sequence[dict[str, Any]], tokenizer: Any) -> TokenLengths:
    """Token counts of each row rendered with the tokenizer's chat template, as the trainer tokenizes it."""
    conversations = [
        (build_messages(row["question"]), [{"role": "assistant", "content": row["trace"]}]) for row in rows
    ]
    return conversation_token_lengths(conversations, tokenizer)


def conversation_token_lengths(
    conversations: Iterable[tuple[list[dict[str, str]], list[dict[str, str]]]],
    tokenizer: Any,
    chat_template: str | None = None,
) -> TokenLengths:
    """Token counts of (prompt messages, completion messages) pairs, tokenized the way TRL's SFTTrainer does:
    the chat template over the prompt with the generation prompt and over prompt + completion; the completion starts
    where the two diverge."""
    prompt, completion, total = [], [], []
    for prompt_messages, completion_messages in conversations:
        prompt_ids = _chat_ids(tokenizer, prompt_messages, chat_template, add_generation_prompt=True)
        full_ids = _chat_ids(tokenizer, [*prompt_messages, *completion_messages], chat_template)
        shared = _common_prefix(prompt_ids, full_ids)
        prompt.append(shared)
        completion.append(len(full_ids) - shared)
        total.append(len(full_ids))
    return TokenLengths(prompt, completion, total)


def _chat_ids(tokenizer: Any, messages: list[dict[str, str]], chat_template: str | None, **kwargs: Any) -> list[int]:
    # return_dict=True gives the same shape on transformers 5.17..5.24 (a bare list vs BatchEncoding varies).
    output = tokenizer.apply_chat_template(
        messages, tokenize=True, return_dict=True, chat_template=chat_template, **kwargs
    )
    return list(output["input_ids"])


def _common_prefix(ids: list[int], other: list[int]) -> int:
    length = 0
    for a, b in zip(ids, other, strict=False):
        if a != b:
            break
        length += 1
    return length


def load_tokenizer(path: str) -> Any:
    """A tokenizer with a chat template from a local model folder or .gguf file; raises StatsError otherwise."""
    location = Path(path)
    if not location.exists():
        raise StatsError(f"--tokenizer {path}: no such local folder or file (the hub is not used)")
    try:
        from transformers import AutoTokenizer  # lazy: only this option needs transformers
    except ImportError:
        raise StatsError("--tokenizer needs transformers, which is not installed: pip install transformers") from None
    try:
        if location.is_file() and location.suffix == ".gguf":  # e.g. the embedded SmolLM2 GGUF
            tokenizer = AutoTokenizer.from_pretrained(location.parent, gguf_file=location.name, local_files_only=True)
        else:
            tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=True)
    except (OSError, ValueError, ImportError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise StatsError(f"--tokenizer {path}: cannot load a tokenizer from it ({reason[:200]})") from None
    if not getattr(tokenizer, "chat_template", None):
        raise StatsError(f"--tokenizer {path}: the tokenizer has no chat template, so training would not render it")
    return tokenizer


def duplicate_keys(question: str) -> tuple[str, str]:
    """The exact-duplicate key of a question (normalised text) and its near-duplicate key (numbers masked too)."""
    key = question_key(normalize_question(question))
    return key, _NUMBER.sub("#", key)


@dataclass(frozen=True)
class DevOverlap:
    """Rows of a file whose question is also a dev question: exactly, or only once numbers are masked."""

    dev_questions: int
    exact: list[str]  # ids (or file:line) of the file's rows
    near: list[str]


def dev_overlap(rows: Sequence[tuple[str, dict[str, Any]]], dev_questions: Iterable[str]) -> DevOverlap:
    """Compare the (id, row) pairs of a file with dev questions (see the module docstring for the two kinds)."""
    exact_keys, near_keys = set(), set()
    count = 0
    for question in dev_questions:
        exact_key, near_key = duplicate_keys(question)
        exact_keys.add(exact_key)
        near_keys.add(near_key)
        count += 1
    exact, near = [], []
    for ident, row in rows:
        exact_key, near_key = duplicate_keys(row["question"])
        if exact_key in exact_keys:
            exact.append(ident)
        elif near_key in near_keys:
            near.append(ident)
    return DevOverlap(count, exact, near)


def read_dev_questions(paths: Sequence[Path]) -> list[str]:
    """The questions of dev files (JSONL with a string 'question' per line); raises StatsError naming a bad file."""
    questions = []
    for path in paths:
        try:
            questions += [row["question"] for _, row in read_jsonl(path, required=("question",))]
        except JSONLError as err:
            raise StatsError(f"--dev {err}") from None
    return questions


def describe_overlap(overlap: DevOverlap, rows: int) -> list[str]:
    """Report lines: exact and near duplicates of dev questions among the file's rows, with example ids."""
    lines = [f"dev overlap (against {overlap.dev_questions} dev questions):"]
    for name, idents in (("exact duplicates", overlap.exact), ("near duplicates (numbers masked)", overlap.near)):
        share = f" ({100 * len(idents) / rows:.1f}%)" if rows else ""
        shown = f": {', '.join(idents[:_EXAMPLES])}{' ...' if len(idents) > _EXAMPLES else ''}" if idents else ""
        lines.append(f"  {name:<34} {len(idents):>6}{share}{shown}")
    return lines


# ---------------------------------------------------------------------------------------------------------------------
# Report


def _histogram(counts: Counter[Any]) -> list[str]:
    peak = max(counts.values(), default=1)
    ordered = sorted(counts.items(), key=lambda item: (not isinstance(item[0], int), str(item[0]).zfill(8)))
    return [f"  {key!s:>3} {count:>7} {'#' * max(1, round(_BAR_WIDTH * count / peak))}" for key, count in ordered]


def describe_rows(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Report lines: counts per source and expert, and the steps histogram."""
    total = len(rows)
    lines = [f"examples: {total}", "sources:"]
    sources = Counter(str(row.get("source")) for row in rows)
    lines += [f"  {name:<16} {count:>7}" for name, count in sorted(sources.items())]
    lines.append("experts:")
    experts = Counter(str(row.get("expert")) for row in rows)
    lines += [f"  {name:<16} {count:>7} {100 * count / total:5.1f}%" for name, count in sorted(experts.items())]
    lines.append("steps histogram (operation steps: examples):")
    steps = (row.get("steps", "?") for row in rows)  # a list or mapping there (a broken row) counts as its text
    lines += _histogram(Counter(value if isinstance(value, (int, str)) else str(value) for value in steps))
    return lines


def describe_lengths(lengths: TokenLengths, max_lengths: Sequence[int] = MAX_LENGTHS) -> list[str]:
    """Report lines: percentiles of prompt, trace and total tokens, and truncation counts at common max_lengths."""
    if not lengths.total:
        return ["tokens: no examples"]
    lines = ["tokens (chat template applied; total = system + question + trace):"]
    for name, values in (("total", lengths.total), ("prompt", lengths.prompt), ("trace", lengths.completion)):
        cells = "  ".join(f"p{q} {percentile(values, q):>5}" for q in PERCENTILES)
        lines.append(f"  {name:<7} {cells}  max {max(values):>5}")
    for limit in max_lengths:
        over = sum(value > limit for value in lengths.total)
        lines.append(f"  {over} examples > {limit} tokens ({100 * over / len(lengths.total):.1f}%)")
    return lines


# ---------------------------------------------------------------------------------------------------------------------
# CLI


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    """Register `stats` on the trace-solver CLI."""
    parser = subparsers.add_parser(
        "stats",
        help="per-expert counts, steps histogram and token lengths of a dataset",
        description="Statistics of a generate/convert-gsm8k JSONL. With --tokenizer, token-length percentiles of "
        "system+question+trace under the tokenizer's chat template and truncation counts at common max_lengths.",
    )
    parser.add_argument("file", type=Path, help="dataset JSONL")
    parser.add_argument("--tokenizer", help="local model folder or .gguf file whose chat template training uses")
    parser.add_argument("--max-length", type=int, help="also count truncation at this max_length (with --tokenizer)")
    parser.add_argument(
        "--dev",
        type=Path,
        nargs="+",
        default=[],
        metavar="FILE",
        help="dev JSONL files (a 'question' per line, e.g. convert-gsm8k --split dev output): count exact and "
        "near duplicates of their questions in FILE",
    )
    parser.set_defaults(handler=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    """Handler of `trace-solver stats`: print the report, or a one-line error and exit status 1."""
    try:
        pairs = read_jsonl(args.file, required=("question", "trace"))
    except JSONLError as err:
        print(f"trace-solver stats: {err}", file=sys.stderr)
        return 1
    rows = [row for _, row in pairs]
    if args.max_length and not args.tokenizer:
        print("trace-solver stats: --max-length counts tokens, so it needs --tokenizer PATH", file=sys.stderr)
        return 1
    try:
        lines = [f"stats: {args.file}", *describe_rows(rows)]
        if args.tokenizer:
            limits = sorted({*MAX_LENGTHS, *([args.max_length] if args.max_length else [])})
            lines += describe_lengths(token_lengths(rows, load_tokenizer(args.tokenizer)), limits)
        if args.dev:
            idents = [(str(row.get("id") or where), row) for where, row in pairs]
            lines += describe_overlap(dev_overlap(idents, read_dev_questions(args.dev)), len(rows))
    except StatsError as err:
        print(f"trace-solver stats: {err}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0
