"""examples/ops/gateway.yaml end to end: window → exact cache → semantic cache → cascade.

The file is used as shipped, with two places pointed at test models: the cheap model is a
small random Llama (its answers are never a category, so the label gate escalates every one),
and HCX-005 is answered by a CLOVA Studio stand-in over real HTTP. Two ``infer`` runs of the
same questions: the first calls the models, the second is answered by the caches; ``stats``
shows the escalations, the hits and the cost they saved.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_runner import run_cli
from tests.conftest import EXAMPLES
from tests.http_servers import LiveServer
from tests.http_servers.clova import ClovaServer
from tests.unit.inference.local_models import llama_dir_fixture  # noqa: F401
from tests.unit.inference.scripted import ScriptedBackend
from tunestudio.data.table import write_table

KEY = "nv-gateway-test-key-0123456789"
CHEAP = "hf:../../demo-output/inquiry/tuning/tiny+tuned/adapter"


@pytest.fixture
def clova(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ClovaServer(ScriptedBackend(), bearer_keys=(KEY,))
    with LiveServer(server.app) as running:
        monkeypatch.setenv("CLOVASTUDIO_BASE_URL", running.url)
        monkeypatch.setenv("CLOVASTUDIO_API_KEY", KEY)
        yield running.url


def test_the_example_gateway_saves_calls_and_reports_them(
    tmp_path: Path, llama_dir: Path, clova: str
) -> None:
    text = (EXAMPLES / "ops" / "gateway.yaml").read_text(encoding="utf-8")
    assert text.count(CHEAP) == 2  # in prices and in the cascade
    gateway = tmp_path / "gateway.yaml"
    gateway.write_text(
        text.replace(CHEAP, f"hf:{llama_dir}").replace(
            "../inquiry/train.csv", str(EXAMPLES / "inquiry" / "train.csv")
        ),
        encoding="utf-8",
    )
    questions = tmp_path / "q.csv"
    rows = ["결제 내역이 두 번 찍혔어요", "배송 조회는 어디서 하나요?", "비밀번호를 바꾸고 싶어요"]
    write_table(questions, ["user"], [{"user": q} for q in rows])

    for run in ("first", "second"):
        done = run_cli(
            "infer", f"pipeline:{gateway}", str(questions), "-o", str(tmp_path / f"{run}.csv"),
            "--max-tokens", "4",
        )  # fmt: skip
        assert done.exit_code == 0, done.stderr

    outcomes = {
        r["group"]: r for r in json.loads(run_cli("stats", "--by", "outcome", "--json").stdout)
    }
    assert outcomes["rejected"]["rejected"] == 3  # the cheap model's answers failed the labels gate
    assert outcomes["call"]["calls"] == 6  # 3 cheap + 3 escalated, all in the first run
    assert outcomes["exact_hit"]["exact_hits"] == 3  # the second run: no model call at all
    assert outcomes["exact_hit"]["saved_cost"] > 0  # priced as HCX-005 answered them
    by_run = {r["group"]: r for r in json.loads(run_cli("stats", "--by", "run", "--json").stdout)}
    assert by_run["infer:second.csv"]["calls"] == 0 and by_run["infer:second.csv"]["requests"] == 3
