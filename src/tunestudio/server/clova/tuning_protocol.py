"""CLOVA Studio's tuning API on the wire: the create-task fields and the task object.

Translators only (DESIGN seam 3): :meth:`TaskCreate.to_core` turns a create request into a
:class:`~tunestudio.tuning.spec.TuneSpec`, :func:`task_from_core` turns a job of the store
into CLOVA's task object (clova-studio-api.md §8.2–8.4). Multipart form fields arrive as
strings, so numbers are coerced ("8" → 8, "1.0E-4" → 0.0001), as CLOVA documents them.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tunestudio.tuning.jobs import STATUS_INFO_KEYS as JOB_STATUS_INFO_KEYS
from tunestudio.tuning.jobs import Job, JobStatus
from tunestudio.tuning.spec import TuneSpec

# CLOVA Studio writes its dates in Korea time, offset without a colon (+0900).
KST = ZoneInfo("Asia/Seoul")
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
# statusInfo as documented (§8.3); the job store's own extras (lossDiff, hint) are left out.
STATUS_INFO_KEYS = tuple(k for k in JOB_STATUS_INFO_KEYS if k not in ("lossDiff", "hint"))
CANCELED_REASON = "canceled"


class TaskCreate(BaseModel):
    """The create-task request (§8.2); unknown fields are accepted and ignored.

    Ranges and defaults are CLOVA Studio's. ``maxLength`` and ``batchSize`` are tunestudio's
    own additions (a CPU run often needs a shorter sequence); CLOVA clients never send them.
    """

    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, max_length=200)
    model: str = Field(min_length=1)
    tuningType: Literal["PEFT"] = "PEFT"
    taskType: Literal["GENERATION", "CLASSIFICATION"] = "GENERATION"
    trainEpochs: int = Field(default=8, ge=1, le=20)
    learningRate: float = Field(default=1e-4, ge=1e-6, le=1)
    validationSplitRatio: float = Field(default=0.0, ge=0, le=0.1)
    loraR: int = Field(default=8, ge=2, le=64)
    loraAlpha: int = Field(default=64, ge=2, le=512)
    trainingDatasetFilePath: str | None = None
    trainingDatasetBucket: str | None = None
    maxLength: int | None = Field(default=None, ge=16)
    batchSize: int | None = Field(default=None, ge=1)

    @field_validator("tuningType", "taskType", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("learningRate", mode="before")
    @classmethod
    def _java_float(cls, value: Any) -> Any:
        """``"1e-5f"``, as CLOVA's own example writes it (a Java float literal), is 1e-5."""
        if isinstance(value, str) and value.strip()[-1:] in ("f", "F", "d", "D"):
            return value.strip()[:-1]
        return value

    @field_validator("name", "trainingDatasetFilePath", "trainingDatasetBucket", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    def to_core(self, base_spec: str, data: Path, created: datetime) -> TuneSpec:
        """The TuneSpec of this request, training ``base_spec`` (the served model's spec)."""
        extras: dict[str, Any] = {"max_length": self.maxLength, "batch_size": self.batchSize}
        return TuneSpec(
            model=base_spec,
            data=data,
            name=self.name or created.astimezone(KST).strftime("%y%m%d-%H%M%S"),
            task_type=self.taskType,
            method="LORA",  # tuningType PEFT is LoRA
            epochs=self.trainEpochs,
            learning_rate=self.learningRate,
            lora_r=self.loraR,
            lora_alpha=self.loraAlpha,
            eval_split=self.validationSplitRatio,
            **{key: value for key, value in extras.items() if value is not None},
        )


def clova_date(value: datetime | str | None) -> str | None:
    """``2023-08-21T13:07:06+0900``: CLOVA's date format, in Korea time."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(KST).strftime(DATE_FORMAT)


def task_from_core(job: Job, model_name: str, uploaded: bool) -> dict[str, Any]:
    """CLOVA's task object for ``job``; ``model_name`` is the served name of its base model.

    CLOVA documents no CANCELED state: a canceled job is FAILED with failureReason
    ``canceled``. ``createdClientType`` is ``API`` for a dataset uploaded through this API,
    ``CLI`` for jobs made by ``tunestudio tune create``.
    """
    status, info = job.status.value, _status_info(job)
    if job.status == JobStatus.CANCELED:
        status = JobStatus.FAILED.value
        info["failureReason"] = CANCELED_REASON
        info["message"] = info["message"] or "the task was canceled before it finished"
    return {
        "id": job.id,
        "name": job.name,
        "model": model_name,
        "method": "LoRA" if job.method == "LORA" else job.method,
        "taskType": job.task_type,
        "trainEpochs": job.spec.epochs,
        "learningRate": job.spec.learning_rate,
        "status": status,
        "statusInfo": info,
        "createdClientType": "API" if uploaded else "CLI",
        "createdDate": clova_date(job.created_at),
        "updatedDate": clova_date(job.updated_at),
    }


def _status_info(job: Job) -> dict[str, Any]:
    info = {key: job.status_info.get(key) for key in STATUS_INFO_KEYS}
    hint = job.status_info.get("hint")
    if info["message"] and hint:  # the store keeps the fix apart; CLOVA has one message field
        info["message"] = f"{info['message']} (hint: {hint})"
    if job.cancel_requested and not job.status.finished:
        info["message"] = "cancel requested; the task stops at its next training step"
    info["endDatetime"] = clova_date(info["endDatetime"])
    return info


def page_of(items: list[dict[str, Any]], total: int, page: int, size: int) -> dict[str, Any]:
    """The list response (§8.4): a Spring-Data-like page of task objects."""
    return {
        "totalPages": -(-total // size),
        "totalElements": total,
        "size": size,
        "number": page,
        "content": items,
    }
