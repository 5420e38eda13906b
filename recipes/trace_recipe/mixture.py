"""Training data from a TRL dataset mixture: hub ids or local files in any of three formats, converted to traces.

    # recipe YAML (TRL's DatasetMixtureConfig, as `trl/scripts/sft.py` reads it)
    datasets:
      - path: openai/gsm8k            # hub id (name: main) or a local .jsonl/.json/.csv/.parquet file or folder
        name: main
        split: train[:-500]           # the last 500 problems are this project's GSM-8K dev split
        fraction: 0.5
      - path: data/mawps-asdiv-a/train.csv
        split: train[:-300]           # the last 300 rows are the MAWPS/ASDiv-A dev split
        fraction: 0.25
      - path: data/synthetic.jsonl    # `trace-solver generate` rows
        fraction: 0.25

Each source is read with `datasets.load_dataset(path, name, data_dir, data_files, split)` as TRL's `get_dataset`
reads it (a local file path picks the json/csv/parquet builder), then converted by the format its columns show:

    question, trace, answer[, expert]             trace rows: every row must execute to its answer (else one-line
                                                  error naming file:line / source:row)
    question, answer ("... #### 18")              GSM-8K: `trace_solver.gsm8k.convert_problem`; rows it cannot
                                                  convert are skipped and counted by reason
    Question, Numbers, Equation, Answer           MAWPS/ASDiv-A: `trace_solver.mawps.convert_row`; skips counted

Dev questions are never trained on: when a GSM-8K or MAWPS source's whole split is larger than its dev split
(`gsm8k.DEV_SIZE`, `mawps.DEV_SIZE` last rows), those rows' questions are collected and every training row, of any
source, that repeats one is dropped and counted (so `split: train` is safe too; `train[:-500]` just skips the work).
`fraction` then applies to the converted rows exactly as in TRL's `get_dataset`, and `num_variants` adds numeric
variants (`trace_solver.augment`) of the kept real rows (every row whose `source` is not "synthetic"), so a source
with variants contributes about (1 + K) times its share.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trace_recipe.data import DataError, trace_example

if TYPE_CHECKING:
    from datasets import Dataset
    from trl.scripts.utils import DatasetConfig

logger = logging.getLogger("trace_recipe")

TRACE, GSM8K, MAWPS = "trace", "gsm8k", "mawps"
# Column sets each converter reads, in the order formats are tried (a trace file also has question/answer).
FORMAT_COLUMNS: dict[str, tuple[str, ...]] = {
    TRACE: ("question", "trace", "answer"),
    MAWPS: ("Question", "Numbers", "Equation", "Answer"),
    GSM8K: ("question", "answer"),
}
FILE_BUILDERS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
DEFAULT_CONFIGS = {"openai/gsm8k": "main"}  # hub datasets with several configs: the one used when `name` is unset
HUB_TIMEOUT_S = 5.0  # seconds to wait for the hub before saying it cannot be reached (datasets retries for ~25 s)
SKIP_DEV_QUESTION = "dev_question"  # a training row whose question is a dev question
# Where to get a known dataset by hand when the hub cannot be reached.
DOWNLOAD_HINTS = {
    "openai/gsm8k": "download train.jsonl from https://github.com/openai/grade-school-math "
    "(grade_school_math/data/) or main/train-00000-of-00001.parquet from https://huggingface.co/datasets/openai/gsm8k",
}


class HubUnreachableError(DataError):
    """A hub id was given but the Hugging Face hub cannot be reached; the message says what to download instead."""


@dataclass
class SourceReport:
    """What became of one source: rows read, converted, skipped by reason, dropped as dev questions, variants."""

    name: str
    format: str = ""
    loaded: int = 0
    converted: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    kept: int = 0  # after `fraction`
    variants: int = 0

    def line(self) -> str:
        skipped = ", ".join(f"{code} {count}" for code, count in self.skipped.most_common()) or "none"
        return (
            f"{self.name} ({self.format}): {self.loaded} rows loaded, {self.converted} converted, skipped: {skipped}; "
            f"{self.kept} kept, {self.variants} variants added"
        )


def accepted_columns() -> str:
    """The column sets a source may have, for error messages."""
    return "; ".join(
        [
            "question, trace, answer[, expert] (trace-solver generate)",
            "question, answer with '#### n' (GSM-8K)",
            "Question, Numbers, Equation, Answer (MAWPS/ASDiv-A)",
        ]
    )


def detect_format(columns: Sequence[str], name: str) -> str:
    """trace, mawps or gsm8k from a source's columns; DataError listing the accepted sets when none fits."""
    for fmt, required in FORMAT_COLUMNS.items():
        if set(required) <= set(columns):
            return fmt
    raise DataError(
        f"{name}: columns {', '.join(columns) or '(none)'} fit no converter; accepted: {accepted_columns()}"
    )


