"""``tunestudio serve`` as a user runs it: a real process, TLS, the SDK, Ctrl-C."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest

from tests.cli_runner import run_cli
from tests.conftest import REPO


def test_serve_refuses_every_interface_without_a_key() -> None:
    result = run_cli("serve", "--host", "0.0.0.0", "--no-worker")
    assert result.exit_code == 2
    assert "refusing to listen on 0.0.0.0 without an API key" in result.stderr
    assert "tunestudio keys create" in result.stderr


def test_serve_reports_bad_flags() -> None:
    missing = run_cli("serve", "--ssl-certfile", "/no/cert.pem", "--ssl-keyfile", "/no/key.pem")
    assert missing.exit_code == 2
    assert "--ssl-certfile: file not found: /no/cert.pem" in missing.stderr
    bad = run_cli("serve", "--model", "x=nope:1")
    assert bad.exit_code == 2 and "unknown model spec 'nope:1'" in bad.stderr


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 made with the openssl CLI (the cryptography package is not
    installed)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI for a test cert")
def test_serve_over_tls_answers_the_sdk_and_stops_on_ctrl_c(
    tmp_path: Path, llama_dir: Path
) -> None:
    cert, key = self_signed(tmp_path)
    port = free_port()
    command = [
        sys.executable, "-m", "tunestudio.cli.main", "serve", "--port", str(port),
        "--model", f"fixture=hf:{llama_dir}", "--no-worker",
        "--ssl-certfile", str(cert), "--ssl-keyfile", str(key),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    server = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    trust = ssl.create_default_context(cafile=str(cert))
    try:
        _wait_until_up(f"https://127.0.0.1:{port}/healthz", trust, server)
        with httpx.Client(verify=trust) as http:
            client = openai.OpenAI(
                base_url=f"https://127.0.0.1:{port}/v1", api_key="x", http_client=http
            )
            answer = client.chat.completions.create(
                model="fixture",
                messages=[{"role": "user", "content": "안녕하세요"}],
                max_tokens=4,
                temperature=0,
            )
            assert answer.choices[0].message.content
        with pytest.raises(httpx.ConnectError):  # a client that does not trust the cert
            httpx.get(f"https://127.0.0.1:{port}/healthz")
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output
    assert f"serving 1 model(s) at https://127.0.0.1:{port}/v1" in output
    assert "auth: open" in output and "tuning worker: off" in output
    assert "Application shutdown complete" in output


def _wait_until_up(url: str, trust: ssl.SSLContext, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"serve exited early:\n{server.communicate()[0]}")
        try:
            if httpx.get(url, verify=trust).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("serve did not come up within 60 s")
