"""Tuning throughput: the recipe (padded and packed) vs a plain HF Trainer + peft script.

All three runs train LoRA on the built-in ``tiny`` model over the same first ``--rows``
conversations of examples/inquiry/train.csv, in this process, one after the other, with the same
LoRA settings (r, alpha, dropout, all linear layers), batch size, max length, epochs, learning
rate, warmup and seed. The Trainer side is fed the recipe's own ``tokenize.encode`` output
(assistant-only labels) through transformers' ``DataCollatorForSeq2Seq`` (right padding, -100
labels on padding), so only the training machinery differs. Both compute the same loss.

    .venv/bin/python bench/bench_tune.py [--data examples/inquiry/train.csv] [--rows 400]
        [--epochs 1] [--batch-size 8] [--max-length 512] [--repeat 3] [--threads N]
        [--lora-dropout 0.0]

Throughput is real (non-padding) tokens of the training data per second of wall time inside the
training loop: from the loop's start to the end of the last optimizer step, without model
loading, tokenization or saving. The "fed" column says how many token positions the model
actually computed, per real token: padding makes it above 1; packing removes padding and lays a
prefix that a batch's examples share (the system prompt) down once, so it can be far below 1.

Each side runs ``--repeat`` times in turns, the order reversed every other round (so a busy
spell or a warm cache favours no side); every run is printed with the load average before it,
and the table keeps each side's fastest. The CPU-time columns (this process, all threads) are
steadier than wall time when other work shares the cores, and ``--threads 1`` steadier still.
No assertions: numbers go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from tunestudio.tuning.spec import TuneSpec
from tunestudio.tuning.tokenize import Example

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Timing:
    """One side's runs: seconds in the training loop (wall and CPU) and the rows it fed."""

    label: str
    runs: list[tuple[float, float]] = field(default_factory=list)
    fed: int = 0  # token positions the model computed (padding included, a shared prefix once)

    @property
    def seconds(self) -> float:
        """The fastest run's wall time: the one least slowed by other work on the machine."""
        return min(wall for wall, _ in self.runs)

    @property
    def cpu(self) -> float:
        """The smallest CPU time (this process, all threads), steadier on a busy host."""
        return min(cpu for _, cpu in self.runs)


def subset_file(data: Path, rows: int, folder: Path) -> tuple[Path, int]:
    """The first ``rows`` conversations of ``data`` as a CLOVA CSV the recipe can read."""
    from tunestudio.data.formats import load_dataset, save_dataset

    conversations = load_dataset(data).conversations[:rows]
    return save_dataset(conversations, folder / "train.csv"), len(conversations)


def encode_all(spec: TuneSpec, tokenizer: Any) -> list[Example]:
    """The recipe's tokenization of every conversation it would train on."""
    from tunestudio.data.formats import load_dataset
    from tunestudio.tuning.tokenize import encode

    conversations = load_dataset(spec.data).conversations
    examples = [encode(tokenizer, c.messages(), spec.max_length) for c in conversations]
    return [e for e in examples if e.target_tokens > 0]  # as tokenize_split skips them


class Clock:
    """Wall and CPU time from ``start()`` to the latest ``stop()``."""

    def __init__(self) -> None:
        self.began = self.ended = (0.0, 0.0)

    def start(self) -> None:
        self.began = (time.perf_counter(), time.process_time())

    def stop(self) -> None:
        self.ended = (time.perf_counter(), time.process_time())

    @property
    def spent(self) -> tuple[float, float]:
        return self.ended[0] - self.began[0], self.ended[1] - self.began[1]


class LoopClock(TrainerCallback):
    """Times the Trainer loop: from its start to the end of its last optimizer step."""

    def __init__(self) -> None:
        self.clock = Clock()

    def on_train_begin(self, *args: Any, **kwargs: Any) -> None:
        self.clock.start()

    def on_step_end(self, *args: Any, **kwargs: Any) -> None:
        self.clock.stop()


