"""``tunestudio tune``: tuning jobs — create, list, status, logs, cancel, and the worker."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from tunestudio.cli.common import console

if TYPE_CHECKING:
    from tunestudio.tuning.jobs import Event, Job, JobStore

app = typer.Typer(
    help="LoRA-tune a model on a dataset as a tracked, resumable job.", no_args_is_help=True
)

STATUS_STYLE = {
    "WAIT": "yellow",
    "RUNNING": "cyan",
    "SUCCEEDED": "green",
    "FAILED": "red",
    "CANCELED": "magenta",
}
JobId = Annotated[str, typer.Argument(metavar="JOB_ID", help="Job id, as `tune list` shows it.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _store() -> JobStore:
    from tunestudio.tuning.jobs import JobStore

    return JobStore()


@app.command()
def create(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="A TuneSpec YAML (e.g. examples/inquiry/tune.yaml); its `data` is relative to "
            "the file. The options below override its fields.",
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Base model spec: tiny or hf:<id or path>.")
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="Training dataset (CLOVA format CSV/XLSX/JSONL).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Job name (default: data file name).")] = None,
    epochs: Annotated[
        int | None, typer.Option(help="Passes over the data.", show_default="4")
    ] = None,
    lr: Annotated[
        float | None, typer.Option("--lr", help="Peak learning rate.", show_default="0.0001")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Sequences per step.", show_default="8")
    ] = None,
    grad_accum: Annotated[
        int | None, typer.Option(help="Gradient accumulation steps.", show_default="1")
    ] = None,
    max_length: Annotated[
        int | None, typer.Option(help="Longest tokenized example.", show_default="1024")
    ] = None,
    method: Annotated[str | None, typer.Option(help="LORA or FULL.", show_default="LORA")] = None,
    task_type: Annotated[
        str | None, typer.Option(help="GENERATION or CLASSIFICATION (default: from the data).")
    ] = None,
    lora_r: Annotated[int | None, typer.Option(help="LoRA rank.", show_default="8")] = None,
    lora_alpha: Annotated[int | None, typer.Option(help="LoRA alpha.", show_default="16")] = None,
    lora_dropout: Annotated[
        float | None, typer.Option(help="Dropout on the LoRA input.", show_default="0.0")
    ] = None,
    eval_split: Annotated[
        float | None, typer.Option(help="Held-out share or row count.", show_default="0.0")
    ] = None,
    checkpoint_every: Annotated[
        int | None, typer.Option(help="Checkpoint every N updates.", show_default="50")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.", show_default="0")] = None,
    packing: Annotated[
        bool | None,
        typer.Option(
            "--packing/--no-packing", help="Pack short rows into full sequences.", show_default="no"
        ),
    ] = None,
    merge: Annotated[
        bool | None,
        typer.Option("--merge/--no-merge", help="Also save a merged model.", show_default="no"),
    ] = None,
    num_processes: Annotated[
        int | None, typer.Option(help="Data-parallel processes.", show_default="1")
    ] = None,
    wait: Annotated[bool, typer.Option(help="Run it here and now, with a progress bar.")] = False,
    as_json: AsJson = False,
) -> None:
    """Check the data, queue a tuning job and print its id (or run it here with --wait).

    Settings come from --config when given, then from the options; what neither sets takes
    TuneSpec's default. A dataset with errors is refused before any job is queued.
    """
    given: dict[str, Any] = dict(
        model=model,
        data=data,
        name=name,
        epochs=epochs,
        learning_rate=lr,
        batch_size=batch_size,
        grad_accum=grad_accum,
        max_length=max_length,
        method=method.upper() if method else None,
        task_type=task_type.upper() if task_type else None,
        lora_r=lora_r,
        lora_alpha=lora_alpha,
        lora_dropout=lora_dropout,
        eval_split=eval_split,
        checkpoint_every=checkpoint_every,
        seed=seed,
        packing=packing,
        merge=merge,
        num_processes=num_processes,
    )
    from tunestudio.cli.tune_setup import check_data, spec_from

    spec = spec_from(config, {k: v for k, v in given.items() if v is not None})
    warnings = check_data(spec, as_json)
    job = _store().create(spec)
    if as_json:
        console.print_json(data=job_dict(job))
    else:
        console.print(f"created job [bold]{job.id}[/] ({escape(job.name)}, {job.status})")
        if warnings:
            console.print(
                f"[yellow]데이터 경고 {warnings}개[/] — "
                f"[bold]tunestudio data validate {escape(str(spec.data))}[/]로 확인하세요",
                highlight=False,
            )
    if wait:
        _run_in_foreground(job.id)
    elif not as_json:
        console.print(
            "start it with [bold]tunestudio tune worker[/]; "
            f"watch it with [bold]tunestudio tune status {job.id}[/]"
        )


@app.command("list")
def list_jobs(as_json: AsJson = False) -> None:
    """List the tuning jobs, newest first."""
    jobs = _store().list_jobs()
    if as_json:
        console.print_json(data=[job_dict(j) for j in jobs])
        return
    table = Table("ID", "Name", "Status", "Model", "Created", "Step", "ETA")
    for job in jobs:
        info = job.status_info
        step = f"{info['currStep']}/{info['totalTrainSteps']}" if info["totalTrainSteps"] else ""
        eta = _duration(info["estimatedTime"]) if job.status == "RUNNING" else ""
        status = f"[{STATUS_STYLE[job.status]}]{job.status}[/]"
        table.add_row(
            job.id, escape(job.name), status, escape(job.model), _local(job.created_at), step, eta
        )
    console.print(table if jobs else "no tuning jobs yet: [bold]tunestudio tune create[/]")


@app.command()
def status(job_id: JobId, as_json: AsJson = False) -> None:
    """Show a job's status and statusInfo (progress, loss, ETA, failure reason)."""
    job = _store().get(job_id)
    if as_json:
        console.print_json(data=job_dict(job))
        return
    console.print(
        f"[bold]{job.id}[/]  {escape(job.name)}  [{STATUS_STYLE[job.status]}]{job.status}[/]"
    )
    console.print(
        f"model {escape(job.model)}  method {job.method}  created "
        f"{_local(job.created_at)}  output {escape(str(job.out_dir))}",
        highlight=False,
    )
    for key, value in job.status_info.items():
        if value is not None:
            console.print(f"  {key}: {escape(_show(key, value))}", highlight=False)
    if job.status == "SUCCEEDED" and job.result and job.result.get("modelSpec"):
        spec = job.result["modelSpec"]
        console.print(f"chat with it: [bold]tunestudio chat {escape(spec)}[/]")


