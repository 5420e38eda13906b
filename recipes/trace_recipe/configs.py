"""Script arguments for `recipes/sft.py` and `recipes/rl.py`, and the trainer configs with device-aware defaults.

`TrlParser((SFTScriptArguments, TraceSFTConfig, ModelConfig))` turns these into flags; `--config recipe.yaml`
supplies defaults and flags override them. Field names must not collide across the three dataclasses, which is why
the generator's step bounds are `min_trace_steps`/`max_trace_steps` (`max_steps` belongs to the trainer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trl import DatasetMixtureConfig, RLOOConfig, ScriptArguments, SFTConfig

if TYPE_CHECKING:
    from datasets import Dataset

EMBEDDED_MODEL = "embedded:SmolLM2-135M-Instruct"


@dataclass
class TraceScriptArguments(ScriptArguments, DatasetMixtureConfig):
    """Where the training data comes from, which layers train, how non-finite steps are handled, and what happens
    after training.

    Training data, first that applies: `datasets:` (TRL's DatasetMixtureConfig, converted by format: see
    trace_recipe/mixture.py) plus `num_train_examples` synthetic rows; else `--dataset_name` (hub id or local file,
    converted the same way, split `--dataset_train_split`); else `--dataset_path` (a trace JSONL); else
    `num_train_examples` synthetic rows.
    """

    dataset_path: str | None = field(
        default=None,
        metadata={"help": "JSONL from `trace-solver generate` or `convert-gsm8k`. If unset, examples are generated."},
    )
    num_train_examples: int | None = field(
        default=None,
        metadata={
            "help": "Synthetic examples generated. Default: 250 when no dataset is given; with `datasets:` that many "
            "are added to the mixture (default 0: none); ignored with --dataset_name or --dataset_path."
        },
    )
    num_variants: int = field(
        default=0,
        metadata={
            "help": "Numeric variants (trace_solver.augment, seeded by generator_seed) added per real problem of "
            "`datasets:`/--dataset_name; generated rows get none. 0: none."
        },
    )
    generator_seed: int = field(default=0, metadata={"help": "Seed of the synthetic generator (training set)."})
    min_trace_steps: int = field(default=1, metadata={"help": "Fewest operation steps in a generated trace."})
    max_trace_steps: int = field(default=3, metadata={"help": "Most operation steps in a generated trace."})
    experts: list[str] | None = field(default=None, metadata={"help": "Experts to generate for (default: all)."})
    num_unfrozen_layers: int = field(
        default=6, metadata={"help": "Last decoder layers left trainable; the rest of the model is frozen."}
    )
    train_lm_head: bool = field(default=True, metadata={"help": "Train lm_head."})
    untie_lm_head: bool = field(
        default=True,
        metadata={"help": "Give a tied lm_head its own copy; false trains the shared input embeddings with it."},
    )
    allow_truncation: bool = field(
        default=False, metadata={"help": "Train even if some examples exceed max_length (TRL truncates silently)."}
    )
    max_nonfinite_grad_steps: int = field(
        default=3,
        metadata={
            "help": "Optimizer steps with nan/inf gradients are skipped; this many in a row are tolerated, one more "
            "stops training (0: stop at the first)."
        },
    )
    save_every_minutes: float | None = field(
        default=None,
        metadata={
            "help": "Also save a checkpoint whenever this many minutes have passed since the last one. Default: 20 "
            "on a host without GPUs, off on a GPU; 0: off."
        },
    )
    do_final_eval: bool = field(default=True, metadata={"help": "Evaluate the trained model at the end."})
    eval_dataset_path: str | None = field(
        default=None, metadata={"help": "JSONL for the final evaluation. If unset, a held-out set is generated."}
    )
    num_eval_examples: int = field(default=248, metadata={"help": "Size of the generated final-evaluation set."})
    eval_sets: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Named sets for the final evaluation, in place of the generated held-out set (eval_dataset_path "
            "is still evaluated): gsm8k_dev (needs gsm8k_path), mawps_dev (needs mawps_path), synthetic, "
            "synthetic_templates, long_chains (trace_recipe/eval_sets.py); table in <output_dir>/eval_sets.md."
        },
    )
    gsm8k_path: str | None = field(
        default=None, metadata={"help": "GSM-8K train for eval set gsm8k_dev: a local file or the hub id openai/gsm8k."}
    )
    mawps_path: str | None = field(default=None, metadata={"help": "MAWPS/ASDiv-A train.csv for eval set mawps_dev."})
    eval_max_new_tokens: int = field(default=512, metadata={"help": "Token budget of one evaluation trace."})

    def __post_init__(self) -> None:
        check_dataset_entries(self.datasets)  # before DatasetMixtureConfig turns them into DatasetConfig
        parent = getattr(super(), "__post_init__", None)  # TRL's ScriptArguments has none in some versions
        if parent is not None:
            parent()
        from trace_recipe.nan_guards import check_max_nonfinite_grad_steps

        check_max_nonfinite_grad_steps(self.max_nonfinite_grad_steps)  # refused when parsed, before the model loads
        from trace_recipe.eval_sets import check_eval_sets

        check_eval_sets(self.eval_sets, self.gsm8k_path, self.mawps_path)
        if self.dataset_path and (self.datasets or self.dataset_name):  # one source of training data, not two
            other = "datasets:" if self.datasets else "--dataset_name"
            raise ValueError(f"--dataset_path and {other} both name training data: keep one")
        if self.num_train_examples is None:  # 250 generated alone; none added to a given dataset unless asked
            given = self.datasets or self.dataset_name or self.dataset_path
            self.num_train_examples = 0 if given else 250

    def load_datasets(self, output_dir: str) -> tuple[Dataset, Dataset | None]:
        """The training set and, with `do_final_eval`, the evaluation set, both loaded before any training.

        Generated sets come from `generate_splits` (the evaluation set never repeats a training question) and are
        kept as `<output_dir>/{train,eval}.jsonl`; the same seed gives the same sets in SFT and RL.
        """
        train_path, eval_path = self.dataset_path, self.eval_dataset_path
        real_data = bool(self.datasets or self.dataset_name)
        held_out = self.do_final_eval and (eval_path is not None or not self.eval_sets)  # eval_sets replace it
        if (train_path is None and not real_data) or (eval_path is None and held_out) or self.datasets:
            generated = _generate_splits(self, output_dir)
            train_path, eval_path = train_path or generated[0], eval_path or generated[1]
        if real_data:
            train = _load_mixture(self, generated[0] if self.datasets and self.num_train_examples else None)
        else:
            train = _load_trace_dataset(train_path)
        evaluation = _load_trace_dataset(eval_path) if held_out else None
        return train, evaluation

    def load_eval_sets(self) -> dict[str, Dataset]:
        """The named `eval_sets` for the final evaluation (none without `do_final_eval`), loaded before training so
        that a missing file stops the run at once. `synthetic` is the held-out set the generator makes for training."""
        if not self.do_final_eval:
            return {}
        from trace_recipe.eval_sets import load_eval_set_for

        return {name: load_eval_set_for(name, self) for name in self.eval_sets}


@dataclass
class SFTScriptArguments(TraceScriptArguments):
    """Arguments of `recipes/sft.py` beyond TRL's `SFTConfig` and `ModelConfig`."""


