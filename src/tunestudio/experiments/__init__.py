"""Experiments: a YAML recipe runs models over a test set — optionally tuned, at several
training sizes — scores the answers and writes a self-contained report.

>>> from tunestudio.experiments import load_recipe, run_experiment
>>> result = run_experiment(load_recipe("examples/inquiry/recipe.yaml"))  # doctest: +SKIP
"""

from tunestudio.experiments.observer import Observer
from tunestudio.experiments.recipe import Recipe, load_recipe
from tunestudio.experiments.results import Evaluation, RunResult, Variant
from tunestudio.experiments.runner import run_experiment

__all__ = [
    "Evaluation",
    "Observer",
    "Recipe",
    "RunResult",
    "Variant",
    "load_recipe",
    "run_experiment",
]
