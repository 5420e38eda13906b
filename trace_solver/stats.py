"""Statistics of a trace dataset (the JSONL that `generate` and `convert-gsm8k` write).

    trace-solver stats data/gsm8k_train.jsonl [--tokenizer PATH]

Prints the example count per source and per expert, a histogram of operation steps, and, with ``--tokenizer``,
token-length percentiles of system prompt + question + trace rendered with the tokenizer's chat template exactly as
training sees them (``build_messages(question)`` plus the trace as the assistant turn), with how many examples would
be truncated at common ``max_length`` values. The seed lost a whole run to silent truncation at 512 tokens; this is
how to pick ``max_length`` knowing what it cuts.

transformers is imported only when ``--tokenizer`` is given, which must be a local model folder or ``.gguf`` file
(no hub access).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trace_solver.prompt import build_messages

PERCENTILES = (50, 90, 95, 99)
MAX_LENGTHS = (256, 384, 512, 768, 1024, 2048)  # common max_length settings to count truncation against
_BAR_WIDTH = 40


class StatsError(ValueError):
    """The dataset or tokenizer cannot be read; the message is one line naming the file (and line)."""


@dataclass(frozen=True)
class TokenLengths:
    """Tokens per example: the prompt with the generation prompt, the trace after it, and the whole conversation."""

    prompt: list[int]
    completion: list[int]
    total: list[int]


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file (blank lines skipped); raises StatsError naming the bad line."""
    rows = []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise StatsError(f"{path}: cannot read ({err.strerror})") from None
    for number, line in enumerate(text.split("\n"), start=1):  # not splitlines: U+2028 may sit inside a string
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise StatsError(f"{path}:{number}: not JSON ({err.msg})") from None
        if not isinstance(row, dict) or not all(isinstance(row.get(key), str) for key in ("question", "trace")):
            raise StatsError(f"{path}:{number}: expected an object with string 'question' and 'trace'")
        rows.append(row)
    return rows


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
    from transformers import AutoTokenizer  # lazy: only this option needs transformers

    if location.is_file() and location.suffix == ".gguf":  # e.g. the embedded SmolLM2 GGUF
        tokenizer = AutoTokenizer.from_pretrained(location.parent, gguf_file=location.name, local_files_only=True)
    else:
        tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=True)
    if not getattr(tokenizer, "chat_template", None):
        raise StatsError(f"--tokenizer {path}: the tokenizer has no chat template, so training would not render it")
    return tokenizer


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
    lines += _histogram(Counter(row.get("steps", "?") for row in rows))
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
    parser.set_defaults(handler=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    """Handler of `trace-solver stats`: print the report, or a one-line error and exit status 1."""
    try:
        rows = read_rows(args.file)
        lines = [f"stats: {args.file}", *describe_rows(rows)]
        if args.tokenizer:
            lines += describe_lengths(token_lengths(rows, load_tokenizer(args.tokenizer)))
    except StatsError as err:
        print(f"trace-solver stats: {err}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0
