"""`trace_recipe.mixture`: TRL dataset mixtures of trace, GSM-8K and MAWPS sources, converted, dev-safe, and trained
on through the recipe YAML."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import jsonl_lines, load_script
from trl.scripts.utils import DatasetConfig

from trace_recipe import mixture
from trace_recipe.data import DataError
from trace_recipe.mixture import HubUnreachableError, load_mixture
from trace_solver import gsm8k
from trace_solver.stats import duplicate_keys

FIXTURES = Path(__file__).parent.parent / "fixtures"
GSM8K = str(FIXTURES / "gsm8k_sample.jsonl")
MAWPS = str(FIXTURES / "mawps_sample.csv")

sft = load_script("recipes/sft.py")


def _mixture(*configs: DatasetConfig, **kwargs) -> tuple[object, list[str]]:
    lines: list[str] = []
    return load_mixture(configs, log=lines.append, **kwargs), lines


def _questions(dataset) -> list[str]:
    return [row["prompt"][-1]["content"] for row in dataset]


def _write(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def test_each_format_is_converted_and_logged(dataset_jsonl):
    """A trace JSONL, a GSM-8K JSONL and a MAWPS CSV load together; one log line per source names its format."""
    dataset, lines = _mixture(
        DatasetConfig(path=str(dataset_jsonl)), DatasetConfig(path=GSM8K), DatasetConfig(path=MAWPS)
    )
    assert dataset.column_names == ["prompt", "completion", "answer", "expert"]
    assert [line.split("(")[1].split(")")[0] for line in lines] == ["trace", "gsm8k", "mawps"]
    converted = sum(int(line.split(" converted")[0].rsplit(" ", 1)[1]) for line in lines)
    assert len(dataset) == converted > len(jsonl_lines())


def test_gsm8k_skips_are_counted_not_fatal():
    """GSM-8K problems the converter cannot turn into traces are skipped and counted by reason in the log line."""
    dataset, (line,) = _mixture(DatasetConfig(path=GSM8K))
    assert "30 rows loaded" in line and f"{len(dataset)} converted" in line and len(dataset) < 30
    assert "skipped: none" not in line


def test_fractions_follow_trls_get_dataset_rule(dataset_jsonl):
    """Fractions 1:1 of a 16-row and a larger source keep 16 rows of each (TRL's no-oversampling total)."""
    dataset, lines = _mixture(
        DatasetConfig(path=str(dataset_jsonl), fraction=0.5), DatasetConfig(path=MAWPS, fraction=0.5)
    )
    assert len(dataset) == 32 and all("16 kept" in line for line in lines)


def test_fraction_must_be_set_for_all_or_none(dataset_jsonl):
    """A fraction on one source only is refused in one line."""
    with pytest.raises(DataError, match="every dataset"):
        _mixture(DatasetConfig(path=str(dataset_jsonl), fraction=0.5), DatasetConfig(path=MAWPS))


def test_split_slices_select_rows(dataset_jsonl):
    """`split: train[:4]` keeps the first 4 rows, as `datasets.load_dataset` reads the spec."""
    dataset, _ = _mixture(DatasetConfig(path=str(dataset_jsonl), split="train[:4]"))
    assert _questions(dataset) == [row["question"] for row in jsonl_lines()[:4]]


def test_dev_questions_are_never_trained_on(monkeypatch, dataset_jsonl, tmp_path):
    """With the whole GSM-8K train split, its last DEV_SIZE problems (and any other source's row repeating one) are
    dropped and counted."""
    monkeypatch.setattr(gsm8k, "DEV_SIZE", 10)  # the fixture's last 5 problems do not convert
    dev = [json.loads(line)["question"] for line in Path(GSM8K).read_text().splitlines()[-10:]]
    repeat = _write(tmp_path / "repeat.jsonl", [{**jsonl_lines()[0], "question": dev[0]}, jsonl_lines()[1]])
    dataset, lines = _mixture(DatasetConfig(path=GSM8K), DatasetConfig(path=repeat))
    dev_keys = {duplicate_keys(question)[0] for question in dev}
    assert not dev_keys & {duplicate_keys(question)[0] for question in _questions(dataset)}
    assert "dev_question" in lines[0] and "dev_question 1" in lines[1]


def test_excluding_slice_gives_the_same_rows_as_the_safety_net(monkeypatch):
    """`train[:-DEV_SIZE]` and the whole `train` split train on the same problems."""
    monkeypatch.setattr(gsm8k, "DEV_SIZE", 10)
    whole, _ = _mixture(DatasetConfig(path=GSM8K, split="train"))
    sliced, _ = _mixture(DatasetConfig(path=GSM8K, split="train[:-10]"))
    assert _questions(whole) == _questions(sliced)


def test_variants_are_added_to_real_rows_only(dataset_jsonl):
    """num_variants adds verified variants of converted GSM-8K problems; generated (synthetic) rows get none."""
    synthetic = [{**row, "source": "synthetic"} for row in jsonl_lines()]
    base, _ = _mixture(DatasetConfig(path=GSM8K), extra_rows=synthetic)
    more, lines = _mixture(DatasetConfig(path=GSM8K), extra_rows=synthetic, num_variants=2, seed=1)
    added = int(lines[0].split(", ")[-1].split(" variants")[0])
    assert added > 0 and len(more) == len(base) + added


def test_missing_local_file_is_one_line(tmp_path):
    """A local path that does not exist is named, not tried as a hub id."""
    with pytest.raises(DataError, match=r"nowhere\.jsonl: file not found") as info:
        _mixture(DatasetConfig(path=str(tmp_path / "nowhere.jsonl")))
    assert "\n" not in str(info.value)


def test_unknown_columns_list_the_accepted_sets(tmp_path):
    """A chat dataset (TRL's Capybara has `messages`) is refused, naming the column sets that convert."""
    path = _write(tmp_path / "chat.jsonl", [{"messages": [{"role": "user", "content": "hi"}]}])
    with pytest.raises(DataError, match="fit no converter") as info:
        _mixture(DatasetConfig(path=path))
    assert "Question, Numbers, Equation, Answer" in str(info.value) and "#### n" in str(info.value)


def test_bad_trace_row_names_file_and_line(tmp_path):
    """A trace row that does not execute to its answer stops loading with file:line."""
    rows = jsonl_lines()[:3]
    rows[2] = {**rows[2], "answer": "999"}
    path = _write(tmp_path / "bad.jsonl", rows)
    with pytest.raises(DataError, match=r"bad\.jsonl:3: trace gives"):
        _mixture(DatasetConfig(path=path))


def test_unreachable_hub_says_what_to_download(monkeypatch):
    """A hub id without a reachable hub fails at once, saying which file to download and where to pass it."""
    monkeypatch.setattr(mixture, "hub_reachable", lambda timeout=0: False)
    with pytest.raises(HubUnreachableError, match="cannot reach the Hugging Face hub for openai/gsm8k") as info:
        _mixture(DatasetConfig(path="openai/gsm8k"))
    assert "train.jsonl" in str(info.value) and "--dataset_name" in str(info.value)


def test_hub_id_is_loaded_as_trl_loads_it(monkeypatch):
    """A hub id goes to `datasets.load_dataset(path, name, ...)` (openai/gsm8k defaulting to its `main` config) and
    the rows are converted by format."""
    import datasets

    calls = []
    real = datasets.load_dataset

    def stand_in(path, name=None, data_dir=None, data_files=None, split=None, **kwargs):
        calls.append((path, name, split))
        return real("json", data_files=GSM8K, split=split)

    monkeypatch.setattr(mixture, "hub_reachable", lambda timeout=0: True)
    monkeypatch.setattr(datasets, "load_dataset", stand_in)
    dataset, (line,) = _mixture(DatasetConfig(path="openai/gsm8k", split="train[:10]"))
    assert calls == [("openai/gsm8k", "main", "train")] and "(gsm8k): 10 rows loaded" in line and len(dataset) > 0


def test_dataset_name_is_a_one_source_mixture(tmp_path):
    """`--dataset_name FILE` trains on that file converted by its format (not on synthetic data)."""
    script_args, _, _ = sft.make_parser().parse_args_and_config(
        args=["--output_dir", str(tmp_path), "--dataset_name", MAWPS, "--do_final_eval", "false"]
    )
    train, evaluation = script_args.load_datasets(str(tmp_path))
    assert evaluation is None and script_args.num_train_examples == 0
    assert "Bryan" in _questions(train)[0]


def test_generated_rows_are_added_to_a_mixture_when_asked(tmp_path):
    """num_train_examples with `datasets:` adds that many generated rows on top of the sources."""
    config = tmp_path / "recipe.yaml"
    config.write_text(f"datasets:\n  - path: {MAWPS}\n    split: train[:3]\nnum_train_examples: 5\n")
    script_args, _, _ = sft.make_parser().parse_args_and_config(
        args=["--config", str(config), "--output_dir", str(tmp_path), "--do_final_eval", "false"]
    )
    train, _ = script_args.load_datasets(str(tmp_path))
    assert len(train) == 3 + 5


@pytest.mark.slow
def test_three_dataset_recipe_trains_a_tiny_model(tiny_model_dir, dataset_jsonl, tmp_path):
    """A recipe YAML mixing a trace JSONL, GSM-8K and MAWPS with fractions trains the tiny model for a few steps."""
    config = tmp_path / "recipe.yaml"
    config.write_text(
        "datasets:\n"
        f"  - path: {dataset_jsonl}\n    fraction: 0.5\n"
        f"  - path: {GSM8K}\n    fraction: 0.25\n"
        f"  - path: {MAWPS}\n    split: train[:-4]\n    fraction: 0.25\n"
        f"model_name_or_path: {tiny_model_dir}\noutput_dir: {tmp_path / 'run'}\n"
        "max_steps: 3\nper_device_train_batch_size: 4\nlearning_rate: 1.0e-2\nlogging_steps: 1\nsave_strategy: 'no'\n"
        "report_to: none\nnum_unfrozen_layers: 2\ndo_final_eval: false\ndisable_tqdm: true\nallow_truncation: true\n"
    )
    trainer = sft.main(*sft.make_parser().parse_args_and_config(args=["--config", str(config)]))
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert len(trainer.train_dataset) == 32 and len(losses) == 3


def test_misspelt_mixture_key_is_refused_when_parsed():
    """A `datasets:` entry with an unknown key is refused in one line listing the keys an entry takes."""
    from trace_recipe.configs import SFTScriptArguments

    with pytest.raises(ValueError, match="datasets entry 1: unknown key 'pth'; an entry takes path, name"):
        SFTScriptArguments(datasets=[{"pth": "x.jsonl"}])


def test_mawps_dev_rows_are_dropped_from_the_whole_split(monkeypatch):
    """With the whole MAWPS split, its last DEV_SIZE rows never reach training and are counted as dev questions."""
    from trace_solver import mawps

    monkeypatch.setattr(mawps, "DEV_SIZE", 5)
    whole, (line,) = _mixture(DatasetConfig(path=MAWPS))
    sliced, _ = _mixture(DatasetConfig(path=MAWPS, split="train[:-5]"))
    assert "dev_question" in line and _questions(whole) == _questions(sliced)


def test_local_folder_laid_out_like_a_hub_repo_loads(tmp_path):
    """A folder holding train.jsonl (a downloaded dataset repo) is read by `datasets` like the hub id would be."""
    folder = tmp_path / "gsm8k"
    folder.mkdir()
    (folder / "train.jsonl").write_text(Path(GSM8K).read_text(), encoding="utf-8")
    from_folder, _ = _mixture(DatasetConfig(path=str(folder)))
    from_file, _ = _mixture(DatasetConfig(path=GSM8K))
    assert _questions(from_folder) == _questions(from_file)
