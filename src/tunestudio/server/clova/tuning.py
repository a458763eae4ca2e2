"""CLOVA Studio's tuning API over the real job system (clova-studio-api.md §8).

``POST /tuning/v2/tasks`` takes a ``multipart/form-data`` request with the dataset as its
``trainingDataset`` file part and the documented fields as form fields, or the same fields as
JSON. The file is saved under ``$TUNESTUDIO_HOME/uploads/<id>/<filename>`` (the body limit
bounds its size) and checked by the dataset validator before any job is queued, exactly as
``tunestudio tune create`` does; the server's in-process worker (or ``tune worker``) then runs
it. CLOVA's JSON variant names a file in NCP Object Storage by ``trainingDatasetBucket`` and
``trainingDatasetFilePath``; here a bucket is a folder under ``$TUNESTUDIO_HOME/buckets``
(put the file at ``buckets/<bucket>/<path>``), so such client code works unchanged. The file is
copied to the uploads folder like an upload; a path that leaves its bucket is refused. ``model`` is a served model's
name (``ServerConfig.models``), which names the local base model to tune.

``DELETE`` removes a task as CLOVA does: a WAIT or finished task at once (with its outputs and
its uploaded dataset); a RUNNING one is asked to stop (it ends as CANCELED, shown as FAILED
with failureReason ``canceled``) and a second DELETE then removes it. Every path is served
under ``/tuning/v2/tasks`` and under ``/v2/tasks``, as the older host used it.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, Response

from tunestudio.config import Settings
from tunestudio.errors import DatasetInvalidError
from tunestudio.server.auth import require
from tunestudio.server.clova.envelope import OK, ok
from tunestudio.server.clova.tuning_protocol import TaskCreate, page_of, task_from_core
from tunestudio.server.errors import ApiError, ErrorKind, InvalidRequest, to_api_error
from tunestudio.server.keystore import Scope
from tunestudio.server.state import ServerState, server_state
from tunestudio.store import JobRow, session_scope
from tunestudio.store.schema import utcnow
from tunestudio.tuning.jobs import Job, JobNotFoundError
from tunestudio.tuning.spec import TuneSpec

if TYPE_CHECKING:
    from tunestudio.data.validate import ValidationReport

TUNE = [Depends(require(Scope.TUNE))]
DATASET_PART = "trainingDataset"
SHOWN_PROBLEMS = 5  # the first problems in the 40001 message; `data validate` shows them all
UPLOAD_HINT = (
    "send the dataset as the multipart/form-data file part `trainingDataset` "
    "(curl -F trainingDataset=@train.csv -F model=HCX-003 …)"
)
BUCKET_HINT = (
    "; or put the file at $TUNESTUDIO_HOME/buckets/<bucket>/<path> on the server and send "
    "trainingDatasetBucket and trainingDatasetFilePath"
)
TaskId = Annotated[str, PathParam(alias="taskId")]


def uploads_dir() -> Path:
    """Where uploaded datasets are kept: ``$TUNESTUDIO_HOME/uploads``."""
    return Settings.from_env().home_dir / "uploads"


async def create_task(request: Request) -> Response:
    """``POST /tuning/v2/tasks``: save and check the dataset, then queue a tuning job."""
    state = server_state(request)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        fields, upload = await _read_form(request)
    elif content_type.startswith("application/json"):
        fields, upload = await _read_json(request), None
    else:
        raise InvalidRequest(
            f"unsupported Content-Type {content_type or '(none)'!r}", hint=UPLOAD_HINT
        )
    body = _parse(fields)
    base_spec = _base_spec(state, body.model)
    if upload is not None:
        data = await _save(upload)
    elif body.trainingDatasetBucket or body.trainingDatasetFilePath:
        data = await run_in_threadpool(_from_bucket, body)
    else:
        raise _no_dataset()
    try:
        spec = body.to_core(base_spec, data, utcnow())
        job = await run_in_threadpool(_check_and_queue, state, spec)
    except BaseException:
        shutil.rmtree(data.parent, ignore_errors=True)  # no job: keep no orphaned upload
        raise
    return ok(_task(state, job))


async def get_task(request: Request, task_id: TaskId) -> Response:
    """``GET /tuning/v2/tasks/{taskId}``: one task object."""
    state = server_state(request)
    return ok(_task(state, await run_in_threadpool(_job, state, task_id)))


async def list_tasks(
    request: Request,
    page: Annotated[int, Query(ge=0)] = 0,
    size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Response:
    """``GET /tuning/v2/tasks?page=0&size=20``: the tasks, newest first, one page of them."""
    state = server_state(request)
    jobs = await run_in_threadpool(state.jobs.list_jobs)
    shown = jobs[page * size : (page + 1) * size]
    return ok(page_of([_task(state, job) for job in shown], len(jobs), page, size))


async def delete_task(request: Request, task_id: TaskId) -> Response:
    """``DELETE /tuning/v2/tasks/{taskId}``: remove the task (a RUNNING one is stopped first)."""
    state = server_state(request)
    await run_in_threadpool(_delete, state, task_id)
    return JSONResponse({"status": OK})  # the documented answer: the envelope, no result


def _create_body() -> dict[str, Any]:
    """The create request for the OpenAPI schema (the handler reads the body itself)."""
    fields = TaskCreate.model_json_schema()
    upload = {DATASET_PART: {"type": "string", "format": "binary"}}
    form = fields | {
        "properties": fields["properties"] | upload,
        "required": [*fields.get("required", []), DATASET_PART],
    }
    content = {"multipart/form-data": {"schema": form}, "application/json": {"schema": fields}}
    return {"requestBody": {"required": True, "content": content}}


def add_routes(router: APIRouter) -> None:
    """The four endpoints under ``/tuning/v2/tasks`` and (hidden from the schema) ``/v2/tasks``."""
    for prefix, shown in (("/tuning/v2/tasks", True), ("/v2/tasks", False)):
        for path, handler, method in (
            ("", create_task, "POST"),
            ("", list_tasks, "GET"),
            ("/{taskId}", get_task, "GET"),
            ("/{taskId}", delete_task, "DELETE"),
        ):
            router.add_api_route(
                prefix + path,
                handler,
                methods=[method],
                dependencies=TUNE,
                include_in_schema=shown,
                openapi_extra=_create_body() if handler is create_task else None,
            )


async def _read_form(request: Request) -> tuple[dict[str, Any], UploadFile | None]:
    form = await request.form(max_files=1)
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    upload = form.get(DATASET_PART)
    if upload is not None and not isinstance(upload, UploadFile):
        raise InvalidRequest(
            f"`{DATASET_PART}` must be a file part, not a text field",
            param=DATASET_PART,
            hint=UPLOAD_HINT,
        )
    return fields, upload


async def _read_json(request: Request) -> dict[str, Any]:
    try:
        fields = await request.json()
    except ValueError as exc:
        raise InvalidRequest(f"the body is not valid JSON ({exc})") from None
    if not isinstance(fields, dict):
        raise InvalidRequest("the body must be a JSON object of the task's fields")
    return fields


def _parse(fields: dict[str, Any]) -> TaskCreate:
    try:
        return TaskCreate.model_validate(fields)
    except ValidationError as exc:  # the same wording as every other body error
        raise to_api_error(RequestValidationError(exc.errors())) from None


def _base_spec(state: ServerState, model: str) -> str:
    """The spec of the served model ``model`` names; 40001 naming the accepted names."""
    served = {entry.name: entry.spec for entry in state.config.served_models()}
    if model not in served:
        raise InvalidRequest(
            f"model {model!r} cannot be tuned on this server",
            param="model",
            hint=f"use one of the served models: {', '.join(served)}",
        )
    return served[model]


def _no_dataset() -> ApiError:
    message = f"no training dataset was sent (the `{DATASET_PART}` file part)"
    return InvalidRequest(message, param=DATASET_PART, hint=UPLOAD_HINT + BUCKET_HINT)


def buckets_dir() -> Path:
    """Where the local stand-in for Object Storage keeps its buckets: ``$TUNESTUDIO_HOME/buckets``."""
    return Settings.from_env().home_dir / "buckets"


def _from_bucket(body: TaskCreate) -> Path:
    """Copy ``buckets/<trainingDatasetBucket>/<trainingDatasetFilePath>`` to a new upload folder."""
    bucket, path = body.trainingDatasetBucket, body.trainingDatasetFilePath
    if not bucket or not path:
        missing = "trainingDatasetBucket" if not bucket else "trainingDatasetFilePath"
        raise InvalidRequest(
            f"{missing} is missing: a dataset in a bucket needs both the bucket and the path",
            param=missing,
            hint=BUCKET_HINT.strip(),
        )
    root = (buckets_dir() / bucket).resolve()
    source = (root / path.lstrip("/")).resolve()
    if root.parent != buckets_dir().resolve() or not source.is_relative_to(root):
        raise InvalidRequest(
            f"the dataset path {bucket}/{path} leaves its bucket",
            param="trainingDatasetFilePath",
            hint="name a file inside the bucket, without `..`",
        )
    if not source.is_file():
        raise InvalidRequest(
            f"no file {path!r} in bucket {bucket!r} (looked for {source})",
            param="trainingDatasetFilePath",
            hint=BUCKET_HINT.strip(),
        )
    target = uploads_dir() / uuid.uuid4().hex[:12] / source.name
    target.parent.mkdir(parents=True)
    shutil.copyfile(source, target)
    return target


async def _save(upload: UploadFile) -> Path:
    """Copy the uploaded file to ``uploads/<new id>/<its file name>``."""
    name = Path((upload.filename or "").replace("\\", "/")).name  # never a path of the client's
    if not name or name in (".", ".."):
        raise InvalidRequest(
            f"the `{DATASET_PART}` part has no file name",
            param=DATASET_PART,
            hint="name the file (its extension tells .csv, .jsonl or .xlsx apart)",
        )
    target = uploads_dir() / uuid.uuid4().hex[:12] / name
    target.parent.mkdir(parents=True)

    def copy() -> None:
        with target.open("wb") as out:
            shutil.copyfileobj(upload.file, out, 1 << 20)

    await run_in_threadpool(copy)
    return target


def _check_and_queue(state: ServerState, spec: TuneSpec) -> Job:
    """Validate the dataset as ``tune create`` does (every error refuses it), then queue it."""
    from tunestudio.tuning.dataset import validate_data

    try:
        validate_data(spec)
    except DatasetInvalidError as exc:
        raise _invalid_dataset(exc.report, spec.data) from None  # type: ignore[arg-type]
    return state.jobs.create(spec)


def _invalid_dataset(report: ValidationReport, data: Path) -> InvalidRequest:
    """40001 with the first problems, each located by the client's file name, row, column."""
    name, errors = data.name, report.errors
    shown = "; ".join(
        f"{replace(p, file=name).where}: {p.message}".replace(str(data), name)  # no server paths
        for p in errors[:SHOWN_PROBLEMS]
    )
    more = f" … 외 {len(errors) - SHOWN_PROBLEMS}개" if len(errors) > SHOWN_PROBLEMS else ""
    return InvalidRequest(
        f"데이터셋에 오류가 {len(errors)}개 있습니다: {shown}{more}",
        param=DATASET_PART,
        hint=f"`tunestudio data validate {name}`로 전체 보고서를 보고 고친 뒤 다시 올리세요",
    )


