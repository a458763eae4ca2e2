"""The Korean paraphrase set: its generator, its bank and the shipped pairs.csv."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from tunestudio.data.generators.paraphrases import (
    DEFAULT_PAIR_COUNTS,
    PAIR_COLUMNS,
    PAIR_LABELS,
    Pair,
    ParaphraseBank,
    drop_particles,
    generate_pairs,
    load_paraphrase_bank,
)
from tunestudio.data.table import read_table
from tunestudio.errors import ConfigError

PAIRS_CSV = Path(__file__).parents[3] / "examples" / "paraphrase" / "pairs.csv"
NEGATORS = re.compile(r"안 ?|못 ?|않|없|싫")


@pytest.fixture(scope="module")
def pairs() -> list[Pair]:
    return generate_pairs(7)


def test_the_shipped_file_is_what_the_generator_makes(pairs: list[Pair]) -> None:
    table = read_table(PAIRS_CSV)
    assert table.columns == list(PAIR_COLUMNS)
    assert [list(row.values()) for row in table.rows] == [p.row() for p in pairs]


def test_counts_labels_and_distinct_pairs(pairs: list[Pair]) -> None:
    assert Counter(p.label for p in pairs) == DEFAULT_PAIR_COUNTS
    assert set(DEFAULT_PAIR_COUNTS) == set(PAIR_LABELS)
    assert len(pairs) >= 400 and DEFAULT_PAIR_COUNTS["paraphrase"] >= 150
    assert all(p.a != p.b for p in pairs)
    assert len({frozenset((p.a, p.b)) for p in pairs}) == len(pairs)


def test_deterministic_by_seed() -> None:
    counts = {"paraphrase": 20, "number": 5}
    assert generate_pairs(3, counts) == generate_pairs(3, counts)
    assert generate_pairs(3, counts) != generate_pairs(4, counts)


def test_every_negated_look_alike_has_a_negator() -> None:
    negated = [t for intent in load_paraphrase_bank().intents for t in intent.neg]
    assert len(negated) >= 30
    assert all(NEGATORS.search(text) for text in negated), negated
    for pair in generate_pairs(5, {"negation": 40}, noise=False):
        assert NEGATORS.search(pair.a) or NEGATORS.search(pair.b), pair


def test_number_and_entity_pairs_keep_the_topic_and_change_a_value() -> None:
    bank = load_paraphrase_bank()
    numbers = {form for group in bank.numbers.values() for value in group for form in value}
    for pair in generate_pairs(5, {"number": 30}, noise=False):
        assert any(n in pair.a for n in numbers) and any(n in pair.b for n in numbers)
    unrelated = generate_pairs(5, {"unrelated": 30}, noise=False)
    assert all(len(set(p.topic.split("/"))) == 2 for p in unrelated)


def test_paraphrases_are_not_near_copies(pairs: list[Pair]) -> None:
    # Two wordings of one intent: most pairs share under half of their words.
    paraphrases = [p for p in pairs if p.label == "paraphrase"]
    overlaps = [
        len(set(p.a.split()) & set(p.b.split())) / len(set(p.a.split()) | set(p.b.split()))
        for p in paraphrases
    ]
    assert sum(o < 0.5 for o in overlaps) / len(overlaps) > 0.7


def test_drop_particles_removes_subject_and_object_markers() -> None:
    assert drop_particles("사진을 복구하고 싶어요") == "사진 복구하고 싶어요"
    assert drop_particles("알림이 안 와요") == "알림 안 와요"


def test_a_bad_bank_is_a_config_error_naming_the_intent() -> None:
    from tunestudio.config import validate_model

    bad = {
        "entities": {"city": [["서울"], ["부산"]]},
        "numbers": {},
        "intents": [
            {"id": "x", "topic": "t", "slots": {"c": "city"}, "say": ["{c} 날씨", "{d} 날씨?"]},
            {"id": "y", "topic": "t", "say": ["a", "b"]},
        ],
    }
    with pytest.raises(ConfigError, match=r"x: '\{d\} 날씨\?' uses \['d'\]"):
        validate_model(ParaphraseBank, bad, "bank")
