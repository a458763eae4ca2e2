"""The checks behind ``tunestudio data validate``, one module per concern.

:mod:`tunestudio.data.validate` runs them in order and gathers one :class:`ValidationReport`.
"""

from tunestudio.data.checks.report import CODE_TITLES, TASKS, LabelCount, Task, ValidationReport

__all__ = ["CODE_TITLES", "TASKS", "LabelCount", "Task", "ValidationReport"]
