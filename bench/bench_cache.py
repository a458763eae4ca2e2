"""Caches: exact hits through the HTTP server, semantic lookups at 100k entries, hit precision.

    .venv/bin/python bench/bench_cache.py [--part http|semantic|precision|all] [--model tiny]

* ``http`` — ``tunestudio serve``'s app (the real ``build_app`` under uvicorn, in its own
  process, as bench/bench_server.py runs it) serving a ``pipeline:`` file with an
  ``exact_cache`` (SQLite under a temporary data dir) around ``--model``. One request warms the
  cache, then a keep-alive ``http.client`` connection times hits; misses (each request a new
  question, so the model generates) run through the same server, and hits of the same pipeline
  in this process give the in-process floor. Goal: hit p50 <= 2 ms over HTTP.
* ``semantic`` — the semantic cache's index at 100k entries (random unit vectors of the default
  embedder's dimension, plus planted paraphrase neighbours) against a 1k-entry baseline, with
  real query embeddings; and how often the two-stage search agrees with exact search.
  Goal: p95 <= 10 ms at 100k.
* ``precision`` — examples/paraphrase/pairs.csv: each pair's ``a`` is answered and cached,
  ``b`` is asked; a hit is right only for a ``paraphrase`` pair. Precision and recall at
  several thresholds, with and without the guard.

No assertions: the numbers go to docs/ops/caching.md.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from bench_server import free_port, wait_up  # bench/ is on sys.path when run as a script

REPO = Path(__file__).resolve().parents[1]
PAIRS = REPO / "examples" / "paraphrase" / "pairs.csv"
SYSTEM = "고객 문의를 15개 카테고리 중 하나로 분류하세요."
QUESTION = "결제 내역이 두 번 찍혔어요. 환불은 언제 되나요?"


def pct(values: list[float], q: int) -> float:
    """The q-th percentile in milliseconds (values in seconds)."""
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


def body(question: str, max_tokens: int) -> bytes:
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]
    wire = {"model": "bench", "messages": messages, "max_tokens": max_tokens, "temperature": 0}
    return json.dumps(wire, ensure_ascii=False).encode()


def write_pipeline(home: Path, model: str) -> Path:
    path = home / "gateway.yaml"
    path.write_text(f"name: bench\nmodel: {model}\npipeline:\n  - exact_cache: {{}}\n")
    return path


def serve(port: int, home: str, pipeline: str) -> None:
    """The server process: build_app over the pipeline, run by uvicorn like `tunestudio serve`."""
    import uvicorn

    from tunestudio.config import Settings
    from tunestudio.server import ServerConfig, build_app

    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 — the access log goes here
    os.environ["TUNESTUDIO_HOME"] = home  # the cache file and the ledger live here
    config = ServerConfig.model_validate(
        {"models": {"bench": f"pipeline:{pipeline}"}, "worker": False}
    )
    app = build_app(config, settings=Settings(home=Path(home)))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="info", access_log=True)


def timed_gets(conn: http.client.HTTPConnection, count: int) -> list[float]:
    """Seconds per ``GET /healthz`` (no auth, no model): the server's own floor."""
    out = []
    for _ in range(count):
        start = time.perf_counter()
        conn.request("GET", "/healthz")
        conn.getresponse().read()
        out.append(time.perf_counter() - start)
    return out


def timed_posts(conn: http.client.HTTPConnection, payloads: list[bytes]) -> list[float]:
    """Seconds per request, sequentially on one keep-alive connection."""
    headers = {"Content-Type": "application/json"}
    out = []
    for payload in payloads:
        start = time.perf_counter()
        conn.request("POST", "/v1/chat/completions", payload, headers)
        response = conn.getresponse()
        data = response.read()
        out.append(time.perf_counter() - start)
        if response.status != 200:
            raise SystemExit(f"HTTP {response.status}: {data[:300]!r}")
    return out


def in_process_hits(pipeline: Path, count: int, max_tokens: int) -> list[float]:
    """Hits of the same kind of pipeline in this process: wire body -> core -> chat."""
    from tunestudio.ops.pipeline import load_pipeline
    from tunestudio.server.openai.protocol import ChatCompletionRequest

    backend = load_pipeline(pipeline)
    payload = json.loads(body(QUESTION, max_tokens))
    chat = ChatCompletionRequest.model_validate(payload).to_core(512)
    backend.chat(chat.messages, chat.params)  # the answer is already stored by the server
    out = []
    for _ in range(count):
        start = time.perf_counter()
        chat = ChatCompletionRequest.model_validate(payload).to_core(512)
        backend.chat(chat.messages, chat.params)
        out.append(time.perf_counter() - start)
    backend.close()
    return out


