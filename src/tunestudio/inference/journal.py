"""The run journal: one fsync'd JSON line per finished row, so a killed batch run resumes.

The first line is a header naming the model and the generation parameters; every later line
is one finished row: its index in the input, a hash of the messages it sent (so a changed input
is noticed) and the run's hash (model + parameters), then the answer or the error. A row may
appear more than once (``--retry-failed`` appends a new attempt); the last line for an index
wins. A last line cut short by a kill is ignored and trimmed away before anything is appended.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO

from tunestudio.errors import TuneStudioError
from tunestudio.types import GenParams, Message

JOURNAL_KIND = "tunestudio.batch-journal"
JOURNAL_VERSION = 1


class JournalError(TuneStudioError):
    """The journal cannot be used for this run (another model, changed input, damaged file).

    ``index`` is the input row (0-based) the problem is about, when there is one, so a caller
    can name that row the way its user sees it.
    """

    def __init__(
        self,
        message: str,
        *,
        index: int | None = None,
        where: str | None = None,
        hint: str | None = None,
    ):
        super().__init__(message, where=where, hint=hint)
        self.index = index


@dataclass(frozen=True)
class RowResult:
    """One answered (or failed) row. ``error`` is empty when the row succeeded.

    ``latency_ms`` is the wall time of the call that produced the row; for a batched local
    model that is the whole batch's call.
    """

    index: int
    content: str = ""
    latency_ms: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    error: str = ""
    finish_reason: str = ""
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return not self.error


def journal_beside(output: Path | str) -> Path:
    """Where the journal of a run writing ``output`` lives: ``OUTPUT.journal.jsonl``."""
    output = Path(output)
    return output.with_name(output.name + ".journal.jsonl")


def run_identity(model: str, params: GenParams) -> dict[str, Any]:
    """What makes two runs the same run: the model spec and every generation parameter."""
    return {"model": model, "params": dataclasses.asdict(params)}


def _digest(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def row_key(messages: Sequence[Message]) -> str:
    """A short hash of the messages one row sends; a changed row gets a different key."""
    return _digest([[m.role, m.content] for m in messages])


def _jsonable(identity: dict[str, Any]) -> dict[str, Any]:
    # JSON has no tuples: compare identities the way they come back from the file.
    loaded: dict[str, Any] = json.loads(json.dumps(identity, ensure_ascii=False))
    return loaded


class Journal:
    """An open journal file. Use :meth:`open`; appends are thread-safe and durable."""

    def __init__(
        self,
        path: Path,
        run: str,
        results: dict[int, RowResult],
        input_keys: dict[int, str],
        fh: BinaryIO,
    ):
        self.path = path
        self.run = run
        self.results = results  # the latest record per input index
        self.input_keys = input_keys  # the input hash each of those records answered
        self._fh = fh
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls, path: Path | str, *, model: str, params: GenParams, fresh: bool = False
    ) -> Journal:
        """Open (or start) the journal at ``path`` for ``model`` with ``params``.

        Raises :class:`JournalError` when the journal was written by a different run or is
        damaged; ``fresh=True`` discards whatever was there.
        """
        path = Path(path)
        identity = _jsonable(run_identity(model, params))
        run = _digest(identity)
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = path.open("ab+")
        try:
            _lock_file(fh, path)
            if fresh:
                fh.truncate(0)
            header, results = _read(fh, path)
            if header is None:
                fh.truncate(0)
                _write_lines(fh, [_header(identity, run)])
            else:
                _check_header(header, identity, run, path)
            _check_runs(results, run, path)
        except BaseException:
            fh.close()
            raise
        answers = {r.index: r for _, r in results}
        keys = {r.index: str(line.get("input")) for line, r in results}
        return cls(path, run, answers, keys, fh)

    def check_inputs(self, keys: Sequence[str]) -> None:
        """Refuse to go on when a journaled row's input is not the input's row any more."""
        for index in sorted(self.input_keys):
            if index >= len(keys):
                raise JournalError(
                    f"the journal answered row {index + 1}, but the input now has only "
                    f"{len(keys)} row(s)",
                    where=str(self.path),
                    hint="the input changed since this run started; restore it, or rerun "
                    "with --fresh to start over (the journal's answers are discarded)",
                )
            if self.input_keys[index] != keys[index]:
                raise JournalError(
                    f"input row {index + 1} is not the row the journal answered",
                    index=index,
                    where=str(self.path),
                    hint="the input (or --system) changed since this run started; restore "
                    "it, or rerun with --fresh to start over (the journal's answers are "
                    "discarded)",
                )

    def append(self, results: Iterable[RowResult], keys: Sequence[str]) -> None:
        """Append finished rows durably (one write, then flush and fsync)."""
        lines = [_row_line(r, keys[r.index], self.run) for r in results]
        if not lines:
            return
        with self._lock:
            _write_lines(self._fh, lines)
            for line in lines:
                self.results[line["i"]] = _result_from(line)
                self.input_keys[line["i"]] = line["input"]

    def close(self) -> None:
        """Release the file (and its lock)."""
        self._fh.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _lock_file(fh: BinaryIO, path: Path) -> None:
    """Hold an exclusive lock so two runs cannot write one journal; the OS drops it on exit."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here; one run per output is on the user
        return
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise JournalError(
            "another run is writing this journal right now",
            where=str(path),
            hint="wait for the other `tunestudio infer` to finish, or write to another output",
        ) from None


