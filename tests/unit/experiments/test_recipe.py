"""Recipes: every field validated, errors that name the file and field, paths relative to the
YAML's folder, overrides, and every recipe shipped in examples/ parses."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.unit.experiments.conftest import base_recipe, write_recipe
from tunestudio.errors import ConfigError
from tunestudio.experiments.recipe import Recipe, load_recipe


def _error(path: Path, *overrides: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_recipe(path, list(overrides))
    return info.value


def test_paths_are_relative_to_the_yaml_and_overrides_apply(data_dir: Path) -> None:
    path = write_recipe(data_dir, base_recipe())
    recipe = load_recipe(path, ["tune.epochs=2", "generation.max_tokens=9"])
    assert recipe.test.file == data_dir / "test.csv"
    assert recipe.train is not None and recipe.train.file == data_dir / "train.csv"
    assert recipe.tune is not None and recipe.tune.epochs == 2
    assert recipe.generation.params().max_tokens == 9
    assert [m.name for m in recipe.tuned_models()] == ["rand"]  # hf: is local: tuned by default
    spec = recipe.tune.for_run("hf:x", data_dir / "train.csv", seed=3)
    assert (spec.model, spec.seed, spec.epochs, spec.learning_rate) == ("hf:x", 3, 2, 1e-2)


def test_an_override_path_is_relative_to_the_current_directory(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_recipe(data_dir, base_recipe())
    monkeypatch.chdir(data_dir)
    recipe = load_recipe(path, ["test.file=train.csv"])
    assert recipe.test.file is not None and recipe.test.file.resolve() == data_dir / "train.csv"


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"bogus": 1}, "bogus", "Extra inputs are not permitted"),
        ({"kind": "matrix"}, "kind", "'learning-curve' or 'classify-compare'"),
        ({"test": "missing.csv"}, "test", "file not found"),
        ({"tune": {"epochs": 0}}, "tune.epochs", "greater than or equal to 1"),
        ({"tune": {"model": "tiny"}}, "tune", "use the recipe's `models: [name]`"),
        ({"tune": {"models": ["nope"]}}, "(top level)", "not among models"),
        ({"models": []}, "models", "at least 1 item"),
        ({"models": [{"name": "a/b", "spec": "tiny"}]}, "models.0.name", "cannot name files"),
        ({"models": [{"name": "a", "spec": "gpt4"}]}, "models.0.spec", "gpt4"),
        ({"sizes": [10]}, "(top level)", "sizes has no effect with kind tune-and-compare"),
        ({"train": None}, "(top level)", "needs `train:`"),
        ({"test": {"generator": "countries"}}, "test", "needs `rows`"),
        ({"test": {"generator": "inquiries", "rows": 5, "subset": 3}}, "test", "countries"),
    ],
)
def test_mistakes_name_the_file_and_the_field(
    data_dir: Path, change: dict[str, object], field: str, says: str
) -> None:
    path = write_recipe(data_dir, base_recipe() | change)
    error = _error(path)
    assert error.where == str(path)
    assert f"{field}:" in error.message and says in error.message


def test_a_learning_curve_needs_sizes_and_sorts_them(data_dir: Path) -> None:
    path = write_recipe(data_dir, base_recipe(kind="learning-curve"))
    assert "needs `sizes:`" in _error(path).message
    recipe = load_recipe(path, ["sizes=[100, 30, 60]", "seeds=[0, 1]"])
    assert recipe.sizes == [30, 60, 100] and recipe.seeds == [0, 1]
    assert "each size once" in _error(path, "sizes=[30, 30]").message


def test_unreadable_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("kind: compare\nmodels: [\n", "utf-8")
    error = _error(path)
    assert error.where is not None and error.where.startswith(f"{path} line")


@pytest.mark.parametrize(
    "path", sorted(EXAMPLES.glob("*/recipe*.yaml")), ids=lambda p: p.parent.name
)
def test_every_example_recipe_parses(path: Path) -> None:
    recipe = load_recipe(path)
    assert isinstance(recipe, Recipe) and recipe.models


def test_the_examples_have_recipes() -> None:
    names = {p.parent.name for p in EXAMPLES.glob("*/recipe*.yaml")}
    assert {"inquiry", "countries"} <= names


@pytest.mark.parametrize(
    "path", sorted(EXAMPLES.glob("*/recipe*.yaml")), ids=lambda p: p.parent.name
)
def test_the_commented_alternative_in_each_example_is_a_valid_recipe_too(path: Path) -> None:
    """The block after the recipe, from its first commented `key:` line, replaces those keys."""
    import re

    import yaml

    from tunestudio.config import read_yaml, validate_model
    from tunestudio.experiments.recipe import _resolve_paths

    lines = path.read_text("utf-8").splitlines()
    last = max(i for i, line in enumerate(lines) if line and not line.startswith("#"))
    first = next(i for i in range(last, len(lines)) if re.match(r"# [a-z_]+:", lines[i]))
    changes = yaml.safe_load("\n".join(line[2:] for line in lines[first:]))
    data = read_yaml(path) | changes
    _resolve_paths(data, path.parent)
    recipe = validate_model(Recipe, data, str(path))
    assert recipe.models[0].spec.startswith("hf:naver-hyperclovax/")
