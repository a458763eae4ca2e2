"""Finding and loading a transformers model for the ``hf`` backend: sources, device, dtype.

A spec target is a local path when it exists or looks like one (``./x``, ``/x``, ``~/x``,
``a/b/c``); otherwise it is a model hub id (``org/name``) handed to ``from_pretrained`` as is.
An adapter directory alone is enough: its ``adapter_config.json`` names the base model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from tunestudio.errors import ConfigError, ModelError

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

HUB_HINT = (
    "the model hub is unreachable; download the model elsewhere and give its local path, "
    "or set HF_HOME to a cache that already holds it"
)
DTYPES = ("auto", "float32", "bfloat16", "float16")
_DTYPE_ALIASES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16", "half": "float16"}


@dataclass(frozen=True)
class Sources:
    """Where the base model, the adapter and the tokenizer come from."""

    base: str
    adapter: str | None
    tokenizer: str


def looks_like_path(target: str) -> bool:
    """True when ``target`` is meant as a local path rather than a hub id like ``org/name``."""
    if target.startswith((".", "/", "~", "\\")) or "\\" in target:
        return True
    return target.count("/") > 1 or Path(target).expanduser().exists()


def _local(target: str, what: str) -> str:
    """Check that a local path exists and return it expanded."""
    path = Path(target).expanduser()
    if not path.exists():
        raise ModelError(
            f"{what} not found",
            where=target,
            hint="check the path; relative paths are from the current directory",
        )
    return str(path)


def _base_of_adapter(adapter_dir: str) -> str:
    """The base model an adapter directory was trained on, from its adapter_config.json."""
    config_file = Path(adapter_dir) / "adapter_config.json"
    try:
        base = json.loads(config_file.read_text(encoding="utf-8")).get("base_model_name_or_path")
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read the adapter config: {exc}", where=str(config_file)) from exc
    if not base:
        raise ModelError(
            "the adapter does not name its base model (no base_model_name_or_path)",
            where=str(config_file),
            hint="name the base explicitly: hf:<base model>@<adapter path>",
        )
    return str(base)


def _resolve_base(target: str) -> str:
    """A base model target as from_pretrained wants it (``tiny`` means the built-in model)."""
    if target == "tiny":
        from tunestudio.models.tiny import ensure_tiny

        return str(ensure_tiny())
    if looks_like_path(target):
        path = _local(target, "model directory")
        if not (Path(path) / "config.json").exists():
            raise ModelError(
                "not a Hugging Face model directory (it has no config.json)",
                where=target,
                hint="point at the folder that holds config.json and the weights",
            )
        return path
    return target


def resolve_sources(target: str, adapter: str | None) -> Sources:
    """Work out base, adapter and tokenizer sources from a spec's target and adapter."""
    if adapter is None and looks_like_path(target):
        local = _local(target, "model directory")
        if (Path(local) / "adapter_config.json").exists():
            adapter, target = local, _base_of_adapter(local)
    base = _resolve_base(target)
    if adapter is not None:
        adapter = _local(adapter, "adapter directory")
        if not (Path(adapter) / "adapter_config.json").exists():
            raise ModelError(
                "not a peft adapter directory (it has no adapter_config.json)",
                where=adapter,
                hint="point at the folder a tuning run saved its adapter to",
            )
    # A tuning run may save the tokenizer beside its adapter (for example with added tokens).
    if adapter is not None and (Path(adapter) / "tokenizer_config.json").exists():
        return Sources(base, adapter, tokenizer=adapter)
    return Sources(base, adapter, tokenizer=base)


