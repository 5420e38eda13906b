"""Batched generation for evaluation and self-consistency: one entry point, several backends.

Why more than `model.generate`: a 135M model decoding a batch is bound by Python and kernel-launch overhead, not by
the GPU (about 45 ms a step at batch 256 on an H100 with the plain eager loop, while its weights would allow well
under 1 ms). The backends, all returning the same thing (completion token ids, cut at the first EOS):

  eager       plain `model.generate` with the dynamic cache. The reference.
  static      `model.generate` with a static KV cache. On CUDA, transformers then compiles the model's forward
              (`torch.compile`, mode "reduce-overhead", i.e. CUDA graphs), which removes the launch overhead inside
              the forward (about 5x on an H100). We keep the shapes fixed (every batch is `batch_size` rows,
              every prompt left-padded to one length) so it compiles once per run instead of once per batch.
  graph       our own loop over the same static cache: the whole decoding step (forward, token choice, EOS
              bookkeeping) is one compiled function, so no Python runs between steps except a replay call, and
              "all rows finished?" is asked every few steps. Its one-token attention folds grouped-query heads
              instead of copying the KV cache per query head (see `_sdpa_folding_grouped_queries`). Greedy output
              equals eager `generate` (tested on CPU, compiled and not, with transformers 5.17 and 5.24; fp32 on an
              H100: 256/256). Batch 256, bf16: 3.3 ms a step, 10.8x plain `generate` on an H200, 7.0x on an H100
              (docs/results.md).
  prune       our own eager loop over the dynamic cache that drops finished rows from the batch (and their cache
              rows) as they end, so a batch costs what its unfinished rows cost instead of its longest row times its
              size. Greedy output equals eager `generate`. The fastest path on CPU.
  auto        graph on CUDA (falling back to static, then eager, if it fails), prune elsewhere.

All backends sort prompts by length before batching (less left padding) and restore the caller's order.
Works with transformers 5.17 through 5.24 (tested on CPU with both): besides `generate`, only `StaticCache` and the
model's forward are used, and the one difference between them (the cache argument is `past_key_values` in 5.17,
`cache` in 5.24) is read from the forward's signature.
"""

from __future__ import annotations

import functools
import inspect
import logging
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch/transformers are imported lazily so `import trace_recipe` stays cheap
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

logger = logging.getLogger(__name__)

BACKENDS = ("auto", "eager", "prune", "static", "graph")
# The graph backend asks the GPU "has every row finished?" this often (each question is a host sync).
STOP_CHECK_EVERY = 8
# The prune backend drops finished rows once 1/PRUNE_FRACTION of the batch has finished (each drop copies the cache).
PRUNE_FRACTION = 4
# What "auto" tries on a CUDA device, in order, before plain eager generate.
AUTO_FALLBACKS = ("graph", "static")


@dataclass
class GenerationOptions:
    """How to decode. Defaults are greedy; set `do_sample=True` (and `temperature`) for self-consistency samples."""

    max_new_tokens: int = 512
    batch_size: int = 64
    backend: str = "auto"
    do_sample: bool = False
    temperature: float = 0.7
    top_p: float = 1.0
    sort_by_length: bool = True
    # Static and graph backends: prompts are left-padded to a multiple of this, so one compiled graph serves every
    # batch; and to at least `min_prompt_length`, so that calls with shorter prompts (RL steps) reuse that graph.
    pad_to_multiple_of: int = 64
    min_prompt_length: int = 0
    # None: compile the static decoding step on CUDA only (on CPU, compilation costs more than it saves).
    compile: bool | None = None
    # Static backend: one StaticCache for the whole run, reset between batches. A fresh cache per `generate` call
    # (what cache_implementation="static" does) has new tensor addresses, which CUDA graphs must re-record.
    reuse_static_cache: bool = True
    seed: int | None = None
    # Keep the EOS token that ended a completion (RL scores its log-probability); evaluation drops it.
    keep_eos: bool = False
    # A progress bar's label (e.g. "evaluating"), shown on the main process; None: no bar.
    progress: str | None = None