# ---------------------------------------------------------------------------------------------------------------------
# Reading a source


def hub_reachable(timeout: float = HUB_TIMEOUT_S) -> bool:
    """Whether a TCP connection to the hub endpoint opens within `timeout` (False in offline mode)."""
    import socket
    from urllib.parse import urlparse

    import datasets
    from huggingface_hub import constants

    if datasets.config.HF_HUB_OFFLINE:
        return False
    url = urlparse(constants.ENDPOINT)
    try:
        socket.create_connection((url.hostname, url.port or 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def is_local(path: str) -> bool:
    """A path that names (or looks like it names) something on disk rather than a hub id."""
    suffix = os.path.splitext(path)[1].lower()
    return os.path.exists(path) or suffix in FILE_BUILDERS or path.startswith((".", "/", "~")) or path.count("/") > 1


def _unreachable(path: str) -> HubUnreachableError:
    hint = DOWNLOAD_HINTS.get(path, f"download its data files from https://huggingface.co/datasets/{path}")
    return HubUnreachableError(
        f"cannot reach the Hugging Face hub for {path}: {hint} and pass the local path as `path:` "
        "(datasets) or --dataset_name"
    )


def load_split(config: DatasetConfig, split: str) -> Dataset:
    """One whole split of a source through `datasets.load_dataset`, as TRL's `get_dataset` calls it."""
    import datasets

    path, data_files = os.path.expanduser(config.path), config.data_files
    options: dict[str, Any] = {}
    local = is_local(path)
    if local and not os.path.exists(path):
        raise DataError(f"{config.path}: file not found; give a .jsonl, .json, .csv or .parquet file, or a hub id")
    if local and os.path.isfile(path):
        builder = FILE_BUILDERS.get(os.path.splitext(path)[1].lower())
        if builder is None:
            raise DataError(f"{config.path}: unknown file type; give a .jsonl, .json, .csv or .parquet file")
        path, data_files = builder, path
        if builder == "csv":  # cells as written: the converters read "0.8333333333333334" and "5.50" exactly
            options["features"] = _text_features(data_files)
    if not local and not datasets.config.HF_HUB_OFFLINE and not hub_reachable():
        raise _unreachable(config.path)
    try:
        dataset = datasets.load_dataset(
            path=path,
            name=config.name or DEFAULT_CONFIGS.get(config.path),
            data_dir=config.data_dir,
            data_files=data_files,
            split=split,
            **options,
        )
    except ConnectionError:
        raise _unreachable(config.path) from None
    except (ValueError, FileNotFoundError, OSError) as err:  # unknown split or config, unreadable file
        message = " ".join(str(err).split())[:300]
        raise DataError(f"{config.path}: cannot load split {split!r} ({message})") from None
    if config.columns is not None:
        dataset = dataset.select_columns(config.columns)
    return dataset


def _text_features(path: str) -> Any:
    """Every column of a CSV file as a string feature (the header names the columns)."""
    import csv

    from datasets import Features, Value

    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"{path}: cannot read the CSV header ({err})") from None
    return Features({column: Value("string") for column in header})


def split_rows(config: DatasetConfig) -> tuple[dict[str, list[dict[str, Any]]], list[tuple[str, int]]]:
    """Every whole split the `split` string names (e.g. `train[:-500]` names `train`), and the (split, index) pairs
    it selects, resolved with `datasets.ReadInstruction` as `load_dataset` resolves it."""
    from datasets import ReadInstruction

    try:
        instruction = ReadInstruction.from_spec(config.split)
    except (ValueError, AssertionError) as err:
        raise DataError(f"{config.path}: split {config.split!r} is not a split spec ({err})") from None
    names = list(dict.fromkeys(part.splitname for part in instruction._relative_instructions))
    whole = {name: load_split(config, name).to_list() for name in names}
    try:
        ranges = instruction.to_absolute({name: len(rows) for name, rows in whole.items()})
    except (ValueError, AssertionError) as err:
        raise DataError(f"{config.path}: split {config.split!r} ({err})") from None
    return whole, [(part.splitname, index) for part in ranges for index in range(part.from_, part.to)]


def _line_numbers(path: str) -> list[int] | None:
    """1-based line number of each non-blank line of a local JSONL file (the rows `datasets` reads), else None."""
    if os.path.splitext(path)[1].lower() != ".jsonl" or not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return [number for number, line in enumerate(handle, 1) if line.strip()]


def _text(value: Any) -> str:
    """A CSV/parquet cell as the converters read it: floats that are integers without '.0'."""
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


# ---------------------------------------------------------------------------------------------------------------------
# Converting


def dev_keys(fmt: str, rows: Sequence[Mapping[str, Any]]) -> set[str]:
    """Question keys of a whole split's dev rows (its last DEV_SIZE), or none when the split is not larger."""
    from trace_solver import gsm8k, mawps
    from trace_solver.stats import duplicate_keys

    if fmt == GSM8K and len(rows) > gsm8k.DEV_SIZE:
        return {duplicate_keys(_text(row.get("question")))[0] for row in rows[-gsm8k.DEV_SIZE :]}
    if fmt == MAWPS and len(rows) > mawps.DEV_SIZE:
        return mawps.dev_question_keys([{k: _text(v) for k, v in row.items()} for row in rows], mawps.DEV_SIZE)
    return set()


def convert(fmt: str, row: Mapping[str, Any], ident: str, where: str) -> dict[str, Any]:
    """One source row as a dataset line; a trace row must be valid (DataError), others raise ConversionSkip."""
    from trace_solver import gsm8k, mawps
    from trace_solver.gsm8k import ConversionSkip

    if fmt == TRACE:
        trace_example(row, where)  # validates: executes to its answer under its expert
        return {"id": ident, "source": "trace", **row}
    if fmt == GSM8K:
        question, solution = row.get("question"), row.get("answer")
        if not isinstance(question, str) or not isinstance(solution, str):
            raise ConversionSkip(gsm8k.SKIP_BAD_LINE, "question and answer must be strings")
        return gsm8k.convert_problem(question, solution, ident)
    return mawps.convert_row({key: _text(value) for key, value in row.items()}, ident)


@dataclass
class Source:
    """One mixture entry after conversion."""

    config: Any
    report: SourceReport
    rows: list[dict[str, Any]]
    dev: set[str]


def read_source(config: DatasetConfig) -> Source:
    """Load and convert one mixture entry (rows not yet checked against other sources' dev questions)."""
    from trace_solver.gsm8k import ConversionSkip

    whole, selected = split_rows(config)
    columns = next(iter(whole.values()))[0].keys() if any(whole.values()) else ()
    fmt = detect_format(list(columns), config.path)
    lines = _line_numbers(os.path.expanduser(config.path))
    report = SourceReport(name=f"{config.path} [{config.split}]", format=fmt, loaded=len(selected))
    dev = set().union(*(dev_keys(fmt, rows) for split, rows in whole.items() if split == "train"))
    rows = []
    for split, index in selected:
        where = f"{config.path}:{lines[index]}" if lines else f"{config.path} ({split} row {index})"
        try:
            rows.append(convert(fmt, whole[split][index], f"{fmt}-{split}-{index:05d}", where))
        except ConversionSkip as skip:
            report.skipped[skip.code] += 1
    report.converted = len(rows)
    return Source(config, report, rows, dev)


def apply_fractions(sources: Sequence[Source]) -> None:
    """TRL's `get_dataset` fraction rule on the converted rows (trl/scripts/utils.py): fractions are normalised to
    weights, `total` is the largest mixture size that oversamples no source, each keeps its first round(w * total)."""
    fractions = [source.config.fraction for source in sources]
    if all(fraction is None for fraction in fractions):
        return
    if any(fraction is None for fraction in fractions):
        raise DataError("datasets: set `fraction` for every dataset of the mixture or for none of them")
    weights = [fraction / sum(fractions) for fraction in fractions]
    total = min(len(source.rows) / weight for source, weight in zip(sources, weights, strict=True) if weight > 0)
    for source, weight in zip(sources, weights, strict=True):
        source.rows = source.rows[: round(weight * total)]


def load_mixture(
    configs: Sequence[DatasetConfig],
    *,
    num_variants: int = 0,
    seed: int = 0,
    extra_rows: Sequence[Mapping[str, Any]] = (),
    log: Callable[[str], None] = logger.info,
) -> Dataset:
    """The training set of a mixture: converted sources, dev questions dropped, fractions, variants, `extra_rows`
    (e.g. generated ones) appended; one log line per source. Raises DataError (one line) for unusable input."""
    from trace_recipe.data import rows_to_dataset
    from trace_solver.augment import augment_rows
    from trace_solver.stats import duplicate_keys

    sources = [read_source(config) for config in configs]
    dev = set().union(*(source.dev for source in sources))
    for source in sources:
        kept = [row for row in source.rows if duplicate_keys(row["question"])[0] not in dev]
        if len(kept) < len(source.rows):
            source.report.skipped[SKIP_DEV_QUESTION] += len(source.rows) - len(kept)
        source.rows = kept
    apply_fractions(sources)
    rows: list[Mapping[str, Any]] = []
    for source in sources:
        source.report.kept = len(source.rows)
        rows += source.rows
        real = [row for row in source.rows if row.get("source") != "synthetic"]  # generated rows need no variants
        if num_variants > 0 and real:
            variants, _ = augment_rows(real, num_variants, seed)
            source.report.variants = len(variants)
            rows += variants
        log(source.report.line())
    rows += list(extra_rows)
    if not rows:
        raise DataError("datasets: the mixture has no rows after conversion")
    return rows_to_dataset(rows)
