"""Inference: journaled, resumable batch runs over any Backend, and playground sessions."""

from tunestudio.inference.batch import (
    BatchAbortedError,
    BatchProgress,
    BatchResult,
    describe_error,
    journaled_rows,
    run_batch,
)
from tunestudio.inference.journal import Journal, JournalError, RowResult, journal_beside, row_key
from tunestudio.inference.session import ChatSession, TurnStats
from tunestudio.inference.tables import (
    OUTPUT_COLUMNS,
    BatchInput,
    output_table,
    read_batch_input,
    write_atomic,
)

__all__ = [
    "OUTPUT_COLUMNS",
    "BatchAbortedError",
    "BatchInput",
    "BatchProgress",
    "BatchResult",
    "ChatSession",
    "Journal",
    "JournalError",
    "RowResult",
    "TurnStats",
    "describe_error",
    "journal_beside",
    "journaled_rows",
    "output_table",
    "read_batch_input",
    "row_key",
    "run_batch",
    "write_atomic",
]
