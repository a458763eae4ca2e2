"""Classification cost: kNN over embeddings vs a generative model, on the inquiry test set.

Seed item 7 compares the Search API (embed, find the nearest labelled examples) with Chat
Completion (the model writes the label) for classification. This measures what one test
question costs each way on this machine, in the same process and on the same 100 questions of
examples/inquiry/test.csv:

- baseline: the generative model answers with the system prompt, batched on the device
  (``chat_batch``, batch 64, greedy, ``--max-tokens`` as in examples/inquiry/classify.yaml);
- contender: the default embedder embeds the question and a kNN (k=5) over the 1,000 embedded
  training rows votes. Embedding the training rows is a one-time index cost, printed apart.

    .venv/bin/python bench/bench_classify.py [--model tiny] [--k 5] [--max-tokens 16]

``--model`` takes any spec, e.g. a tuned tiny from a classify run (its ``model_spec`` in
run.json): ``hf:runs/classify/tuning/tiny-n1000-s0/adapter``. Prints milliseconds per question,
tokens per answer, accuracy of each, and the ratio. No assertions: numbers go to
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from tunestudio.data.formats import load_dataset
from tunestudio.data.table import read_table
from tunestudio.experiments.knn import KnnClassifier, open_embedder
from tunestudio.inference import read_batch_input
from tunestudio.models import load_backend
from tunestudio.types import GenParams

INQUIRY = Path(__file__).resolve().parent.parent / "examples" / "inquiry"
GOAL = "none numeric (seed 7 asks which way suits classification, at what cost)"


def generative(spec: str, max_tokens: int) -> tuple[list[str], float, int]:
    """The model's answers to the test set, the wall seconds of answering (model loaded) and
    the tokens it generated."""
    batch = read_batch_input(INQUIRY / "test.csv")
    backend = load_backend(spec, max_batch_size=64)
    try:
        params = GenParams(max_tokens=max_tokens, temperature=0.0)
        backend.chat_batch(batch.conversations[:2], params)  # warm-up: first-call allocations
        started = time.perf_counter()
        results = []
        for start in range(0, len(batch), 64):
            results += backend.chat_batch(batch.conversations[start : start + 64], params)
        wall = time.perf_counter() - started
        tokens = sum(r.usage.output_tokens for r in results)
        return [r.content.strip() for r in results], wall, tokens
    finally:
        backend.close()


def knn(k: int) -> tuple[list[str], float, float]:
    """kNN answers, seconds to classify the test set, seconds to embed the training set."""
    train = load_dataset(INQUIRY / "train.csv").conversations
    questions = [str(r["user"]) for r in read_table(INQUIRY / "test.csv").rows]
    embedder = open_embedder(None)
    try:
        embedder.embed(questions[:2])  # warm-up: model files, morphological analyser
        started = time.perf_counter()
        vectors = np.asarray(embedder.embed([c.turns[-1].user for c in train]), dtype=np.float32)
        index_s = time.perf_counter() - started
        classifier = KnnClassifier(vectors, [c.turns[-1].assistant for c in train])
        started = time.perf_counter()
        queries = np.asarray(embedder.embed(questions), dtype=np.float32)
        answers = classifier.predict(queries, k)
        return answers, time.perf_counter() - started, index_s
    finally:
        embedder.close()


def accuracy(answers: list[str]) -> float:
    expected = [str(r["expected"]).strip() for r in read_table(INQUIRY / "test.csv").rows]
    return float(np.mean([a == e for a, e in zip(answers, expected, strict=True)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny", help="generative model spec (baseline)")
    parser.add_argument("--k", type=int, default=5, help="neighbours that vote")
    parser.add_argument("--max-tokens", type=int, default=16, help="longest generated answer")
    args = parser.parse_args()

    gen_answers, gen_s, tokens = generative(args.model, args.max_tokens)
    knn_answers, knn_s, index_s = knn(args.k)
    n = len(gen_answers)
    print(f"test questions: {n} (examples/inquiry/test.csv); training rows embedded: 1000")
    print(
        f"baseline  {args.model} generates the label: {1000 * gen_s / n:8.2f} ms/question, "
        f"accuracy {100 * accuracy(gen_answers):5.1f}% ({tokens / n:.1f} tokens/answer)"
    )
    print(
        f"contender kNN k={args.k} over the default embedder: {1000 * knn_s / n:8.2f} "
        f"ms/question, accuracy {100 * accuracy(knn_answers):5.1f}% "
        f"(+ {index_s:.2f} s once to embed the training set)"
    )
    print(f"ratio: kNN is {gen_s / knn_s:.1f}x faster per question   goal: {GOAL}")


if __name__ == "__main__":
    main()