def run_trainer(
    spec: TuneSpec, examples: list[Example], tokenizer: Any, out: Path
) -> tuple[tuple[float, float], int]:
    """A plain Trainer + peft LoRA run; returns (wall, CPU) seconds of its training loop and the
    token positions its batches held."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        DataCollatorForSeq2Seq,
        Trainer,
        TrainingArguments,
    )

    from tunestudio.models.tiny import ensure_tiny

    torch.manual_seed(spec.seed)
    model = AutoModelForCausalLM.from_pretrained(ensure_tiny(), dtype=torch.float32)
    lora = LoraConfig(
        r=spec.lora_r,
        lora_alpha=spec.lora_alpha,
        lora_dropout=spec.lora_dropout,
        target_modules=spec.target_modules or "all-linear",
        task_type="CAUSAL_LM",
    )
    peft_model = get_peft_model(model, lora)
    steps = math.ceil(len(examples) / spec.batch_size) * spec.epochs
    args = TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=spec.batch_size,
        num_train_epochs=spec.epochs,
        learning_rate=spec.learning_rate,
        warmup_steps=round(spec.warmup_ratio * steps),  # the recipe's rounding
        weight_decay=spec.weight_decay,
        lr_scheduler_type="linear",
        max_grad_norm=1.0,
        seed=spec.seed,
        use_cpu=True,
        save_strategy="no",
        logging_strategy="no",
        report_to="none",
        disable_tqdm=True,
        remove_unused_columns=False,
    )
    tokenizer.padding_side = "right"  # training pads after the text
    rows = [{"input_ids": e.input_ids, "labels": e.labels} for e in examples]
    collator = DataCollatorForSeq2Seq(tokenizer, padding="longest", label_pad_token_id=-100)
    fed = 0

    def counting(features: list[dict[str, Any]]) -> Any:
        nonlocal fed
        batch = collator(features)
        fed += batch["input_ids"].numel()
        return batch

    clock = LoopClock()
    trainer = Trainer(
        model=peft_model,
        args=args,
        train_dataset=rows,  # a list is a map-style dataset
        data_collator=counting,
        callbacks=[clock],
    )
    trainer.train()
    return clock.clock.spent, fed


def run_ours(spec: TuneSpec, out: Path) -> tuple[tuple[float, float], int]:
    """The recipe; returns (wall, CPU) seconds of its loop and the token positions it fed.

    The loop runs from the "prepared" event (emitted just before it starts) to the last "step".
    """
    from tunestudio.tuning import forward
    from tunestudio.tuning.recipe import run_recipe

    clock, fed = Clock(), 0
    collate = forward.Forward.collate

    def counting(self: forward.Forward, rows: Any, pad_id: int) -> Any:
        nonlocal fed
        batch = collate(self, rows, pad_id)
        fed += batch["input_ids"].numel()
        return batch

    def on_event(kind: str, data: dict[str, Any]) -> None:
        if kind == "prepared":
            clock.start()
        elif kind == "step":
            clock.stop()

    forward.Forward.collate = counting  # type: ignore[method-assign]
    try:
        run_recipe(spec, out, on_event=on_event)
    finally:
        forward.Forward.collate = collate  # type: ignore[method-assign]
    return clock.spent, fed


def measure(spec: TuneSpec, examples: list[Example], tokenizer: Any, repeat: int) -> list[Timing]:
    """Every side ``repeat`` times, in turns, the order reversed every other round (so a busy
    spell or a warm cache favours no side)."""
    padded = spec.model_copy(update={"packing": False})
    packed = spec.model_copy(update={"packing": True})
    timings = [Timing("HF Trainer + peft"), Timing("recipe"), Timing("recipe --packing")]
    sides = [
        lambda out: run_trainer(spec, examples, tokenizer, out),
        lambda out: run_ours(padded, out),
        lambda out: run_ours(packed, out),
    ]
    for round_ in range(repeat):
        order = range(3) if round_ % 2 == 0 else range(2, -1, -1)
        for index in order:
            with tempfile.TemporaryDirectory() as tmp:
                load = os.getloadavg()[0]
                spent, timings[index].fed = sides[index](Path(tmp) / "run")
            timings[index].runs.append(spent)
            print(
                f"  round {round_ + 1}: {timings[index].label:<18} {spent[0]:7.2f} s wall "
                f"{spent[1]:7.2f} s cpu  (load average before: {load:.2f})",
                flush=True,
            )
    return timings


def report(spec: TuneSpec, rows: int, examples: list[Example], timings: list[Timing]) -> None:
    """Print the settings and the table: method, seconds, real tokens/s, ratio vs Trainer."""
    import torch

    tokens = sum(len(e.input_ids) for e in examples) * spec.epochs
    print(
        f"model: tiny, data: {spec.data.name} ({rows} rows, {len(examples)} trained), "
        f"{tokens / spec.epochs / len(examples):.0f} tokens per row, epochs {spec.epochs}, "
        f"batch {spec.batch_size}, max_length {spec.max_length}, "
        f"LoRA r={spec.lora_r} alpha={spec.lora_alpha} dropout={spec.lora_dropout} all-linear, "
        f"torch threads {torch.get_num_threads()}"
    )
    print(f"real tokens trained: {tokens} (fed: token positions the model computed)")
    print(
        f"{'method':<18} {'fed':>7} {'seconds':>8} {'real tokens/s':>14} {'ratio':>6}"
        f"   {'cpu s':>7} {'tokens/cpu-s':>12} {'ratio':>6}"
    )
    first = timings[0]
    for t in timings:
        rate, cpu_rate = tokens / t.seconds, tokens / t.cpu
        print(
            f"{t.label:<18} {t.fed / tokens:>6.2f}x {t.seconds:>8.2f} {rate:>14.0f} "
            f"{first.seconds / t.seconds:>5.2f}x   {t.cpu:>7.2f} {cpu_rate:>12.0f} "
            f"{first.cpu / t.cpu:>5.2f}x"
        )
    print("goals: recipe >= 1.0x, recipe --packing >= 1.5x (vs HF Trainer + peft)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / "examples/inquiry/train.csv")
    parser.add_argument("--rows", type=int, default=400, help="first N conversations")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=512, help="also the packed row width")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the fastest is kept")
    parser.add_argument("--lora-dropout", type=float, default=0.0, help="for both sides")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads for both sides (default: torch's, one per core); 1 is steadier "
        "when other work shares the cores",
    )
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    from tunestudio.models.hf_load import load_tokenizer
    from tunestudio.models.tiny import ensure_tiny

    with tempfile.TemporaryDirectory() as tmp:
        data, rows = subset_file(args.data, args.rows, Path(tmp))
        spec = TuneSpec(
            model="tiny",
            data=data,
            epochs=args.epochs,
            batch_size=args.batch_size,
            max_length=args.max_length,
            lora_dropout=args.lora_dropout,
            checkpoint_every=1_000_000,  # the Trainer side saves nothing either
        )
        tokenizer = load_tokenizer(str(ensure_tiny()))
        examples = encode_all(spec, tokenizer)
        timings = measure(spec, examples, tokenizer, args.repeat)
        report(spec, rows, examples, timings)


if __name__ == "__main__":
    main()
