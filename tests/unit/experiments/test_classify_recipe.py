"""classify-compare recipes: defaults, embedder names, and errors naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLES
from tests.unit.experiments.conftest import base_recipe, write_recipe
from tunestudio.errors import ConfigError
from tunestudio.experiments.classify_recipe import ClassifySettings, EmbedderEntry
from tunestudio.experiments.recipe import load_recipe


def _classify(**changes: Any) -> dict[str, Any]:
    recipe = base_recipe(kind="classify-compare", sizes=[50, 10])
    del recipe["tune"]
    return recipe | changes


def test_defaults_mean_the_default_embedder_k5_and_no_tuning(data_dir: Path) -> None:
    recipe = load_recipe(write_recipe(data_dir, _classify()))
    assert recipe.sizes == [10, 50] and recipe.classify is None
    settings = ClassifySettings()
    assert [e.spec for e in settings.embedders] == [None] and settings.ks == [1, 5]
    assert settings.embedders[0].label == "default" and settings.without_system
    assert recipe.tuned_models() == []  # no `tune:`: the generative side stays untuned


def test_tune_makes_the_local_models_tuned_at_the_chosen_sizes(data_dir: Path) -> None:
    recipe = base_recipe(kind="classify-compare", sizes=[10, 50, 100])
    recipe["classify"] = {"tune_sizes": [100, 10], "k": 1, "embedders": ["hash-ko"]}
    loaded = load_recipe(write_recipe(data_dir, recipe))
    assert [m.name for m in loaded.tuned_models()] == ["rand"]
    assert loaded.classify is not None and loaded.classify.tune_sizes == [10, 100]
    assert loaded.classify.ks == [1]


@pytest.mark.parametrize(
    ("spec", "label"),
    [
        ("hash-ko", "hash-ko"),
        ("st:/opt/models/all-MiniLM-L6-v2/", "all-MiniLM-L6-v2"),
        ("hf:./bge-m3@./adapter", "adapter"),
        ("openai:http://localhost:8000/v1#bge", "bge"),
        (None, "default"),
    ],
)
def test_an_embedder_is_named_for_files_from_its_spec(spec: str | None, label: str) -> None:
    assert EmbedderEntry(spec=spec).label == label
    assert EmbedderEntry.model_validate(spec or {}).label == label  # the string shorthand


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"sizes": None}, "(top level)", "classify-compare needs `sizes:`"),
        ({"train": None}, "(top level)", "needs `train:`"),
        ({"classify": {"k": 0}}, "classify.k", "greater than or equal to 1"),
        ({"classify": {"embedders": []}}, "classify.embedders", "at least 1 item"),
        ({"classify": {"bogus": 1}}, "classify.bogus", "Extra inputs are not permitted"),
        (
            {"classify": {"embedders": ["hash-ko", {"spec": "tiny", "name": "hash-ko"}]}},
            "classify.embedders",
            "hash-ko is used twice",
        ),
        (
            {"classify": {"embedders": [{"spec": "tiny", "name": "a/b"}]}},
            "classify.embedders.0.name",
            "cannot name files",
        ),
        ({"classify": {"tune_sizes": [20]}}, "(top level)", "20 is not among sizes (10, 50)"),
        ({"classify": {"tune_sizes": [10, 10]}}, "classify.tune_sizes", "each size once"),
        (
            {"judge": {"model": "tiny", "pairwise": True}},
            "(top level)",
            "kind classify-compare has none",
        ),
    ],
)
def test_mistakes_name_the_field(
    data_dir: Path, change: dict[str, Any], field: str, says: str
) -> None:
    path = write_recipe(data_dir, _classify(**change))
    with pytest.raises(ConfigError) as info:
        load_recipe(path)
    assert info.value.where == str(path)
    assert f"{field}: " in info.value.message and says in info.value.message


def test_classify_settings_are_refused_for_other_kinds(data_dir: Path) -> None:
    path = write_recipe(data_dir, base_recipe(classify={"k": 3}))
    with pytest.raises(ConfigError, match="classify has no effect with kind tune-and-compare"):
        load_recipe(path)


def test_the_shipped_classify_example_parses() -> None:
    recipe = load_recipe(EXAMPLES / "inquiry" / "classify.yaml")
    assert recipe.kind == "classify-compare" and recipe.classify is not None
    assert recipe.tuned_models() and recipe.sizes
    assert set(recipe.classify.tune_sizes or []) <= set(recipe.sizes)


def test_an_embedder_spec_that_cannot_embed_is_refused_before_the_run(data_dir: Path) -> None:
    path = write_recipe(data_dir, _classify(classify={"embedders": ["clova:HCX-005", "nope"]}))
    with pytest.raises(ConfigError) as info:
        load_recipe(path)
    message = info.value.message
    assert "classify.embedders.0.spec" in message and "is a chat model" in message
    assert "classify.embedders.1.spec" in message and "unknown embedder spec 'nope'" in message
