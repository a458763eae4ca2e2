"""The byte-level BPE tokenizer and chat template of the built-in ``tiny`` model.

The chat template follows HyperCLOVA X SEED's ChatML-derived layout (an always-present
``tool_list`` block; assistant turns end ``<|im_end|><|endofturn|>``), so the tiny model is shaped
like the model people actually tune. The test fixtures build their random models with the same
tokenizer code.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
END_OF_TURN = "<|endofturn|>"
STOP = "<|stop|>"
PAD = "<|endoftext|>"
SPECIAL_TOKENS = (PAD, IM_START, IM_END, END_OF_TURN, STOP)

# Jinja, rendered by transformers with trim_blocks/lstrip_blocks, so every newline is written as
# an expression: a literal newline after a block tag would be trimmed away.
SEED_CHAT_TEMPLATE = (
    "{% if not messages or messages[0]['role'] != 'tool_list' %}"
    "{{ '<|im_start|>tool_list\\n<|im_end|>\\n' }}"
    "{% endif %}"
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' }}"
    "{% if message['role'] == 'assistant' %}{{ '<|endofturn|>' }}{% endif %}"
    "{{ '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def train_tokenizer(
    texts: Iterable[str], *, vocab_size: int = 4000, chat_template: str | None = SEED_CHAT_TEMPLATE
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer on ``texts`` and wrap it for transformers.

    Byte-level means any text encodes (no unknown token); the chat markers are special tokens so
    they are single ids that decoding with ``skip_special_tokens`` hides. ``chat_template=None``
    leaves the template out (tests use that to exercise the missing-template error).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token=END_OF_TURN,
        pad_token=PAD,
        additional_special_tokens=[IM_START, IM_END, STOP],
        padding_side="left",
    )
    if chat_template is not None:
        wrapped.chat_template = chat_template
    return wrapped
