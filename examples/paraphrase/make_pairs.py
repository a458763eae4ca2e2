"""Build examples/paraphrase/pairs.csv, the labelled Korean paraphrase set.

Run from the repo root: `.venv/bin/python examples/paraphrase/make_pairs.py [--seed 7]`.
The pairs come from `tunestudio.data.generators.paraphrases` (templates in
`src/tunestudio/data/generators/banks/paraphrase.yaml`); the same seed gives the same file.
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from tunestudio.data.generators.paraphrases import PAIR_COLUMNS, generate_pairs
from tunestudio.data.table import write_table

OUT = Path(__file__).with_name("pairs.csv")


def main() -> None:
    """Write the pairs and print how many of each label."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    pairs = generate_pairs(args.seed)
    write_table(args.out, PAIR_COLUMNS, [asdict(p) for p in pairs])
    counts = Counter(p.label for p in pairs)
    print(f"{len(pairs)} pairs -> {args.out}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
