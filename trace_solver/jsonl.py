"""The one JSONL reader and writer of the project: dataset files, converter outputs, evaluation records.

>>> rows = read_jsonl("train.jsonl")          # [("train.jsonl:1", {...}), ...]; blank lines skipped
>>> write_jsonl(row for _, row in rows, "copy.jsonl")   # atomic: a reader never sees half a file

Errors are `JSONLError` with one line naming the file (and line) and what is wrong, so a caller can print it as is.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from trace_solver.files import read_text


class JSONLError(ValueError):
    """A JSONL file cannot be read or written; the message is one line naming where and why."""


def read_jsonl(path: str | os.PathLike[str], *, required: Iterable[str] = ()) -> list[tuple[str, dict[str, Any]]]:
    """`(where, object)` for each non-blank line, `where` being ``"path:line"``.

    `required` names string fields every object must have; a missing one is an error that lists them all. An empty
    file (no object at all) is an error too: every caller would otherwise fail later with a less useful message.
    """
    required = tuple(required)
    text = read_text(path, expected="expected JSONL, one JSON object a line", error=JSONLError)
    rows = []
    for number, line in enumerate(text.split("\n"), start=1):  # not splitlines: U+2028 may sit inside a string
        if not line.strip():
            continue
        where = f"{path}:{number}"
        rows.append((where, parse_line(line, where, required)))
    if not rows:
        raise JSONLError(f"{path}: empty file, expected JSONL with one JSON object a line")
    return rows


def parse_line(line: str, where: str, required: Iterable[str] = ()) -> dict[str, Any]:
    """The JSON object of one JSONL line; raises JSONLError naming `where` (e.g. ``"train.jsonl:3"``).

    For readers that go on past a bad line (a converter counts it as skipped); `read_jsonl` reads a whole file.
    """
    required = tuple(required)
    try:
        row = json.loads(line)
    except json.JSONDecodeError as err:
        raise JSONLError(f"{where}: not JSON ({err.msg}); expected one JSON object a line") from None
    if not isinstance(row, dict):
        raise JSONLError(f"{where}: expected a JSON object, got {type(row).__name__}")
    missing = [key for key in required if not isinstance(row.get(key), str)]
    if missing:
        raise JSONLError(
            f"{where}: missing string field(s) {', '.join(missing)}; expected fields: {', '.join(required)}"
        )
    return row


def write_jsonl(rows: Iterable[Mapping[str, Any]], path: str | os.PathLike[str]) -> int:
    """Write `rows` one JSON object a line (ASCII-escaped), atomically; returns the number of rows written.

    ASCII escapes keep a raw U+2028 in a question from splitting the line for `str.splitlines` readers. A path that
    cannot be written (a folder, no permission) raises JSONLError.
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    count = 0
    try:
        if target.parent != Path():
            target.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row) + "\n")
                count += 1
        os.replace(tmp, target)
    except OSError as err:
        raise JSONLError(f"{path}: cannot write ({err.strerror})") from None
    finally:
        tmp.unlink(missing_ok=True)
    return count