def _header(identity: dict[str, Any], run: str) -> dict[str, Any]:
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return {
        "journal": JOURNAL_KIND,
        "version": JOURNAL_VERSION,
        "run": run,
        **identity,
        "created": created,
    }


def _write_lines(fh: BinaryIO, records: list[dict[str, Any]]) -> None:
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
    fh.seek(0, os.SEEK_END)
    fh.write(data)
    fh.flush()
    os.fsync(fh.fileno())


def _read(
    fh: BinaryIO, path: Path
) -> tuple[dict[str, Any] | None, list[tuple[dict[str, Any], RowResult]]]:
    """Parse the journal; trim a torn last line so the next append starts on a clean line."""
    fh.seek(0)
    raw = fh.read()
    lines = raw.split(b"\n")
    good_end, parsed = 0, []
    for number, line in enumerate(lines[:-1], start=1):  # lines[-1] has no newline: torn
        record = _parse(line)
        if record is None:
            if number == len(lines) - 1:
                break  # a damaged last line: the write it belonged to never finished
            raise JournalError(
                f"line {number} of the journal is damaged",
                where=str(path),
                hint="rerun with --fresh to start over (the journal's answers are discarded)",
            )
        parsed.append(record)
        good_end += len(line) + 1
    if good_end < len(raw):
        fh.truncate(good_end)
    if not parsed:
        return None, []
    header, rows = parsed[0], parsed[1:]
    if header.get("journal") != JOURNAL_KIND:
        raise JournalError(
            "this file is not a tunestudio batch journal",
            where=str(path),
            hint="move it away or pass --fresh to replace it",
        )
    try:
        return header, [(line, _result_from(line)) for line in rows]
    except (KeyError, TypeError, ValueError):
        raise JournalError(
            "the journal has a row line without the fields a row needs",
            where=str(path),
            hint="rerun with --fresh to start over (the journal's answers are discarded)",
        ) from None


def _parse(line: bytes) -> dict[str, Any] | None:
    with contextlib.suppress(UnicodeDecodeError, json.JSONDecodeError):
        value = json.loads(line.decode("utf-8"))
        if isinstance(value, dict):
            return value
    return None


def _check_header(header: dict[str, Any], identity: dict[str, Any], run: str, path: Path) -> None:
    if header.get("version") != JOURNAL_VERSION:
        raise JournalError(
            f"the journal is version {header.get('version')!r}; this tunestudio writes "
            f"version {JOURNAL_VERSION}",
            where=str(path),
            hint="rerun with --fresh to start over",
        )
    if header.get("run") == run:
        return
    changes = []
    if header.get("model") != identity["model"]:
        changes.append(f"model {header.get('model')!r} → {identity['model']!r}")
    old_params = header.get("params") or {}
    for name, value in identity["params"].items():
        if old_params.get(name) != value:
            changes.append(f"{name} {old_params.get(name)!r} → {value!r}")
    raise JournalError(
        "the journal belongs to another run: " + (", ".join(changes) or "different settings"),
        where=str(path),
        hint="rerun with the journal's model and parameters to continue it, or add --fresh "
        "to start over (its answers are discarded)",
    )


def _check_runs(results: list[tuple[dict[str, Any], RowResult]], run: str, path: Path) -> None:
    for line, _ in results:
        if line.get("run") != run:
            raise JournalError(
                f"row {line.get('i')} of the journal was written by another run",
                where=str(path),
                hint="rerun with --fresh to start over (the journal's answers are discarded)",
            )


def _row_line(result: RowResult, key: str, run: str) -> dict[str, Any]:
    return {
        "i": result.index,
        "input": key,
        "run": run,
        "content": result.content,
        "latency_ms": round(result.latency_ms, 1),
        "input_tokens": result.input_tokens,
        "output_tokens": result.output_tokens,
        "error": result.error,
        "finish_reason": result.finish_reason,
        "attempts": result.attempts,
    }


def _result_from(line: dict[str, Any]) -> RowResult:
    return RowResult(
        index=int(line["i"]),
        content=str(line["content"]),
        latency_ms=float(line["latency_ms"]),
        input_tokens=int(line["input_tokens"]),
        output_tokens=int(line["output_tokens"]),
        error=str(line["error"]),
        finish_reason=str(line.get("finish_reason", "")),
        attempts=int(line.get("attempts", 1)),
    )
