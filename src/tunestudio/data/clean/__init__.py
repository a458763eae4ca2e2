"""Clean a dataset with a recipe of named steps, accounting for every removed row.

``load_clean_config(path)`` reads a ``clean.yaml``; ``run_pipeline(conversations, config)``
returns a :class:`CleanResult` with the kept conversations, the removed ones (as read, with the
step and reason) and one :class:`StepReport` per step.
"""

from tunestudio.data.clean.config import STEP_MODELS, CleanConfig, default_config
from tunestudio.data.clean.loader import load_clean_config, parse_clean_config
from tunestudio.data.clean.pii import mask_pii
from tunestudio.data.clean.pipeline import run_pipeline
from tunestudio.data.clean.results import CleanResult, Example, RemovedConversation, StepReport

__all__ = [
    "STEP_MODELS",
    "CleanConfig",
    "CleanResult",
    "Example",
    "RemovedConversation",
    "StepReport",
    "default_config",
    "load_clean_config",
    "mask_pii",
    "parse_clean_config",
    "run_pipeline",
]
