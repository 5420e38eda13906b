"""Script arguments for `recipes/sft.py` and `recipes/rl.py`, and the trainer configs with device-aware defaults.

`TrlParser((SFTScriptArguments, TraceSFTConfig, ModelConfig))` turns these into flags; `--config recipe.yaml`
supplies defaults and flags override them. Field names must not collide across the three dataclasses, which is why
the generator's step bounds are `min_trace_steps`/`max_trace_steps` (`max_steps` belongs to the trainer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trl import RLOOConfig, ScriptArguments, SFTConfig

if TYPE_CHECKING:
    from datasets import Dataset

EMBEDDED_MODEL = "embedded:SmolLM2-135M-Instruct"


@dataclass
class TraceScriptArguments(ScriptArguments):
    """Where the training data comes from, which layers train, how non-finite steps are handled, and what happens
    after training."""

    dataset_path: str | None = field(
        default=None,
        metadata={"help": "JSONL from `trace-solver generate` or `convert-gsm8k`. If unset, examples are generated."},
    )
    num_train_examples: int = field(default=250, metadata={"help": "Synthetic examples generated when no path."})
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
    do_final_eval: bool = field(default=True, metadata={"help": "Evaluate the trained model at the end."})
    eval_dataset_path: str | None = field(
        default=None, metadata={"help": "JSONL for the final evaluation. If unset, a held-out set is generated."}
    )
    num_eval_examples: int = field(default=248, metadata={"help": "Size of the generated final-evaluation set."})
    eval_max_new_tokens: int = field(default=512, metadata={"help": "Token budget of one evaluation trace."})

    def __post_init__(self) -> None:
        parent = getattr(super(), "__post_init__", None)  # TRL's ScriptArguments has none in some versions
        if parent is not None:
            parent()
        from trace_recipe.nan_guards import check_max_nonfinite_grad_steps

        check_max_nonfinite_grad_steps(self.max_nonfinite_grad_steps)  # refused when parsed, before the model loads

    def load_datasets(self, output_dir: str) -> tuple[Dataset, Dataset | None]:
        """The training set and, with `do_final_eval`, the evaluation set, both loaded before any training.

        Generated sets come from `generate_splits` (the evaluation set never repeats a training question) and are
        kept as `<output_dir>/{train,eval}.jsonl`; the same seed gives the same sets in SFT and RL.
        """
        train_path, eval_path = self.dataset_path, self.eval_dataset_path
        if train_path is None or (eval_path is None and self.do_final_eval):
            generated = _generate_splits(self, output_dir)
            train_path, eval_path = train_path or generated[0], eval_path or generated[1]
        train = _load_trace_dataset(train_path)
        evaluation = _load_trace_dataset(eval_path) if self.do_final_eval else None
        return train, evaluation


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


def has_accelerator() -> bool:
    """Whether this host has a GPU (CUDA, MPS or XPU); without one, `accelerate launch` ranks need `cpu=True` to
    form a gloo group instead of each running alone."""
    import torch

    return torch.cuda.is_available() or torch.backends.mps.is_available() or torch.xpu.is_available()


def fill_device_defaults(config: Any) -> None:
    """Fill `use_cpu`, `bf16` and gradient checkpointing when left unset: bf16 and checkpointing on for a CUDA GPU,
    off on CPU; `use_cpu` on when the host has no accelerator.

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
_CHECKPOINTING_HELP = "Gradient checkpointing. Default: on for a CUDA GPU, off on CPU."


@dataclass
class TraceSFTConfig(SFTConfig):
    """TRL's `SFTConfig` with device-aware `bf16`/checkpointing defaults, a count of real (non-padding) tokens for
    the throughput figures, and `group_by_length` on every transformers version."""

    bf16: bool | None = field(default=None, metadata={"help": _BF16_HELP})
    gradient_checkpointing: bool | None = field(default=None, metadata={"help": _CHECKPOINTING_HELP})
    include_num_input_tokens_seen: str = field(
        default="non_padding",
        metadata={"help": "Count input tokens: non_padding (default; feeds train_tokens_per_second), all, or no."},
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
        fill_device_defaults(self)
        super().__post_init__()
        # RLOO loads its reference model with `model_init_kwargs`; TRL adds device_map="auto" unless the run is DDP or
        # DeepSpeed, so under FSDP every rank's copy went to GPU 0 and the first reference forward failed on the
        # other ranks (seen on 2 H200s). Each process loads it on its own device instead; a user's map wins.
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


def _load_trace_dataset(path: str) -> Dataset:
    from trace_recipe.data import load_trace_dataset  # lazy: owned by the data part, imports datasets

    return load_trace_dataset(path)