def pick_device(device: str | None) -> torch.device:
    """``None``/``auto``: cuda if available, else mps, else cpu; otherwise the named device."""
    import torch

    if device in (None, "", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(
            f"unknown device {device!r}", where="device", hint="use auto, cpu, cuda, cuda:1 or mps"
        ) from exc
    available = {"cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if not available.get(chosen.type, True):
        raise ModelError(
            f"device {device!r} is not available on this machine",
            where="device",
            hint="use --device auto (or cpu)",
        )
    return chosen


def pick_dtype(dtype: str | None, device: torch.device) -> torch.dtype:
    """``None``/``auto``: bfloat16 on a cuda device that supports it, else float32."""
    import torch

    name = _DTYPE_ALIASES.get(dtype or "auto", dtype or "auto")
    if name not in DTYPES:
        raise ConfigError(
            f"unknown dtype {dtype!r}", where="dtype", hint="use one of: " + ", ".join(DTYPES)
        )
    if name == "auto":
        cuda_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if cuda_bf16 else torch.float32
    result: torch.dtype = getattr(torch, name)
    return result


@contextmanager
def quiet_progress(enabled: bool = True) -> Iterator[None]:
    """Hide transformers' progress bars for a moment (a local load takes well under a second,
    and a bar per load would clutter the chat and infer output)."""
    from transformers.utils import logging

    was_on = logging.is_progress_bar_enabled()
    if enabled and was_on:
        logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled and was_on:
            logging.enable_progress_bar()


def _from_pretrained(loader: Any, source: str, what: str, **kwargs: Any) -> Any:
    """Call ``loader.from_pretrained`` and turn its failures into a ModelError with a hint."""
    from safetensors import SafetensorError

    local = looks_like_path(source)
    try:
        # Downloads from the hub keep their progress bars; local loads are quiet.
        with quiet_progress(enabled=local):
            return loader.from_pretrained(source, **kwargs)
    except (OSError, SafetensorError) as exc:
        hint = (
            "check that the folder is complete (a download may have stopped)" if local else HUB_HINT
        )
        raise ModelError(f"cannot load the {what}: {exc}", where=source, hint=hint) from exc
    except (ValueError, KeyError, RuntimeError) as exc:
        raise ModelError(
            f"cannot load the {what}: {exc}",
            where=source,
            hint="check that this is a causal language model transformers supports",
        ) from exc


# Public name for other loaders (ops.embeddings loads encoders with it).
from_pretrained = _from_pretrained


def load_tokenizer(source: str) -> PreTrainedTokenizerBase:
    """The tokenizer, left-padding, with a pad token (eos when it has none), and a chat template."""
    from transformers import AutoTokenizer

    tokenizer = _from_pretrained(AutoTokenizer, source, "tokenizer")
    tokenizer.padding_side = "left"  # decoder-only models generate after the prompt's end
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not getattr(tokenizer, "chat_template", None):
        raise ModelError(
            "the model's tokenizer has no chat template",
            where=source,
            hint="use an instruction-tuned (chat) model, or add a chat_template to its "
            "tokenizer_config.json",
        )
    result: PreTrainedTokenizerBase = tokenizer
    return result


def load_model(
    sources: Sources, dtype: torch.dtype, device: torch.device, vocab_size: int
) -> PreTrainedModel:
    """The base model on ``device``, with the adapter merged in (merged weights generate fastest).

    ``vocab_size`` is the tokenizer's: when an adapter's tokenizer added tokens, the embeddings
    grow to match before the adapter is applied.
    """
    from transformers import AutoModelForCausalLM

    model = _from_pretrained(
        AutoModelForCausalLM, sources.base, "model", dtype=dtype, device_map=device
    )
    if sources.adapter is None:
        result: PreTrainedModel = model
        return result
    from peft import PeftModel

    if vocab_size > model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(vocab_size)  # the adapter's tokenizer added tokens
    try:
        peft_model = PeftModel.from_pretrained(model, sources.adapter)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelError(
            f"cannot apply the adapter to the base model {sources.base}: {exc}",
            where=sources.adapter,
            hint="check that the adapter was trained on this base model",
        ) from exc
    try:
        merged: PreTrainedModel = peft_model.merge_and_unload()
    except (AttributeError, NotImplementedError, ValueError):
        # Adapter types that cannot merge (e.g. prompt tuning) still generate, unmerged.
        return cast("PreTrainedModel", peft_model)
    return merged
