"""The error tree. Core code raises these; only the CLI and the server translate them.

Every error carries three things a user needs: what went wrong (the message), where it went
wrong (a file, row, column or field) and what to do about it (the hint).
"""

from __future__ import annotations


class TuneStudioError(Exception):
    """Base of every error tunestudio raises on purpose.

    ``where`` names the place (``train.csv row 12, column Text``); ``hint`` says how to fix it.
    """

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def __str__(self) -> str:
        parts = [f"{self.where}: {self.message}" if self.where else self.message]
        if self.hint:
            parts.append(f"hint: {self.hint}")
        return "\n".join(parts)

    def to_dict(self) -> dict[str, str | None]:
        return {
            "type": type(self).__name__,
            "message": self.message,
            "where": self.where,
            "hint": self.hint,
        }


class ConfigError(TuneStudioError):
    """A recipe, YAML file or setting is malformed or names something unknown."""


class DataError(TuneStudioError):
    """A dataset cannot be read or does not have the shape a step needs."""


class DataFormatError(DataError):
    """A file is not in the format it claims to be (bad encoding, bad JSON, unknown extension)."""


class DatasetInvalidError(DataError):
    """Validation found errors; ``report`` holds every problem."""

    exit_code = 1

    def __init__(
        self, message: str, *, report: object, where: str | None = None, hint: str | None = None
    ):
        super().__init__(message, where=where, hint=hint)
        self.report = report


class ModelError(TuneStudioError):
    """A model could not be loaded or answered with an error."""


class ModelAuthError(ModelError):
    """The model's API refused the credentials (HTTP 401/403)."""


class ModelRateLimitError(ModelError):
    """The model's API asked us to slow down (HTTP 429); ``retry_after`` in seconds if given."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        where: str | None = None,
        hint: str | None = None,
    ):
        super().__init__(message, where=where, hint=hint)
        self.retry_after = retry_after


class ModelRequestError(ModelError):
    """The model's API rejected the request itself (HTTP 400/404/413/422): do not retry."""


class ModelUnavailableError(ModelError):
    """The model's API failed or timed out (HTTP 5xx, connection errors): retrying may help."""


class ContextLengthError(ModelRequestError):
    """The prompt plus ``max_tokens`` does not fit the model's context window."""