@dataclass
class RLScriptArguments(TraceScriptArguments):
    """Arguments of `recipes/rl.py`: the SFT data options plus the rewards."""

    reward_funcs: list[str] = field(
        default_factory=lambda: ["trace"],
        metadata={
            "help": "Rewards, resolved by `rewards.get_reward_funcs`: trace, parse, expert, correctness, or a dotted "
            "import path (`my_lib.rewards.my_reward`) as in TRL's own scripts."
        },
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        from rewards import get_reward_funcs

        get_reward_funcs(self.reward_funcs)  # an unknown name is refused when parsed, before the model loads
        if self.dev_eval_set and self.dev_eval_steps <= 0:
            raise ValueError("--dev_eval_set needs --dev_eval_steps N (log dev accuracy every N steps)")

    # Prompt filter (trace_recipe/prompt_filter.py): RLOO learns only from prompts whose sampled rewards differ
    filter_num_samples: int = field(
        default=0,
        metadata={
            "help": "Before RL, sample this many completions per candidate prompt (at the RL temperature) and keep "
            "only prompts whose rewards vary; counts go to <output_dir>/prompt_filter.json. 0: train on all prompts."
        },
    )
    filter_max_prompts: int | None = field(
        default=None,
        metadata={"help": "Candidate prompts the filter scores, taken in a seeded random order (default: all)."},
    )
    filter_batch_size: int = field(default=256, metadata={"help": "Prompts the filter samples together."})
    # Dev accuracy during RL (trace_recipe/dev_eval.py)
    dev_eval_set: str | None = field(
        default=None,
        metadata={
            "help": "Named evaluation set (as in eval_sets, e.g. gsm8k_dev with gsm8k_path) whose greedy accuracy is "
            "logged during RL as dev/accuracy."
        },
    )
    dev_eval_steps: int = field(
        default=0,
        metadata={"help": "Log dev/accuracy before training, every this many steps and at the end (0: off)."},
    )
    dev_eval_examples: int | None = field(
        default=200, metadata={"help": "Rows of the dev set decoded each time (its first N; None: all)."}
    )

    def load_dev_dataset(self) -> Dataset | None:
        """The first `dev_eval_examples` rows of `dev_eval_set` (loaded as the final evaluation loads its sets), or
        None when dev evaluation is off."""
        if self.dev_eval_steps <= 0:
            return None
        from trace_recipe.eval_sets import EVAL_SETS, EvalSetError, load_eval_set_for

        if self.dev_eval_set is None:
            raise EvalSetError(f"--dev_eval_steps needs --dev_eval_set: one of {', '.join(EVAL_SETS)}")
        dev = load_eval_set_for(self.dev_eval_set, self)
        if self.dev_eval_examples is not None:
            dev = dev.select(range(min(self.dev_eval_examples, len(dev))))
        return dev


def has_accelerator() -> bool:
    """Whether this host has a GPU (CUDA, MPS or XPU); without one, `accelerate launch` ranks need `cpu=True` to
    form a gloo group instead of each running alone."""
    import torch

    return torch.cuda.is_available() or torch.backends.mps.is_available() or torch.xpu.is_available()


def fill_device_defaults(config: Any) -> None:
    """Fill `use_cpu`, `bf16`, `tf32` and gradient checkpointing when left unset: bf16 and checkpointing on for a
    CUDA GPU (tf32 from Ampere on), off on CPU; `use_cpu` on when the host has no accelerator.

    TRL turns both on everywhere; on CPU bf16 fails without `use_cpu` and checkpointing only costs time. Values the
    user set (flag or YAML) are kept: the fields default to None so that "unset" can be told apart.
    """
    import torch

    if not has_accelerator():
        # Without use_cpu, ranks started by `accelerate launch`/torchrun on a CPU-only host do not join a gloo group
        # and each trains alone; with it they form MULTI_CPU data parallelism.
        config.use_cpu = True
    on_gpu = torch.cuda.is_available() and not config.use_cpu
    if config.ddp_find_unused_parameters is None:
        # Frozen parameters are outside DDP's reducer and every trainable one is used, so skip the extra graph walk
        config.ddp_find_unused_parameters = False
    if config.bf16 is None:
        config.bf16 = on_gpu and not config.fp16 and torch.cuda.is_bf16_supported()
    if config.tf32 is None:  # the fp32 matmuls outside bf16 autocast (and all of them with bf16 off) on tensor cores
        config.tf32 = on_gpu and torch.cuda.get_device_capability()[0] >= 8
    # transformers >= 5.18 renamed gradient_checkpointing to activation_checkpointing (the old name mirrors the new).
    new_name = "activation_checkpointing" if hasattr(config, "activation_checkpointing") else None
    explicit = config.gradient_checkpointing
    if explicit is None and new_name is not None:
        explicit = getattr(config, new_name)
    value = on_gpu if explicit is None else explicit
    if new_name is not None:
        setattr(config, new_name, value)
        config.gradient_checkpointing = None  # avoids the deprecation warning; __post_init__ mirrors the new name
    else:
        config.gradient_checkpointing = value


_BF16_HELP = "bf16 mixed precision. Default: on for a CUDA GPU, off on CPU."
_TF32_HELP = "TF32 tensor cores for fp32 matmuls. Default: on for an Ampere or newer CUDA GPU, off elsewhere."
_CHECKPOINTING_HELP = "Gradient checkpointing. Default: on for a CUDA GPU, off on CPU."
_CUDNN_ATTENTION_HELP = (
    "Let attention use cuDNN's SDPA kernels. Default off: cuDNN plans every new sequence length on the host, which "
    "made length-grouped training host-bound; the flash and memory-efficient kernels are used instead."
)


@dataclass
class TraceSFTConfig(SFTConfig):
    """TRL's `SFTConfig` with device-aware `bf16`/checkpointing defaults, a count of real (non-padding) tokens for
    the throughput figures, and `group_by_length` on every transformers version."""

    bf16: bool | None = field(default=None, metadata={"help": _BF16_HELP})
    tf32: bool | None = field(default=None, metadata={"help": _TF32_HELP})
    cudnn_attention: bool = field(default=False, metadata={"help": _CUDNN_ATTENTION_HELP})
    gradient_checkpointing: bool | None = field(default=None, metadata={"help": _CHECKPOINTING_HELP})
    include_num_input_tokens_seen: str = field(
        default="non_padding",
        metadata={"help": "Count input tokens: non_padding (default; feeds train_real_tokens_per_second), all, or no."},
    )
    group_by_length: bool = field(
        default=False,
        metadata={"help": "Batch examples of similar length together, so that little of a batch is padding."},
    )

    def __post_init__(self) -> None:
        fill_device_defaults(self)
        # transformers >= 5.18 spells it train_sampling_strategy; older versions read group_by_length itself
        if self.group_by_length and hasattr(self, "train_sampling_strategy"):
            self.train_sampling_strategy = "group_by_length"
        super().__post_init__()


@dataclass
class TraceRLOOConfig(RLOOConfig):
    """TRL's `RLOOConfig` with device-aware defaults and 8 generations per prompt.

    The graduated trace reward has few tiers, so with TRL's 2 generations both samples often tie and the prompt
    gets zero advantage (`frac_reward_zero_std` in the logs shows how often).
    """

    bf16: bool | None = field(default=None, metadata={"help": _BF16_HELP})
    tf32: bool | None = field(default=None, metadata={"help": _TF32_HELP})
    cudnn_attention: bool = field(default=False, metadata={"help": _CUDNN_ATTENTION_HELP})
    gradient_checkpointing: bool | None = field(default=None, metadata={"help": _CHECKPOINTING_HELP})
    num_generations: int | None = field(default=8, metadata={"help": "Completions sampled per prompt."})
    generation_backend: str = field(
        default="auto",
        metadata={
            "help": "How completions are sampled: auto (the compiled graph backend on a CUDA device, TRL's generate "
            "on CPU), trl (TRL's own path, also used for --use_vllm), or graph, static, eager "
            "(trace_recipe.generation; see trace_recipe/rloo_trainer.py)."
        },
    )

    def __post_init__(self) -> None:
        from trace_recipe.rloo_trainer import GENERATION_BACKENDS

        if self.generation_backend not in GENERATION_BACKENDS:
            raise ValueError(
                f"generation_backend {self.generation_backend!r}: choose one of {', '.join(GENERATION_BACKENDS)}"
            )
        if self.generation_backend == "graph" and self.top_p < 1.0:  # refused when parsed, before the model loads
            raise ValueError("generation_backend graph samples with temperature only: use static for top_p < 1")
        fill_device_defaults(self)
        super().__post_init__()
        # RLOO loads its reference model with `model_init_kwargs`; TRL adds device_map="auto" unless the run is DDP or
        # DeepSpeed, so under FSDP every rank's copy went to GPU 0 and the first reference forward failed on the
        # other ranks (seen on 2 H200s). Each process loads it on its own device instead; a user's map wins. TRL
        # warns that model_init_kwargs are ignored because rl.py passes a loaded policy; the reference model uses them.
        kwargs = dict(self.model_init_kwargs or {})
        kwargs.setdefault("device_map", {"": str(self.distributed_state.device)})
        self.model_init_kwargs = kwargs


def _generate_splits(args: TraceScriptArguments, output_dir: str) -> tuple[str, str]:
    """Generate train/eval JSONL files into `output_dir` (main process only, atomic writes; other ranks wait)."""
    import os

    from accelerate import PartialState

    from trace_solver.jsonl import write_jsonl

    paths = (os.path.join(output_dir, "train.jsonl"), os.path.join(output_dir, "eval.jsonl"))
    state = PartialState()
    with state.main_process_first():
        if state.is_main_process:
            from trace_solver.generate import generate_splits  # lazy: only needed without dataset paths

            splits = generate_splits(
                args.num_train_examples,
                args.num_eval_examples,
                args.generator_seed,
                experts=args.experts,
                min_steps=args.min_trace_steps,
                max_steps=args.max_trace_steps,
            )
            for path, rows in zip(paths, splits, strict=True):
                write_jsonl(rows, path)
    return paths


def check_dataset_entries(entries: list[Any]) -> None:
    """Refuse a `datasets:` entry that is not a mapping of DatasetConfig keys with a `path`, in one line."""
    from dataclasses import fields

    from trl.scripts.utils import DatasetConfig

    keys = [item.name for item in fields(DatasetConfig)]
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue  # already a DatasetConfig, or a path given on the command line
        unknown = [key for key in entry if key not in keys]
        if unknown or "path" not in entry:
            problem = f"unknown key {unknown[0]!r}" if unknown else "no `path`"
            raise ValueError(f"datasets entry {index + 1}: {problem}; an entry takes {', '.join(keys)}")


def _load_mixture(args: TraceScriptArguments, generated_path: str | None) -> Dataset:
    """`datasets:`, or `--dataset_name` as a one-entry mixture, converted (main process first: others reuse the
    datasets cache), with the generated rows of `generated_path` appended."""
    from accelerate import PartialState
    from trl.scripts.utils import DatasetConfig

    from trace_recipe.errors import RecipeError
    from trace_recipe.mixture import load_mixture
    from trace_solver.jsonl import read_jsonl

    if args.streaming or args.dataset_streaming:
        raise RecipeError("streaming datasets are not supported: every row is converted and checked before training")
    if args.test_split_size is not None:
        raise RecipeError("test_split_size is not supported: the final evaluation uses eval_dataset_path")
    configs = args.datasets or [
        DatasetConfig(path=args.dataset_name, name=args.dataset_config, split=args.dataset_train_split)
    ]
    extra = [row for _, row in read_jsonl(generated_path)] if generated_path else []
    state = PartialState()
    with state.main_process_first():
        return load_mixture(
            configs,
            num_variants=args.num_variants,
            seed=args.generator_seed,
            extra_rows=extra,
            log=state.print if state.is_main_process else (lambda line: None),
        )


def _load_trace_dataset(path: str) -> Dataset:
    from trace_recipe.data import load_trace_dataset  # lazy: owned by the data part, imports datasets

    return load_trace_dataset(path)
