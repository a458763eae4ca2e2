"""The model side of the recipe: load the base, make it trainable (LoRA or full), save results."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunestudio.errors import ConfigError
from tunestudio.tuning.errors import TuningError
from tunestudio.tuning.spec import TuneSpec

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


def load_base(
    spec: TuneSpec, device: torch.device
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, str]:
    """The base model (float32 on ``device``), its tokenizer, and how an adapter names the base.

    ``tiny`` stays ``tiny`` in the adapter's config, so the adapter loads on any machine that
    builds the tiny model; other bases are named by their resolved path or hub id.
    """
    import torch

    from tunestudio.models.hf_load import load_model, load_tokenizer, resolve_sources
    from tunestudio.models.registry import parse_spec

    parsed = parse_spec(spec.model)
    if parsed.kind not in ("tiny", "hf"):
        raise ConfigError(
            f"{spec.model!r} cannot be tuned locally",
            where="model",
            hint="tune a local model: `tiny` or `hf:<hub id or path>`",
        )
    sources = resolve_sources("tiny" if parsed.kind == "tiny" else parsed.target, parsed.adapter)
    tokenizer = load_tokenizer(sources.tokenizer)
    model = load_model(sources, torch.float32, device, len(tokenizer))
    base_ref = "tiny" if parsed.kind == "tiny" else sources.base
    if sources.adapter is not None:
        base_ref = sources.base  # the adapter was merged in; a new adapter sits on top of that
    return model, tokenizer, base_ref


def make_trainable(model: PreTrainedModel, spec: TuneSpec, base_ref: str) -> Any:
    """Wrap ``model`` with a LoRA adapter (only it trains), or train every weight (FULL)."""
    if spec.method == "FULL":
        model.requires_grad_(True)
        return model
    from peft import LoraConfig, get_peft_model

    model.requires_grad_(False)
    config = LoraConfig(
        r=spec.lora_r,
        lora_alpha=spec.lora_alpha,
        lora_dropout=spec.lora_dropout,
        target_modules=spec.target_modules or "all-linear",
        task_type="CAUSAL_LM",
    )
    try:
        peft_model = get_peft_model(model, config)
    except ValueError as exc:
        names = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if _linear(m)})
        raise ConfigError(
            f"LoRA cannot adapt target_modules={spec.target_modules}: {exc}",
            where="target_modules",
            hint="use names of this model's linear layers: " + ", ".join(names),
        ) from exc
    peft_model.peft_config["default"].base_model_name_or_path = base_ref
    return peft_model


def _linear(module: Any) -> bool:
    import torch

    return isinstance(module, torch.nn.Linear)


def trainable_state(model: Any) -> dict[str, torch.Tensor]:
    """The weights that train (all of them for FULL), detached copies for a checkpoint."""
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def load_trainable_state(model: Any, state: dict[str, torch.Tensor]) -> None:
    """Put checkpointed trainable weights back into ``model``."""
    import torch

    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value)


def save_model(
    model: Any, tokenizer: PreTrainedTokenizerBase, out_dir: Path, spec: TuneSpec
) -> tuple[Path, Path | None]:
    """Save the adapter (LoRA) or model (FULL) with the tokenizer; also ``merged/`` on request.

    Returns (the directory that works as a model spec, the merged directory or None).
    """
    from tunestudio.models.hf_load import quiet_progress

    tokenizer.padding_side = "left"  # as inference wants it
    main = out_dir / ("model" if spec.method == "FULL" else "adapter")
    try:
        with quiet_progress():
            model.save_pretrained(main)
            tokenizer.save_pretrained(main)
            merged = None
            if spec.merge and spec.method == "LORA":
                merged = out_dir / "merged"
                model.merge_and_unload().save_pretrained(merged)
                tokenizer.save_pretrained(merged)
    except OSError as exc:
        raise TuningError(
            f"cannot save the tuned model into {out_dir}: {exc}",
            where=str(out_dir),
            hint="check that the folder is writable and the disk has room",
        ) from exc
    return main, merged if spec.method == "LORA" else (main if spec.merge else None)
