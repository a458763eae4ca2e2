"""Real local models for the CLI tests, built once (never downloaded).

``llama_dir``: a small random Llama in HF layout (``hf:<dir>``), built in a second.
``tiny_home``: the built-in ``tiny`` model. Its first build takes about a minute, so it goes to
pytest's cache (``.pytest_cache/d/tunestudio-tiny``, shared with the contract battery) and each
test's own TUNESTUDIO_HOME gets a link to it.

Import the ``*_fixture`` functions into a test module to use the fixtures there.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.model_fixtures import build_random_llama


@pytest.fixture(scope="session", name="llama_dir")
def llama_dir_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_random_llama(tmp_path_factory.mktemp("llama"))


@pytest.fixture(scope="session", name="tiny_built")
def tiny_built_fixture(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    from tunestudio.models.tiny import ensure_tiny

    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    home = cache.mkdir("tunestudio-tiny") if cache else tmp_path_factory.mktemp("tiny-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TUNESTUDIO_HOME", str(home))
        return ensure_tiny()


@pytest.fixture(name="tiny_home")
def tiny_home_fixture(tiny_built: Path) -> Path:
    """This test's TUNESTUDIO_HOME, with the built tiny model linked into it."""
    from tunestudio.models.tiny import tiny_dir

    target = tiny_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(tiny_built, target_is_directory=True)
    return target.parent.parent
