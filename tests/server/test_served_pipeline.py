"""A ``pipeline:`` model served like any other: the ledger sums its calls per API key."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.cli_runner import run_cli
from tests.server.live_app import LiveApp, sdk
from tunestudio.server import ModelEntry, ServerConfig
from tunestudio.server.config import load_server_config


def test_a_served_pipeline_records_calls_per_key(
    tmp_path: Path, llama_dir: Path, start: Callable[..., LiveApp]
) -> None:
    (tmp_path / "gateway.yaml").write_text(
        f"name: gateway\nmodel: hf:{llama_dir}\n"
        f"prices:\n  hf:{llama_dir}: {{input_per_1k: 1.0, output_per_1k: 2.0}}\n",
        encoding="utf-8",
    )
    (tmp_path / "serve.yaml").write_text(
        "models:\n  support: pipeline:gateway.yaml\nworker: false\n", encoding="utf-8"
    )
    config = load_server_config(tmp_path / "serve.yaml")  # the path is taken from the file's folder
    assert config.models == [
        ModelEntry(name="support", spec=f"pipeline:{tmp_path / 'gateway.yaml'}")
    ]
    live = start(ServerConfig(models=config.models, worker=False))
    created = json.loads(run_cli("keys", "create", "--name", "team-a", "--json").stdout)
    client = sdk(live, api_key=created["apiKey"])
    for question in ("배송 조회는 어디서 하나요?", "환불 되나요?"):
        answer = client.chat.completions.create(
            model="support", messages=[{"role": "user", "content": question}], max_tokens=3
        )
        assert answer.choices[0].message.content is not None
    live.__exit__()  # closing the server closes the pipeline, which writes its ledger out
    [row] = json.loads(run_cli("stats", "--by", "key", "--json").stdout)
    assert row["group"] == created["id"]
    assert row["requests"] == 2 and row["cost"] > 0