def resolve_backend(backend: str, device: torch.device | str) -> str:
    """Map "auto" to the backend we expect to be fastest on `device`; validate the others."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown generation backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend != "auto":
        return backend
    device_type = device.type if hasattr(device, "type") else str(device).split(":")[0]
    return AUTO_FALLBACKS[0] if device_type == "cuda" else "prune"


def length_sorted_batches(lengths: Sequence[int], batch_size: int, sort: bool = True) -> list[list[int]]:
    """Indices grouped into batches; longest prompts first, so a batch that does not fit fails at once."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i]) if sort else list(range(len(lengths)))
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def cut_at_eos(token_ids: Sequence[int], eos_token_ids: set[int], keep_eos: bool = False) -> list[int]:
    """Generated ids up to the first EOS (included if `keep_eos`); generate pads finished rows after it."""
    out: list[int] = []
    for token in token_ids:
        if token in eos_token_ids:
            if keep_eos:
                out.append(int(token))
            break
        out.append(int(token))
    return out


def padded_prompt_length(prompts: Sequence[Sequence[int]], options: GenerationOptions) -> int:
    """The one prompt length of a static-shape run: the longest prompt, or `min_prompt_length` if longer, rounded up
    to `pad_to_multiple_of`."""
    multiple = max(1, options.pad_to_multiple_of)
    return multiple * math.ceil(max(options.min_prompt_length, *(len(p) for p in prompts)) / multiple)


def eos_token_ids_of(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase | None = None) -> set[int]:
    """Every id that ends a completion: the tokenizer's EOS and the model's generation-config EOS (may be a list)."""
    ids: set[int] = set()
    candidates: list[Any] = [getattr(getattr(model, "generation_config", None), "eos_token_id", None)]
    if tokenizer is not None:
        candidates.append(tokenizer.eos_token_id)
    for candidate in candidates:
        if isinstance(candidate, int):
            ids.add(candidate)
        elif isinstance(candidate, (list, tuple)):
            ids.update(int(c) for c in candidate)
    if not ids:
        raise ValueError("no EOS token id: set tokenizer.eos_token or model.generation_config.eos_token_id")
    return ids


def _left_pad(rows: Sequence[Sequence[int]], length: int, pad_token_id: int, device: Any) -> tuple[Any, Any]:
    import torch

    input_ids = torch.full((len(rows), length), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), length), dtype=torch.long)
    for r, row in enumerate(rows):
        if row:
            input_ids[r, length - len(row) :] = torch.tensor(list(row), dtype=torch.long)
            attention_mask[r, length - len(row) :] = 1
    return input_ids.to(device), attention_mask.to(device)


def _generation_config(
    options: GenerationOptions,
    pad_token_id: int,
    eos_token_ids: set[int],
    *,
    static: bool,
    compile_step: bool,
    reuse_cache: bool = False,
) -> Any:
    from transformers import GenerationConfig

    kwargs: dict[str, Any] = {
        "max_new_tokens": options.max_new_tokens,
        "do_sample": options.do_sample,
        "pad_token_id": pad_token_id,
        "eos_token_id": sorted(eos_token_ids),
    }
    if options.do_sample:
        kwargs.update(temperature=options.temperature, top_p=options.top_p, top_k=0)
    if static:
        if not reuse_cache:  # otherwise the caller passes its own StaticCache, which excludes cache_implementation
            kwargs["cache_implementation"] = "static"
        if compile_step:
            from transformers import CompileConfig

            compile_config = CompileConfig()  # transformers' default: mode="reduce-overhead" (CUDA graphs)
            compile_config._compile_all_devices = True  # honoured on CPU too when the caller asks for it
            kwargs["compile_config"] = compile_config
        else:
            kwargs["disable_compile"] = True
    return GenerationConfig(**kwargs)


def _cache_argument_name(model: PreTrainedModel) -> str:
    """`generate`'s cache argument: `cache` from transformers 5.2x on, `past_key_values` before (5.17)."""
    return "cache" if "cache" in inspect.signature(type(model).forward).parameters else "past_key_values"


