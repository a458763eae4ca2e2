"""Experiment data: generated sets as files with their sha256, and learning-curve samples that
are stratified and nested (a smaller size is part of every larger one)."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import pytest

from tests.unit.experiments.conftest import base_recipe, write_recipe
from tunestudio.data.table import read_table
from tunestudio.errors import ConfigError
from tunestudio.experiments.datasets import (
    load_train,
    nested_order,
    prepare_data,
    strata_keys,
    write_sample,
)
from tunestudio.experiments.recipe import load_recipe


def test_every_prefix_of_the_order_is_stratified_and_the_samples_nest() -> None:
    keys = ["a"] * 60 + ["b"] * 30 + ["c"] * 10
    order = nested_order(keys, seed=0)
    assert sorted(order) == list(range(100))
    for size in (10, 20, 50, 100):
        counts = Counter(keys[i] for i in order[:size])
        for key, total in (("a", 60), ("b", 30), ("c", 10)):
            assert abs(counts[key] - size * total / 100) <= 1, (size, counts)
    assert nested_order(keys, seed=0) == order  # the same seed gives the same samples
    assert nested_order(keys, seed=1) != order


def test_samples_are_written_in_file_order_and_nest(data_dir: Path, tmp_path: Path) -> None:
    conversations = load_train(data_dir / "train.csv")
    keys = strata_keys(conversations, "Completion")
    order = nested_order(keys, seed=4)
    small = write_sample(conversations, order, 30, tmp_path / "s30.csv")
    large = write_sample(conversations, order, 60, tmp_path / "s60.csv")
    small_texts = [r["Text"] for r in read_table(small).rows]
    large_texts = [r["Text"] for r in read_table(large).rows]
    assert len(small_texts) == 30 and set(small_texts) <= set(large_texts)
    assert Counter(r["Completion"] for r in read_table(small).rows) == {
        "결제": 10,
        "배송": 10,
        "계정": 10,
    }
    numbers = [int(t.split("(")[1].split("번")[0]) for t in large_texts]
    assert numbers == sorted(numbers)  # the training file's order is kept


def test_stratify_by_a_metadata_column_or_refuse_an_unknown_one(data_dir: Path) -> None:
    conversations = load_train(data_dir / "train.csv")
    assert set(strata_keys(conversations, "group")) == {"short", "long"}
    with pytest.raises(ConfigError) as info:
        strata_keys(conversations, "colour")
    assert info.value.where == "stratify" and "Completion, group" in (info.value.hint or "")


def test_generated_sets_are_written_with_their_sha256_and_share_no_list(tmp_path: Path) -> None:
    recipe = base_recipe(
        kind="learning-curve",
        test={
            "generator": "countries",
            "rows": 12,
            "subset": 3,
            "counts": "4:1",
            "continents": "2",
        },
        train={
            "generator": "countries",
            "rows": 30,
            "subset": 3,
            "counts": "4:1",
            "continents": "2",
        },
        sizes=[10],
    )
    run_dir = tmp_path / "run"
    test, train = prepare_data(load_recipe(write_recipe(tmp_path, recipe)), run_dir)
    assert train is not None
    assert (test.path, train.path) == (
        run_dir / "data" / "test.csv",
        run_dir / "data" / "train.csv",
    )
    assert (test.rows, train.rows) == (12, 30)
    assert test.sha256 == hashlib.sha256(test.path.read_bytes()).hexdigest()
    columns = read_table(test.path).columns
    assert columns[:3] == ["system", "user", "expected"] and "n_countries" in columns
    train_lists = {r["countries"] for r in read_table(train.path).rows}
    assert not train_lists & {r["countries"] for r in read_table(test.path).rows}