def bench_http(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        pipeline = write_pipeline(home, args.model)
        port = free_port()
        server = multiprocessing.get_context("spawn").Process(
            target=serve, args=(port, str(home), str(pipeline))
        )
        server.start()
        try:
            wait_up(port)
            conn = http.client.HTTPConnection("127.0.0.1", port)
            hit = body(QUESTION, args.max_tokens)
            timed_posts(conn, [hit] * 50)  # warm: the model's answer is stored, imports done
            hits: list[float] = []
            misses: list[float] = []
            floor: list[float] = []
            rounds = 5
            for r in range(rounds):  # alternate so a busy spell on the machine hits both
                hits += timed_posts(conn, [hit] * (args.requests // rounds))
                floor += timed_gets(conn, args.requests // rounds)
                fresh = [body(f"{QUESTION} ({r}-{i})", args.max_tokens) for i in range(20)]
                misses += timed_posts(conn, fresh)
            conn.close()
        finally:
            server.terminate()
            server.join(10)
        local = in_process_hits(pipeline, args.requests, args.max_tokens)
    hit50, local50, miss50 = pct(hits, 50), pct(local, 50), pct(misses, 50)
    print(
        f"model {args.model}, max_tokens {args.max_tokens}, load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'':34}{'p50 ms':>9}{'p95 ms':>9}")
    print(f"{'exact hit over HTTP':34}{hit50:9.3f}{pct(hits, 95):9.3f}   (goal p50 <= 2 ms)")
    print(f"{'miss over HTTP (model generates)':34}{miss50:9.3f}{pct(misses, 95):9.3f}")
    print(f"{'exact hit in-process':34}{local50:9.3f}{pct(local, 95):9.3f}")
    print(f"{'GET /healthz (the server floor)':34}{pct(floor, 50):9.3f}{pct(floor, 95):9.3f}")
    print(
        f"hit / miss over HTTP: {hit50 / miss50:.4f} (a hit takes {hit50 / miss50:.1%} of a miss)"
    )
    print(f"HTTP hit / in-process hit: {hit50 / local50:.1f}x (the server's share)")


def index_latency(index: Any, queries: np.ndarray, threshold: float) -> list[float]:
    out = []
    for query in queries:
        start = time.perf_counter()
        index.search(query, threshold)
        out.append(time.perf_counter() - start)
    return out


def background_rows(embedder: Any, count: int, rng: np.random.Generator) -> np.ndarray:
    """What fills the index besides the planted paraphrases. A sparse embedder (hash-ko) gets
    real embeddings of generated customer inquiries: its index reads the rows that share the
    query's buckets, so random vectors would flatter it (real questions share many n-grams).
    A dense embedder gets random unit vectors (its search reads every row anyway)."""
    if getattr(embedder, "sparse", False):
        from tunestudio.data.generators.inquiries import generate_inquiries

        texts = [c.turns[0].user for c in generate_inquiries(count, seed=11)]
        rows = np.empty((count, embedder.dimensions), dtype=np.float32)
        for start in range(0, count, 1000):
            rows[start : start + 1000] = embedder.embed_array(texts[start : start + 1000])
        return rows
    noise = rng.standard_normal((count, embedder.dimensions), dtype=np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    return noise


def bench_semantic(args: argparse.Namespace) -> None:
    from tunestudio.ops.cache_index import VectorIndex
    from tunestudio.ops.cache_semantic import DEFAULT_THRESHOLD
    from tunestudio.ops.cache_sparse import SparseIndex
    from tunestudio.ops.embeddings import DEFAULT_EMBEDDER, load_embedder

    embedder = load_embedder(args.embedder or DEFAULT_EMBEDDER)
    sparse = getattr(embedder, "sparse", False)
    rows = list(csv.DictReader(PAIRS.open(encoding="utf-8-sig")))
    pairs = [r for r in rows if r["label"] == "paraphrase"][:200]
    stored = np.asarray(embedder.embed([r["a"] for r in pairs]), dtype=np.float32)
    queries = np.asarray(embedder.embed([r["b"] for r in pairs]), dtype=np.float32)
    rng = np.random.default_rng(0)
    dims = stored.shape[1]
    threshold = args.threshold or DEFAULT_THRESHOLD
    background = background_rows(embedder, args.entries - len(pairs), rng)
    results = {}
    for size in (1_000, args.entries):
        index: Any = SparseIndex(dims) if sparse else VectorIndex(dims)
        index.add_many([(f"n{i}", "", v) for i, v in enumerate(background[: size - len(pairs)])])
        index.add_many(
            [(f"p{i}", r["a"], v) for i, (r, v) in enumerate(zip(pairs, stored, strict=True))]
        )
        index_latency(index, queries[:20], threshold)  # warm
        times = index_latency(index, np.concatenate([queries] * 3), threshold)
        results[size] = (pct(times, 50), pct(times, 95))
    kind = "sparse, exact" if sparse else "two-stage"
    (b50, b95), (l50, l95) = results[1_000], results[args.entries]
    print(f"embedder {embedder.name} ({dims} dims), threshold {threshold}, {len(queries)} queries")
    print(f"{'':28}{'p50 ms':>9}{'p95 ms':>9}")
    print(f"{'1,000 entries':28}{b50:9.3f}{b95:9.3f}")
    label = f"{args.entries:,} entries ({kind})"
    print(f"{label:28}{l50:9.3f}{l95:9.3f}   (goal p95 <= 10 ms)")
    print(f"p95 ratio {args.entries:,} / 1,000: {l95 / b95:.1f}x")
    if not sparse:  # the sparse index is exact; the two-stage search can lose a hit
        exact = VectorIndex(dims, exact_limit=args.entries)
        exact.add_many(list(zip(index._keys, index._texts, index._vectors, strict=False)))
        best = [exact.search(q, threshold, 1) for q in queries]
        found = sum(bool(b) for b in best)
        agree = sum(
            bool(b) and index.search(q, threshold, 1) == b
            for q, b in zip(queries, best, strict=True)
        )
        print(f"two-stage search found {agree} of the {found} hits exact search finds")
    start = time.perf_counter()
    for row in pairs[:50]:
        embedder.embed([row["b"]])
    print(f"embedding one question: {(time.perf_counter() - start) / 50 * 1000:.2f} ms (mean)")


def bench_precision(args: argparse.Namespace) -> None:
    from tunestudio.ops.cache_guard import Guard
    from tunestudio.ops.embeddings import DEFAULT_EMBEDDER, load_embedder

    embedder = load_embedder(args.embedder or DEFAULT_EMBEDDER)
    rows = list(csv.DictReader(PAIRS.open(encoding="utf-8-sig")))
    a = np.asarray(embedder.embed([r["a"] for r in rows]), dtype=np.float32)
    b = np.asarray(embedder.embed([r["b"] for r in rows]), dtype=np.float32)
    cosine = (a * b).sum(axis=1)
    guard = Guard()
    refused = [guard.check(r["b"], r["a"]) for r in rows]
    labels = [r["label"] for r in rows]
    positives = labels.count("paraphrase")
    print(f"{PAIRS.relative_to(REPO)}: {len(rows)} pairs ({dict(Counter(labels))})")
    print(f"embedder {embedder.name}; a hit is right only for a paraphrase pair")
    print(f"{'threshold':>9} {'guard':>5} {'hits':>5} {'precision':>9} {'recall':>7}  wrong hits")
    for threshold in args.thresholds:
        for guarded in (False, True):
            hits = [
                i
                for i in range(len(rows))
                if cosine[i] >= threshold and not (guarded and refused[i])
            ]
            right = sum(labels[i] == "paraphrase" for i in hits)
            wrong = Counter(labels[i] for i in hits if labels[i] != "paraphrase")
            precision = right / len(hits) if hits else float("nan")
            print(
                f"{threshold:9.2f} {'on' if guarded else 'off':>5} {len(hits):5d} "
                f"{precision:9.3f} {right / positives:7.3f}  {dict(wrong)}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["http", "semantic", "precision", "all"], default="all")
    parser.add_argument("--model", default="tiny", help="the model behind the exact cache")
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--requests", type=int, default=1000, help="timed hits per side")
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--embedder", default=None, help="default: the semantic cache's")
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument(
        "--thresholds", type=float, nargs="+", default=[0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6]
    )
    args = parser.parse_args()
    for part, run in (("http", bench_http), ("semantic", bench_semantic)):
        if args.part in (part, "all"):
            print(f"== {part}")
            run(args)
    if args.part in ("precision", "all"):
        print("== precision")
        bench_precision(args)


if __name__ == "__main__":
    main()