def _generate_with_generate(
    model: PreTrainedModel,
    prompts: Sequence[Sequence[int]],
    pad_token_id: int,
    eos_token_ids: set[int],
    options: GenerationOptions,
    static: bool,
) -> list[list[int]]:
    import torch

    device = model.device
    compile_step = options.compile if options.compile is not None else device.type == "cuda"
    reuse_cache = static and options.reuse_static_cache
    config = _generation_config(
        options, pad_token_id, eos_token_ids, static=static, compile_step=compile_step, reuse_cache=reuse_cache
    )
    # Static cache: one padded length and full batches for the whole run, so the compiled step sees one shape
    # (and the reused cache fits every batch). Fewer prompts than a batch: the batch shrinks rather than fill up.
    batch_size = min(options.batch_size, len(prompts)) if static else options.batch_size
    batches = length_sorted_batches([len(p) for p in prompts], max(batch_size, 1), options.sort_by_length)
    fixed_length = 0
    if static and prompts:
        fixed_length = padded_prompt_length(prompts, options)
    cache_kwargs: dict[str, Any] = {}
    if reuse_cache and prompts:
        from transformers import StaticCache

        cache = StaticCache(config=model.config, max_cache_len=fixed_length + options.max_new_tokens)
        cache_kwargs[_cache_argument_name(model)] = cache
    results: list[list[int]] = [[] for _ in prompts]
    was_training = model.training
    model.eval()
    try:
        for batch in batches:
            rows = [prompts[i] for i in batch]
            if static and len(rows) < batch_size:
                rows = rows + [rows[0]] * (batch_size - len(rows))  # filler rows, dropped below
            length = fixed_length or max(len(r) for r in rows)
            input_ids, attention_mask = _left_pad(rows, length, pad_token_id, device)
            # no_grad, not inference_mode: inference tensors in a reused cache could not be reset in place later.
            with torch.no_grad():
                for cache in cache_kwargs.values():
                    cache.reset()  # same tensors, zeroed: the compiled step keeps its addresses
                output = model.generate(
                    input_ids=input_ids, attention_mask=attention_mask, generation_config=config, **cache_kwargs
                )
            new_tokens = output[:, length:].tolist()
            for row, index in enumerate(batch):
                results[index] = cut_at_eos(new_tokens[row], eos_token_ids, options.keep_eos)
    finally:
        model.train(was_training)
    return results


