"""The ``hf`` backend: transformers causal language models, optionally with a peft adapter.

``hf:<hub id or local path>[@<adapter path>]``. Prompts are rendered with the model's own chat
template; batches are generated together (sorted by length so rows of similar size share a
batch), reading the prefix their prompts share only once (see ``hf_prefix``); one lock
serialises generate() because the server calls from threads.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

from tunestudio.errors import ContextLengthError, ModelError, ModelRequestError
from tunestudio.models.base import BaseBackend, Capabilities, StreamChunk
from tunestudio.models.hf_generate import (
    CancelCriteria,
    Generated,
    StopHoldback,
    chosen_logprobs,
    eos_ids,
    finish_row,
    generate_kwargs,
    plan_stops,
    stop_recorder,
)
from tunestudio.models.hf_load import (
    load_model,
    load_tokenizer,
    pick_device,
    pick_dtype,
    resolve_sources,
)
from tunestudio.models.hf_prefix import (
    PrefixCache,
    SharedPrefix,
    prefix_layout,
    supports_prefix_cache,
)
from tunestudio.types import ChatResult, GenParams, Message, Usage

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from tunestudio.models.registry import ModelSpec

DEFAULT_BATCH_SIZE = 32


def load_hf(
    spec: ModelSpec,
    *,
    device: str | None = None,
    dtype: str | None = None,
    max_batch_size: int = DEFAULT_BATCH_SIZE,
    prefix_cache: bool = True,
    **_: Any,
) -> HFBackend:
    """Load ``hf:<hub id or local path>[@<adapter path>]`` on ``device`` (auto) in ``dtype`` (auto).

    ``prefix_cache=False`` reads every prompt whole, every time (no shared-prefix KV cache).
    Raises ModelError with a hint when a path is missing, the hub is unreachable, the adapter does
    not fit the base, or the tokenizer has no chat template.
    """
    sources = resolve_sources(spec.target, spec.adapter)
    torch_device = pick_device(device)
    torch_dtype = pick_dtype(dtype, torch_device)
    tokenizer = load_tokenizer(sources.tokenizer)
    model = load_model(sources, torch_dtype, torch_device, len(tokenizer))
    model.requires_grad_(False).eval()
    name = spec.raw or f"hf:{spec.target}" + (f"@{spec.adapter}" if spec.adapter else "")
    return HFBackend(
        name, model, tokenizer, max_batch_size=max_batch_size, prefix_cache=prefix_cache
    )


class HFBackend(BaseBackend):
    """A loaded transformers model and its tokenizer, speaking the Backend protocol."""

    def __init__(
        self,
        name: str,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        max_batch_size: int = DEFAULT_BATCH_SIZE,
        prefix_cache: bool = True,
    ) -> None:
        context = getattr(model.config, "max_position_embeddings", None)
        super().__init__(
            name,
            Capabilities(
                streaming=True,
                batching=True,
                logprobs=True,
                context_length=context,
                exact_token_count=True,
            ),
        )
        self.model = model
        self.tokenizer = tokenizer
        self.max_batch_size = max(1, max_batch_size)
        self._ends = set(eos_ids(model.generation_config.eos_token_id, tokenizer.eos_token_id))
        self._device: torch.device = model.device
        self._lock = threading.Lock()
        self._closed = False
        use_prefixes = prefix_cache and supports_prefix_cache(model)
        self._prefixes = PrefixCache() if use_prefixes else None

    @property
    def prefix_cache(self) -> PrefixCache | None:
        """The shared-prefix KV cache, or None when it is off or the model cannot use it."""
        return self._prefixes

    @property
    def device(self) -> torch.device:
        """Where the model's weights live (inputs are put there too)."""
        return self._device

    def render(self, messages: Sequence[Message]) -> str:
        """The prompt text: the chat template with the assistant's turn opened."""
        text = self.tokenizer.apply_chat_template(
            [m.to_dict() for m in messages], add_generation_prompt=True, tokenize=False
        )
        return str(text)

    def prompt_ids(self, messages: Sequence[Message]) -> list[int]:
        """Token ids of the rendered prompt (the template already holds any special tokens)."""
        ids: list[int] = self.tokenizer(self.render(messages), add_special_tokens=False)[
            "input_ids"
        ]
        return ids

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return len(self.prompt_ids(messages))

    def chat(self, messages: Sequence[Message], params: GenParams = GenParams()) -> ChatResult:
        return self.chat_batch([messages], params)[0]

    def chat_batch(
        self, conversations: Sequence[Sequence[Message]], params: GenParams = GenParams()
    ) -> list[ChatResult]:
        """Generate for all conversations, up to ``max_batch_size`` at a time, in input order."""
        prompts = [self.prompt_ids(messages) for messages in conversations]
        for index, prompt in enumerate(prompts):
            self._check_fits(len(prompt), params, index if len(prompts) > 1 else None)
        # Similar lengths together waste less compute on padding.
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        results: dict[int, ChatResult] = {}
        for start in range(0, len(order), self.max_batch_size):
            chunk = order[start : start + self.max_batch_size]
            generated = self._generate([prompts[i] for i in chunk], params)
            for i, row in zip(chunk, generated, strict=True):
                results[i] = self._result(row)
        return [results[i] for i in range(len(prompts))]

    def stream(
        self, messages: Sequence[Message], params: GenParams = GenParams()
    ) -> Iterator[StreamChunk]:
        """Stream tokens as generate() produces them (a worker thread feeds a text queue)."""
        from transformers import TextIteratorStreamer

        prompt = self.prompt_ids(messages)
        self._check_fits(len(prompt), params, None)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        cancel = threading.Event()
        box: dict[str, Any] = {}

        def work() -> None:
            try:
                box["result"] = self._generate([prompt], params, streamer, cancel)[0]
            except BaseException as exc:  # handed to the consumer below
                box["error"] = exc
                streamer.end()

        thread = threading.Thread(target=work, name="hf-stream", daemon=True)
        thread.start()
        holdback = StopHoldback(plan_stops(params.stop, self.tokenizer).strings)
        try:
            for piece in streamer:
                if text := holdback.feed(piece):
                    yield StreamChunk(text)
        finally:
            cancel.set()  # if the caller stopped reading, stop generating too
            thread.join()
        if "error" in box:
            raise box["error"]
        result = self._result(box["result"])
        if rest := holdback.rest(result.content):
            yield StreamChunk(rest)
        yield StreamChunk("", finish_reason=result.finish_reason, usage=result.usage)

    def close(self) -> None:
        """Drop the model so its memory can be freed; later calls raise ModelError.

        Closing twice is harmless.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            del self.model
            if self._prefixes is not None:
                self._prefixes.clear()
        gc.collect()

    def _check_fits(self, prompt_tokens: int, params: GenParams, index: int | None) -> None:
        if params.max_tokens < 1:
            raise ModelRequestError(
                f"max_tokens must be at least 1, not {params.max_tokens}", where="max_tokens"
            )
        limit = self.capabilities.context_length
        if limit is not None and prompt_tokens + params.max_tokens > limit:
            raise ContextLengthError(
                f"the prompt ({prompt_tokens} tokens) plus max_tokens ({params.max_tokens}) "
                f"exceeds the context window of {limit} tokens",
                where=None if index is None else f"conversation {index + 1}",
                hint="shorten the conversation or lower max_tokens",
            )

    def _result(self, row: Generated) -> ChatResult:
        usage = Usage(row.input_tokens, row.output_tokens)
        return ChatResult(row.text, usage, row.finish_reason, self.name, logprobs=row.logprobs)

    def _generate(
        self,
        prompts: list[list[int]],
        params: GenParams,
        streamer: Any = None,
        cancel: threading.Event | None = None,
    ) -> list[Generated]:
        """Generate for ``prompts`` in one call, and turn each row into a Generated."""
        import torch
        from transformers import StoppingCriteriaList

        plan = plan_stops(params.stop, self.tokenizer)
        ends = self._ends | set(plan.token_ids)
        criteria = StoppingCriteriaList()
        recorder = stop_recorder(self.tokenizer, plan.strings) if plan.strings else None
        if recorder is not None:
            criteria.append(recorder)
        if cancel is not None:
            criteria.append(CancelCriteria(cancel))
        with self._lock, torch.inference_mode(), _seeded(params.seed):
            if self._closed:
                raise ModelError(f"{self.name} was closed", hint="load the model again")
            prefixes = self._prefixes
            shared = prefixes.prepare(self.model, prompts) if prefixes is not None else None
            input_ids, attention = self._layout(prompts, shared)
            if recorder is not None:
                recorder.prompt_width = input_ids.shape[1]
            generate = cast("Callable[..., Any]", self.model.generate)
            # Raw logits are kept only when asked: they cost a vocabulary-sized row per token.
            extra = (
                {"return_dict_in_generate": True, "output_logits": True} if params.logprobs else {}
            )
            output = generate(
                input_ids=input_ids,
                attention_mask=attention,
                past_key_values=shared.cache(len(prompts)) if shared is not None else None,
                eos_token_id=sorted(ends) or None,
                pad_token_id=self.tokenizer.pad_token_id,
                stopping_criteria=criteria,
                streamer=streamer,
                **generate_kwargs(params, params.max_tokens),
                **extra,
            )
        sequences: torch.Tensor = output.sequences if params.logprobs else output
        new_ids = sequences[:, input_ids.shape[1] :]
        rows: list[list[int]] = new_ids.tolist()
        scores = chosen_logprobs(output.logits, new_ids) if params.logprobs else None
        generated = []
        for i, ids in enumerate(rows):
            text, reason, count = finish_row(
                ids,
                ends=ends,
                stopped_at=recorder.stopped_at.get(i) if recorder else None,
                max_new_tokens=params.max_tokens,
                stop_strings=plan.strings,
                tokenizer=self.tokenizer,
            )
            logprobs = tuple(scores[i][:count]) if scores is not None else None
            generated.append(Generated(text, reason, len(prompts[i]), count, logprobs))
        return generated

    def _layout(
        self, prompts: list[list[int]], shared: SharedPrefix | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Input ids and attention mask: left-padded, or with the padding after a shared prefix
        (generate() then reads only the part after it; the cache holds the rest)."""
        import torch

        pad = self.tokenizer.pad_token_id
        ids, mask = prefix_layout(prompts, shared.length if shared is not None else 0, pad)
        return (
            torch.tensor(ids, dtype=torch.long, device=self.device),
            torch.tensor(mask, dtype=torch.long, device=self.device),
        )


@contextmanager
def _seeded(seed: int | None) -> Iterator[None]:
    """Seed sampling for one call without disturbing the caller's random state."""
    if seed is None:
        yield
        return
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
