"""Very small random Hugging Face models built on the spot, so model tests never download.

``build_random_llama(out_dir)`` writes a Llama model with a few thousand parameters and the tiny
model's byte-level BPE tokenizer (with the SEED chat template) in the usual HF layout, loadable
as ``hf:<out_dir>``. Its weights are random, so it speaks nonsense, but deterministically: the same
seed gives the same files and the same greedy output.
"""

from __future__ import annotations

from pathlib import Path

FIXTURE_TEXTS = (
    "안녕하세요, 무엇을 도와드릴까요?",
    "결제 내역을 확인하고 싶어요. 환불은 언제 되나요?",
    "사진이 업로드되지 않아요. 용량이 부족하다고 나옵니다.",
    "프랑스, 독일, 이탈리아는 유럽에 있습니다.",
    "The quick brown fox jumps over the lazy dog.",
    "Hello world, this is a tiny test model.",
    "1234567890 ,.?!:;-()[]",
)


def build_random_llama(
    out_dir: Path,
    *,
    seed: int = 0,
    chat_template: bool = True,
    hidden_size: int = 32,
    num_layers: int = 2,
) -> Path:
    """Build and save a random Llama causal LM and its tokenizer into ``out_dir``.

    ``initializer_range`` is large on purpose: random logits then differ clearly, so greedy
    decoding does not hinge on float noise (batched and one-by-one runs must agree).
    """
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    from tunestudio.models.tiny_tokenizer import IM_END, SEED_CHAT_TEMPLATE, train_tokenizer

    tokenizer = train_tokenizer(
        list(FIXTURE_TEXTS) * 4,
        vocab_size=400,
        chat_template=SEED_CHAT_TEMPLATE if chat_template else None,
    )
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        initializer_range=0.5,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=[tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids(IM_END)],
        pad_token_id=tokenizer.pad_token_id,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