def _generate_pruning(
    model: PreTrainedModel,
    prompts: Sequence[Sequence[int]],
    pad_token_id: int,
    eos_token_ids: set[int],
    options: GenerationOptions,
) -> list[list[int]]:
    """The prune backend: length-sorted batches, each decoded step by step over a dynamic cache from which finished
    rows are removed, so the work per step shrinks with the rows still writing."""
    import torch
    from transformers import DynamicCache

    if options.do_sample and options.top_p < 1.0:
        raise ValueError("the prune backend samples with temperature only; use backend 'eager' for top_p < 1")
    device = model.device
    eos = torch.tensor(sorted(eos_token_ids), device=device)
    cache_name = _cache_argument_name(model)
    results: list[list[int]] = [[] for _ in prompts]
    batches = length_sorted_batches([len(p) for p in prompts], max(options.batch_size, 1), options.sort_by_length)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), _progress(options, len(prompts)) as progress:
            for batch in batches:
                rows = [prompts[i] for i in batch]
                input_ids, mask = _left_pad(rows, max(len(r) for r in rows), pad_token_id, device)
                positions = (mask.cumsum(-1) - 1).masked_fill_(mask == 0, 1)  # as generate does
                cache = DynamicCache(config=model.config)
                alive = list(batch)  # caller indices of the rows still in the cache, in cache order
                done = torch.zeros(len(alive), dtype=torch.bool, device=device)
                tokens = input_ids
                for _ in range(options.max_new_tokens):
                    logits = model(
                        input_ids=tokens,
                        attention_mask=mask,
                        position_ids=positions,
                        use_cache=True,
                        logits_to_keep=1,
                        **{cache_name: cache},
                    ).logits[:, -1, :]
                    chosen = torch.where(done, pad_token_id, _choose(logits, options))
                    finished = ~done & torch.isin(chosen, eos)
                    for row, token in enumerate(chosen.tolist()):
                        if not done[row] and (token not in eos_token_ids or options.keep_eos):
                            results[alive[row]].append(int(token))
                    done |= finished
                    progress.update(int(finished.sum()))
                    if bool(done.all()):
                        break
                    # Dropping rows copies the whole cache, so it waits until a quarter of the rows have finished.
                    if int(done.sum()) >= max(1, len(alive) // PRUNE_FRACTION):
                        keep = (~done).nonzero().flatten()
                        cache.batch_select_indices(keep)
                        alive = [alive[i] for i in keep.tolist()]
                        chosen, mask, positions, done = chosen[keep], mask[keep], positions[keep], done[keep]
                    tokens = chosen[:, None]
                    positions = positions[:, -1:] + 1
                    mask = torch.cat([mask, mask.new_ones(len(alive), 1)], dim=1)
                else:
                    progress.update(int((~done).sum()))  # rows that used the whole token budget
    finally:
        model.train(was_training)
    return results


def _choose(logits: torch.Tensor, options: GenerationOptions) -> torch.Tensor:
    """Greedy argmax, or a sample from softmax(logits / temperature)."""
    import torch

    if not options.do_sample:
        return logits.argmax(dim=-1)
    probabilities = torch.softmax(logits.float() / options.temperature, dim=-1)
    return torch.multinomial(probabilities, 1)[:, 0]


@contextmanager
def _progress(options: GenerationOptions, total: int) -> Iterator[Any]:
    """A tqdm bar over completions when `options.progress` names one (main process only), else a no-op."""
    from tqdm.auto import tqdm

    disable = not options.progress or not _is_main_process()
    with tqdm(total=total, desc=options.progress or "", unit="completion", disable=disable) as bar:
        yield bar


def _is_main_process() -> bool:
    from accelerate import PartialState

    return PartialState().is_main_process


def _pick_tokens(logits: torch.Tensor, temperature: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """argmax(logits / T + noise * Gumbel): with noise 0 and T 1 exactly greedy argmax; with noise 1 a sample from
    softmax(logits / T) (Gumbel-max trick), without torch.multinomial, an op CUDA graphs cannot capture. Greedy and
    sampling thus share one compiled graph; T and noise are tensors so changing them does not recompile."""
    import torch

    scores = logits.float()
    uniform = torch.rand_like(scores).clamp_(min=1e-20, max=1.0 - 1e-7)
    return (scores / temperature - noise * torch.log(-torch.log(uniform))).argmax(dim=-1)


# Whether the "sdpa" attention folds grouped query heads: on only while `_GraphDecoder` decodes (see below).
_fold_grouped_queries = False
_FOLDING_MARKER = "_trace_recipe_folds_grouped_queries"


def _sdpa_folding_grouped_queries(sdpa: Any) -> Any:
    """transformers' "sdpa" attention, except for one query token under a mask while `_fold_grouped_queries` is on.

    With a padding mask, transformers cannot use SDPA's own grouped-query support, so it copies every KV head once
    per query head (`repeat_kv`): at batch 256 over a static cache that copy moves gigabytes per decoding step, far
    more than the weights. For a single query token the query heads sharing a KV head can instead be laid out as that
    head's query rows, [batch, kv_heads, group, head_dim]: each row attends over the same keys under the same mask
    row, so the result is the same attention without the copy.
    """
    import torch

    @functools.wraps(sdpa)
    def attention(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, **kwargs: Any) -> Any:
        batch, heads, length, head_dim = query.shape
        kv_heads = key.shape[1]
        plain = not _fold_grouped_queries or length != 1 or heads == kv_heads or attention_mask is None
        if plain or attention_mask.shape[1] != 1 or kwargs.get("dropout") or kwargs.get("position_bias") is not None:
            return sdpa(module, query, key, value, attention_mask, **kwargs)
        folded = query.reshape(batch, kv_heads, heads // kv_heads, head_dim)  # head h uses KV head h // group
        output = torch.nn.functional.scaled_dot_product_attention(
            folded, key, value, attn_mask=attention_mask, scale=kwargs.get("scaling")
        )
        return output.reshape(batch, heads, 1, head_dim).transpose(1, 2).contiguous(), None

    setattr(attention, _FOLDING_MARKER, True)
    return attention


@contextmanager
def _folding_grouped_queries() -> Iterator[None]:
    """Fold grouped query heads in one-token SDPA attention inside this block (registers the wrapper once)."""
    global _fold_grouped_queries
    from transformers import AttentionInterface
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    if not getattr(ALL_ATTENTION_FUNCTIONS["sdpa"], _FOLDING_MARKER, False):
        AttentionInterface.register("sdpa", _sdpa_folding_grouped_queries(ALL_ATTENTION_FUNCTIONS["sdpa"]))
    _fold_grouped_queries = True
    try:
        yield
    finally:
        _fold_grouped_queries = False


class _GraphDecoder:
    """Our own decoding loop: static cache, and the whole decoding step compiled into one CUDA graph.

    Where `generate` runs Python between compiled forwards every step (4D mask, logits processors, stopping
    criteria, concatenation), here the step (forward, token choice, EOS bookkeeping) is one compiled function, the
    2D attention mask is built once per batch (future slots are hidden by the causal mask, not by the padding mask),
    and the host checks for "all finished" every `STOP_CHECK_EVERY` steps instead of every step.
    Greedy outputs equal `generate`'s: same positions (cumsum of the mask), same cache writes, argmax of the
    float logits. Sampling uses the Gumbel-max trick (the same distribution as generate's, other random numbers).

    A decoder owns fixed shapes (batch size, padded prompt length, token budget) and is kept on the model (see
    `_graph_decoder`, two shapes at most), so later calls with the same shapes (greedy, then self-consistency
    samples; the next evaluation; RL sampling after a dev evaluation) replay the compiled graph instead of compiling
    again.
    """

    def __init__(self, model: PreTrainedModel, key: tuple[Any, ...], compile_step: bool) -> None:
        import torch
        from transformers import StaticCache

        batch_size, prompt_length, max_new_tokens, pad_token_id, eos_ids = key[:5]
        self.key, self.model, self.compiled = key, model, compile_step
        self.batch_size, self.prompt_length, self.max_new_tokens = batch_size, prompt_length, max_new_tokens
        self.pad_token_id, self.eos_token_ids = pad_token_id, set(eos_ids)
        device = model.device
        self.cache = StaticCache(config=model.config, max_cache_len=prompt_length + max_new_tokens)
        self.forward_kwargs = {_cache_argument_name(model): self.cache, "use_cache": True, "logits_to_keep": 1}
        self.eos = torch.tensor(sorted(eos_ids), device=device)
        self.pad = torch.tensor(pad_token_id, device=device)
        self.temperature = torch.ones((), device=device)
        self.noise = torch.zeros((), device=device)
        # One mask for the run, rewritten in place per batch: a fixed address the CUDA graph reads without a copy.
        self.mask = torch.ones(batch_size, prompt_length + max_new_tokens, dtype=torch.long, device=device)
        self.step = self._decode_step
        if compile_step:
            for tensor in (self.mask, self.temperature, self.noise):
                torch._dynamo.mark_static_address(tensor)
            # dynamic=False: a process's second decoder (RL samples at one shape, then evaluates at another) would
            # otherwise recompile with symbolic batch and cache sizes (dynamo's automatic dynamic shapes), slower to
            # compile and to run than a graph specialised to its own fixed shapes.
            self.step = torch.compile(self._decode_step, mode="reduce-overhead", dynamic=False)

    def _forward_pick(self, input_ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        logits = self.model(
            input_ids=input_ids, attention_mask=self.mask, position_ids=positions, **self.forward_kwargs
        )
        return _pick_tokens(logits.logits[:, -1, :], self.temperature, self.noise)

    def _decode_step(self, tokens: torch.Tensor, positions: torch.Tensor, done: torch.Tensor) -> tuple[Any, Any, Any]:
        import torch

        chosen = torch.where(done, self.pad, self._forward_pick(tokens, positions))
        return chosen[:, None], positions + 1, done | torch.isin(chosen, self.eos)

    def decode(
        self, rows: Sequence[Sequence[int]], temperature: float | None, keep_eos: bool = False
    ) -> list[list[int]]:
        """Completions for up to `batch_size` prompts (greedy when temperature is None)."""
        import torch

        count = len(rows)
        rows = list(rows) + [rows[0]] * (self.batch_size - count)  # filler rows keep the shape; dropped below
        input_ids, prompt_mask = _left_pad(rows, self.prompt_length, self.pad_token_id, self.model.device)
        with torch.no_grad(), _folding_grouped_queries():
            self.temperature.fill_(1.0 if temperature is None else temperature)
            self.noise.fill_(0.0 if temperature is None else 1.0)
            self.mask[:, : self.prompt_length].copy_(prompt_mask)
            self.cache.reset()
            positions = (prompt_mask.cumsum(-1) - 1).masked_fill_(prompt_mask == 0, 1)  # as generate does
            tokens = self._forward_pick(input_ids, positions)[:, None]  # the prefill runs uncompiled
            done = torch.isin(tokens[:, 0], self.eos)
            positions = positions[:, -1:] + 1
            generated = [tokens]
            for index in range(1, self.max_new_tokens):
                if index % STOP_CHECK_EVERY == 0 and bool(done.all()):
                    break
                if self.compiled:
                    torch.compiler.cudagraph_mark_step_begin()
                tokens, positions, done = self.step(tokens, positions, done)
                # CUDA-graph outputs are overwritten by the next replay: keep copies.
                tokens, positions, done = tokens.clone(), positions.clone(), done.clone()
                generated.append(tokens)
            new_tokens = torch.cat(generated, dim=1)[:count].tolist()
        return [cut_at_eos(row, self.eos_token_ids, keep_eos) for row in new_tokens]


# Attribute holding a model's decoders by shape, most recently used last. On the model rather than in a module-level
# dict, so that the decoders are freed with the model. Two are kept: RL samples at one shape and evaluates on a dev
# set at another, and rebuilding a decoder means compiling its step again (tens of seconds); each holds a static
# cache, the largest extra memory, so no more than that.
_DECODER_ATTRIBUTE = "_trace_recipe_graph_decoders"
MAX_GRAPH_DECODERS = 2


def _graph_decoder(model: PreTrainedModel, key: tuple[Any, ...], compile_step: bool) -> _GraphDecoder:
    decoders: dict[tuple[Any, ...], _GraphDecoder] = model.__dict__.setdefault(_DECODER_ATTRIBUTE, {})
    full_key = (*key, compile_step)
    decoder = decoders.pop(full_key, None)
    if decoder is None:
        while len(decoders) >= MAX_GRAPH_DECODERS:  # free the least recently used cache before allocating a new one
            decoders.pop(next(iter(decoders)))
        decoder = _GraphDecoder(model, key, compile_step)
    decoders[full_key] = decoder  # plain attribute, not a submodule or buffer
    return decoder


def free_graph_decoder(model: PreTrainedModel) -> None:
    """Drop the graph backend's static caches and compiled steps kept on `model` (e.g. before training resumes)."""
    model.__dict__.pop(_DECODER_ATTRIBUTE, None)


def _generate_graph(
    model: PreTrainedModel,
    prompts: Sequence[Sequence[int]],
    pad_token_id: int,
    eos_token_ids: set[int],
    options: GenerationOptions,
) -> list[list[int]]:
    """The graph backend: `_GraphDecoder` over length-sorted batches of fixed shape."""
    if options.do_sample and options.top_p < 1.0:
        raise ValueError("the graph backend samples with temperature only; use backend 'static' for top_p < 1")
    compile_step = options.compile if options.compile is not None else model.device.type == "cuda"
    batch_size = max(1, min(options.batch_size, len(prompts)))
    prompt_length = padded_prompt_length(prompts, options)
    key = (batch_size, prompt_length, options.max_new_tokens, pad_token_id, tuple(sorted(eos_token_ids)))
    decoder = _graph_decoder(model, key, compile_step)
    temperature = options.temperature if options.do_sample else None
    results: list[list[int]] = [[] for _ in prompts]
    was_training = model.training
    model.eval()
    try:
        for batch in length_sorted_batches([len(p) for p in prompts], batch_size, options.sort_by_length):
            completions = decoder.decode([prompts[i] for i in batch], temperature, options.keep_eos)
            for index, completion in zip(batch, completions):
                results[index] = completion
    finally:
        model.train(was_training)
    return results


def generate_token_ids(
    model: PreTrainedModel,
    prompts: Sequence[Sequence[int]],
    *,
    pad_token_id: int,
    eos_token_ids: set[int],
    options: GenerationOptions | None = None,
    used_backends: list[str] | None = None,
) -> list[list[int]]:
    """Generate a completion for each tokenised prompt; returns the new token ids of each, cut at the first EOS.

    Args:
        model: a causal LM (left padding is applied here, so the tokenizer's padding side does not matter).
        prompts: token ids of each prompt, chat template already applied.
        pad_token_id: id used for left padding.
        eos_token_ids: ids that end a completion.
        options: decoding options; `options.backend` picks the implementation (see the module docstring).
        used_backends: if given, the backend that produced the completions is appended (under "auto" it may be a
            fallback), so that reports name what actually ran.
    """
    options = options or GenerationOptions()
    if not prompts:  # e.g. a process's share of a set smaller than the number of processes
        return []
    used = used_backends if used_backends is not None else []
    backend = resolve_backend(options.backend, model.device)
    if options.backend != "auto" or backend not in AUTO_FALLBACKS:
        used.append(backend)
        return _run_backend(backend, model, prompts, pad_token_id, eos_token_ids, options)
    # "auto" on a GPU: the fastest path first; a compiler failure on an untested stack must not cost the evaluation
    # at the end of a training run, so fall back (loudly) to the next one. Named backends never fall back.
    for candidate in AUTO_FALLBACKS:
        try:
            completions = _run_backend(candidate, model, prompts, pad_token_id, eos_token_ids, options)
        except Exception as error:  # any failure of an optional fast path
            logger.warning(
                "generation backend %r failed (%s: %s); falling back", candidate, type(error).__name__, error
            )
            continue
        used.append(candidate)
        return completions
    used.append("eager")
    return _run_backend("eager", model, prompts, pad_token_id, eos_token_ids, options)


def _run_backend(
    backend: str,
    model: PreTrainedModel,
    prompts: Sequence[Sequence[int]],
    pad_token_id: int,
    eos_token_ids: set[int],
    options: GenerationOptions,
) -> list[list[int]]:
    import torch

    if options.seed is not None:
        torch.manual_seed(options.seed)
    if backend in ("eager", "static"):
        return _generate_with_generate(model, prompts, pad_token_id, eos_token_ids, options, static=backend == "static")
    if backend == "prune":
        return _generate_pruning(model, prompts, pad_token_id, eos_token_ids, options)
    return _generate_graph(model, prompts, pad_token_id, eos_token_ids, options)


def render_prompts(tokenizer: PreTrainedTokenizerBase, prompts: Sequence[Any]) -> list[list[int]]:
    """Token ids for each prompt: chat messages go through the chat template (with the generation prompt),
    plain strings are tokenised as they are."""
    rendered: list[list[int]] = []
    for prompt in prompts:
        if isinstance(prompt, str):
            rendered.append(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        else:
            text = tokenizer.apply_chat_template(list(prompt), tokenize=False, add_generation_prompt=True)
            rendered.append(tokenizer(text, add_special_tokens=False)["input_ids"])
    return rendered


def pad_token_id_of(tokenizer: PreTrainedTokenizerBase, eos_token_ids: set[int]) -> int:
    """The tokenizer's pad id, else an EOS id (padding is masked, so any id works; EOS is always in the vocab)."""
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(eos_token_ids)


def generate_completions(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[Any],
    options: GenerationOptions | None = None,
    *,
    used_backends: list[str] | None = None,
) -> list[str]:
    """Decoded completion text for each prompt (list of chat messages, or a string), in the caller's order.
    `used_backends` collects the backend that ran, as in `generate_token_ids`."""
    options = options or GenerationOptions()
    eos_ids = eos_token_ids_of(model, tokenizer)
    ids = generate_token_ids(
        model,
        render_prompts(tokenizer, prompts),
        pad_token_id=pad_token_id_of(tokenizer, eos_ids),
        eos_token_ids=eos_ids,
        options=options,
        used_backends=used_backends,
    )
    return tokenizer.batch_decode(ids, skip_special_tokens=True)
