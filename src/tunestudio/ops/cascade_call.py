"""What the cascade, router and fallback stages share: timed calls, model names, model lists."""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from tunestudio.errors import ConfigError, ModelUnavailableError
from tunestudio.models.base import Backend
from tunestudio.ops.ledger import ERROR, CallRecord, Ledger

T = TypeVar("T")


def model_name(backend: Backend) -> str:
    """The spec a model was loaded from (a Metered model's ledger name), else its name."""
    spec = getattr(backend, "model", None)
    return spec if isinstance(spec, str) else backend.name


def call_with_timeout(
    call: Callable[[], T], timeout: float | None, model: str, ledger: Ledger | None = None
) -> T:
    """``call()``, or ModelUnavailableError when it has not returned within ``timeout`` seconds.

    Python cannot interrupt a running call, so a call that times out keeps running in its
    daemon thread and its answer is dropped (a local model stays busy until it is done; an HTTP
    backend's own timeout ends it sooner). The timeout is recorded in the ledger as an error,
    since the model's wrapper only records the call once it returns.
    """
    if timeout is None:
        return call()
    context = contextvars.copy_context()  # keeps the ledger labels (run, key) in the thread
    box: dict[str, object] = {}
    done = threading.Event()

    def run() -> None:
        try:
            box["result"] = context.run(call)
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc
        finally:
            done.set()

    start = time.perf_counter()
    threading.Thread(target=run, name=f"timed-call {model}", daemon=True).start()
    if not done.wait(timeout):
        if ledger is not None:
            elapsed = (time.perf_counter() - start) * 1000
            detail = f"timeout: no answer within {timeout:g} s"
            ledger.record(CallRecord(model=model, outcome=ERROR, latency_ms=elapsed, detail=detail))
        raise ModelUnavailableError(
            f"{model} did not answer within {timeout:g} s",
            where=model,
            hint="raise `timeout` in the pipeline file, or add a faster model",
        )
    if "error" in box:
        raise box["error"]  # type: ignore[misc]  # an exception instance, stored above
    return box["result"]  # type: ignore[return-value]  # call()'s own result


def with_inner(
    models: Sequence[Backend], inner: Backend | None, *, kind: str, where: str, exactly: int = 0
) -> list[Backend]:
    """The stage's models, ``inner`` (the pipeline's ``model:`` or the next stage) last.

    ``exactly`` > 0 demands that many models in all (a router chooses between two).
    """
    chosen = [*models, *([inner] if inner is not None else [])]
    if exactly and len(chosen) != exactly:
        raise ConfigError(
            f"a {kind} needs exactly {exactly} models, found {len(chosen)}"
            + (" (its `models:` and the pipeline's `model:`)" if inner is not None else ""),
            where=where,
            hint="list them cheapest first: `models: [tiny, clova:HCX-005]`",
        )
    if len(chosen) < 2:
        raise ConfigError(
            f"a {kind} needs at least 2 models, found {len(chosen)}",
            where=where,
            hint="list them cheapest first in `models:`; the pipeline's `model:` comes last",
        )
    return chosen