def _job(state: ServerState, task_id: str) -> Job:
    try:
        return state.jobs.get(task_id)
    except JobNotFoundError:
        raise ApiError(
            f"there is no tuning task {task_id!r}",
            kind=ErrorKind.NOT_FOUND,
            param="taskId",
            hint="GET /tuning/v2/tasks lists every task and its id",
        ) from None


def _task(state: ServerState, job: Job) -> dict[str, Any]:
    """The task object, ``model`` shown by the served name of the job's base model."""
    names = {entry.spec: entry.name for entry in reversed(state.config.served_models())}
    return task_from_core(job, names.get(job.model, job.model), _uploaded(job))


def _uploaded(job: Job) -> bool:
    return job.spec.data.is_relative_to(uploads_dir().resolve())


def _delete(state: ServerState, task_id: str) -> None:
    job = _job(state, task_id)
    if not job.status.finished:
        job = state.jobs.request_cancel(task_id)  # WAIT (or a dead worker's job) ends at once
        if not job.status.finished:
            return  # RUNNING: it stops at its next step; a second DELETE then removes it
    _remove(state, job)


def _remove(state: ServerState, job: Job) -> None:
    """Delete a finished job's row and the files it made under this server's home."""
    # JobStore has no delete yet; its events and checkpoints go with the row (ON DELETE CASCADE).
    with session_scope(state.jobs.engine) as session:
        row = session.get(JobRow, job.id)
        if row is not None:
            session.delete(row)
    state.registry.forget(job.id)
    home = Settings.from_env().home_dir.resolve()
    for owned in (job.out_dir, job.spec.data.parent if _uploaded(job) else None):
        # only what the job made under this server's home: never a user's own folder
        if owned is not None and owned.resolve().is_relative_to(home):
            shutil.rmtree(owned, ignore_errors=True)
