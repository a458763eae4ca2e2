"""The backends the contract battery runs against, each built once per test session.

* ``hf`` — a small random Llama built by ``tests.model_fixtures`` (never downloaded).
* ``openai`` — ``openai:<url>/v1#fixture`` against the local OpenAI-compatible server, which
  answers with that same hf model, over real HTTP on 127.0.0.1.
* ``clova-v3``, ``clova-v1``, ``clova-task`` — ``clova:HCX-005``, ``clova:HCX-003`` and
  ``clova-task:<id>`` against the local CLOVA Studio server answering with the hf model.
* ``tiny`` — the built-in model, when ``tunestudio.models.tiny`` exists. Its first build takes
  about a minute, so it is marked slow and built into pytest's cache directory
  (``.pytest_cache/d/tunestudio-tiny``), where later sessions find it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.http_servers import ClovaServer, LiveServer, OpenAIServer
from tests.http_servers.clova import to_params as clova_params
from tests.http_servers.openai import to_params as openai_params
from tests.model_fixtures import build_random_llama
from tunestudio.models import Backend, load_backend
from tunestudio.types import GenParams, Message

BEARER_KEY = "nv-contract-test-key-0123456789"
OPENAI_KEY = "sk-contract-test-key-0123456789"
TASK_ID = "ctask7x1"


@dataclass
class Case:
    """One backend under test, how to make another like it, and what it must agree with."""

    name: str
    backend: Backend
    make: Callable[[], Backend]
    reference: Backend  # the model that really generates (the backend itself when local)
    server: ClovaServer | OpenAIServer | None = None
    wire: str = ""  # "v1"/"v3" for CLOVA, "openai" for OpenAI

    def served_params(self) -> tuple[list[Message], GenParams]:
        """The messages and parameters the server derived from the last request it saw."""
        assert self.server is not None
        body: dict[str, Any] = self.server.seen.last.body
        messages = [Message(m["role"], m["content"]) for m in body["messages"]]
        if self.wire == "openai":
            return messages, openai_params(body)
        return messages, clova_params(self.wire, body)[0]


@pytest.fixture(scope="session")
def contract_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_random_llama(tmp_path_factory.mktemp("contract-llama"))


@pytest.fixture(scope="session")
def hf_case(contract_model_dir: Path) -> Iterator[Case]:
    def make() -> Backend:
        return load_backend(f"hf:{contract_model_dir}")

    backend = make()
    yield Case("hf", backend, make, backend)
    backend.close()


@pytest.fixture(scope="session")
def clova_live(hf_case: Case) -> Iterator[tuple[ClovaServer, str]]:
    server = ClovaServer(hf_case.backend, bearer_keys=(BEARER_KEY,), tasks=(TASK_ID,))
    with LiveServer(server.app) as live:
        yield server, live.url


@pytest.fixture(scope="session")
def openai_live(hf_case: Case) -> Iterator[tuple[OpenAIServer, str]]:
    server = OpenAIServer(hf_case.backend, model="fixture", api_key=OPENAI_KEY)
    with LiveServer(server.app) as live:
        yield server, live.url


def _remote_case(
    name: str, spec: str, wire: str, live: tuple[Any, str], reference: Case, **options: Any
) -> Iterator[Case]:
    server, url = live

    def make() -> Backend:
        if wire == "openai":
            return load_backend(f"openai:{url}/v1#fixture", api_key=OPENAI_KEY, **options)
        return load_backend(spec, base_url=url, api_key=BEARER_KEY, **options)

    backend = make()
    yield Case(name, backend, make, reference.backend, server, wire)
    backend.close()


@pytest.fixture(scope="session")
def openai_case(openai_live: tuple[OpenAIServer, str], hf_case: Case) -> Iterator[Case]:
    yield from _remote_case("openai", "", "openai", openai_live, hf_case)


@pytest.fixture(scope="session")
def clova_v3_case(clova_live: tuple[ClovaServer, str], hf_case: Case) -> Iterator[Case]:
    yield from _remote_case("clova-v3", "clova:HCX-005", "v3", clova_live, hf_case)


@pytest.fixture(scope="session")
def clova_v1_case(clova_live: tuple[ClovaServer, str], hf_case: Case) -> Iterator[Case]:
    yield from _remote_case("clova-v1", "clova:HCX-003", "v1", clova_live, hf_case)


@pytest.fixture(scope="session")
def clova_task_case(clova_live: tuple[ClovaServer, str], hf_case: Case) -> Iterator[Case]:
    yield from _remote_case("clova-task", f"clova-task:{TASK_ID}", "v1", clova_live, hf_case)


@pytest.fixture(scope="session")
def tiny_case(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Case]:
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    home = cache.mkdir("tunestudio-tiny") if cache else tmp_path_factory.mktemp("tiny-home")

    def make() -> Backend:
        # The per-test TUNESTUDIO_HOME is not set up yet for session fixtures; point at the
        # cache so the build is shared by every session.
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("TUNESTUDIO_HOME", str(home))
            return load_backend("tiny")

    backend = make()
    yield Case("tiny", backend, make, backend)
    backend.close()


TINY_AVAILABLE = importlib.util.find_spec("tunestudio.models.tiny") is not None
CASES = [
    pytest.param(
        "tiny",
        marks=[
            pytest.mark.slow,
            pytest.mark.skipif(not TINY_AVAILABLE, reason="tunestudio.models.tiny not written yet"),
        ],
    ),
    "hf",
    "openai",
    "clova-v3",
    "clova-v1",
    "clova-task",
]


@pytest.fixture(scope="session", params=CASES)
def case(request: pytest.FixtureRequest) -> Case:
    """Each backend of the battery in turn."""
    fixture = request.param.replace("-", "_") + "_case"
    found: Case = request.getfixturevalue(fixture)
    return found