@app.command()
def logs(
    job_id: JobId,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events.")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Print a job's events (claimed, prepared, step, checkpoint, done, …)."""
    store = _store()
    store.get(job_id)  # a clear error for an unknown id
    last = 0
    while True:
        for event in store.events(job_id, after=last):
            last = event.id
            _print_event(event, as_json)
        if not follow or store.get(job_id).status.finished:
            break
        time.sleep(0.5)


@app.command()
def cancel(job_id: JobId) -> None:
    """Cancel a job: a waiting one at once, a running one at its next step."""
    job = _store().request_cancel(job_id)
    if job.status == "CANCELED":
        console.print(f"job [bold]{job.id}[/] canceled")
    else:
        console.print(f"job [bold]{job.id}[/] will stop at its next step (a checkpoint is kept)")


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="Run one job (if any) and exit.")] = False,
    stale_after: Annotated[
        float,
        typer.Option(help="Seconds without heartbeat before a running job counts as abandoned."),
    ] = 60.0,
    heartbeat: Annotated[float, typer.Option(help="Seconds between heartbeats.")] = 5.0,
    poll: Annotated[float, typer.Option(help="Seconds between looks for new jobs.")] = 2.0,
    recipe: Annotated[str, typer.Option(hidden=True)] = "tunestudio.tuning.recipe:run_recipe",
) -> None:
    """Run queued jobs (and resume abandoned ones), each in a child process."""
    from tunestudio.tuning.worker import Worker

    runner = Worker(
        heartbeat_every=heartbeat, stale_after=stale_after, poll_every=poll, recipe=recipe
    )
    console.print(f"worker {runner.worker_id} ready", highlight=False)
    if once:
        job = runner.run_once()
        console.print(f"job {job.id}: {job.status}" if job else "no job waiting")
        return
    try:
        runner.run_forever()
    except KeyboardInterrupt:
        console.print("worker stopped; a running job resumes on the next worker")


def job_dict(job: Job) -> dict[str, Any]:
    """The job as CLOVA Studio's task object (camelCase), plus our extra fields."""
    return {
        "id": job.id,
        "name": job.name,
        "model": job.model,
        "method": job.method,
        "taskType": job.task_type,
        "trainEpochs": job.spec.epochs,
        "learningRate": job.spec.learning_rate,
        "status": str(job.status),
        "statusInfo": job.status_info,
        "result": job.result,
        "outDir": str(job.out_dir),
        "attempts": job.attempts,
        "createdDate": job.created_at.isoformat(),
        "updatedDate": job.updated_at.isoformat(),
    }


def _run_in_foreground(job_id: str) -> None:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from tunestudio.tuning.worker import Worker

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(f"tuning {job_id}", total=None, loss="-")

        def tick(job: Job) -> None:
            info = job.status_info
            loss = f"{info['trainLoss']:.4f}" if info["trainLoss"] is not None else "-"
            bar.update(
                task, total=info["totalTrainSteps"], completed=info["currStep"] or 0, loss=loss
            )

        try:
            job = Worker(heartbeat_every=2.0, stale_after=30.0).run_job(job_id, tick)
        except KeyboardInterrupt:
            console.print(f"stopped; job {job_id} resumes with [bold]tunestudio tune worker[/]")
            raise typer.Exit(130) from None
    status(job_id, as_json=False)
    if job.status != "SUCCEEDED":
        raise typer.Exit(1)


def _print_event(event: Event, as_json: bool) -> None:
    if as_json:
        console.print(
            json.dumps(
                {
                    "id": event.id,
                    "kind": event.kind,
                    "data": event.data,
                    "time": event.created_at.isoformat(),
                },
                ensure_ascii=False,
            ),
            highlight=False,
            soft_wrap=True,
        )
        return
    data = " ".join(f"{k}={_show(k, v)}" for k, v in event.data.items() if v is not None)
    console.print(
        f"{_local(event.created_at)}  {event.kind:<12} {escape(data)}",
        highlight=False,
        soft_wrap=True,
    )


def _show(key: str, value: Any) -> str:
    if key == "estimatedTime" and isinstance(value, int | float):
        return _duration(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _local(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")
