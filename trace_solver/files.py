"""Reading an input file as UTF-8 text, with one-line refusals that say what was expected.

>>> text = read_text("train.csv", expected="expected a CSV with columns Question, Answer", error=ValueError)

Every reader of the package (JSONL datasets, MAWPS/ASDiv-A CSV) goes through here, so a missing file, a folder, an
unreadable or non-UTF-8 file gets the same message everywhere.
"""

from __future__ import annotations

import os
from pathlib import Path


def read_text(
    path: str | os.PathLike[str], *, expected: str, error: type[Exception] = ValueError, encoding: str = "utf-8"
) -> str:
    """The text of `path`; raises `error` with ``"<path>: <what went wrong>; <expected>"``."""
    try:
        return Path(path).read_text(encoding=encoding)
    except FileNotFoundError:
        raise error(f"{path}: no such file; {expected}") from None
    except IsADirectoryError:
        raise error(f"{path}: is a folder; {expected}") from None
    except UnicodeDecodeError as err:
        raise error(f"{path}: not UTF-8 text (byte {err.start}); {expected}") from None
    except OSError as err:
        raise error(f"{path}: cannot read ({err.strerror}); {expected}") from None
