"""Model fixtures: small random HF models, built once per test session (never downloaded)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.model_fixtures import build_random_llama


@pytest.fixture(scope="session")
def random_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random Llama model with the SEED chat template, in HF layout."""
    return build_random_llama(tmp_path_factory.mktemp("random-llama"))


@pytest.fixture(scope="session")
def random_llama_no_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same kind of model whose tokenizer has no chat template."""
    return build_random_llama(tmp_path_factory.mktemp("no-template"), chat_template=False)
