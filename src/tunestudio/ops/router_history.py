"""The router's memory: past requests and which model they needed, in one SQLite file.

A row is a request's text and ``needed``: the index of the first model whose answer was good
(0 = the cheap model was enough, 1 = it needed the next one). Rows come from a cascade
(``history:`` option: the model whose answer passed the gates) or from a scored run of the
cheap model (:func:`history_from_scored`: ``needed`` is 0 where its answer matched).

Embeddings are kept next to the rows, per embedder, and made only when a router first needs
them, so writing history costs a cascade nothing and one file serves several embedders.
The stdlib ``sqlite3`` is enough: one small table, read whole into memory by the router.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tunestudio.errors import ConfigError, DataError

if TYPE_CHECKING:
    import numpy as np

    from tunestudio.ops.embeddings import Embedder

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY, text TEXT NOT NULL, needed INTEGER NOT NULL,
    source TEXT NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vectors (
    request_id INTEGER NOT NULL REFERENCES requests(id), embedder TEXT NOT NULL,
    vector BLOB NOT NULL, PRIMARY KEY (request_id, embedder));
"""
_TRUE = {"1", "1.0", "true", "yes", "y", "o", "correct", "정답", "맞음"}
_FALSE = {"0", "0.0", "false", "no", "n", "x", "wrong", "오답", "틀림"}


class History:
    """Past requests and the model each needed, in the SQLite file at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with closing(self._connect()) as db, db:
                db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"cannot open the router history {path}: {exc}",
                where=str(path),
                hint="give `history:` a writable path (relative to the pipeline file)",
            ) from None

    def add(self, texts: Sequence[str], needed: Sequence[int], source: str = "cascade") -> None:
        """Remember that each text needed the model at that index."""
        at = datetime.now(UTC).isoformat()
        rows = [(t, int(n), source, at) for t, n in zip(texts, needed, strict=True)]
        with self._lock, closing(self._connect()) as db, db:
            db.executemany("INSERT INTO requests (text, needed, source, at) VALUES (?,?,?,?)", rows)

    def count(self) -> int:
        """How many requests are remembered."""
        with closing(self._connect()) as db:
            return int(db.execute("SELECT COUNT(*) FROM requests").fetchone()[0])

    def last_id(self) -> int:
        """The newest row's id (0 when empty): tells a router its matrix is stale."""
        with closing(self._connect()) as db:
            return int(db.execute("SELECT COALESCE(MAX(id), 0) FROM requests").fetchone()[0])

    def matrix(self, embedder: Embedder) -> tuple[np.ndarray, np.ndarray]:
        """(vectors, needed) of every row, embedding the rows this embedder has not seen."""
        import numpy as np

        with self._lock, closing(self._connect()) as db, db:
            missing = db.execute(
                "SELECT id, text FROM requests WHERE id NOT IN "
                "(SELECT request_id FROM vectors WHERE embedder = ?) ORDER BY id",
                (embedder.name,),
            ).fetchall()
            if missing:
                vectors = embedder.embed([text for _, text in missing])
                db.executemany(
                    "INSERT INTO vectors (request_id, embedder, vector) VALUES (?,?,?)",
                    [
                        (rid, embedder.name, np.asarray(v, dtype=np.float32).tobytes())
                        for (rid, _), v in zip(missing, vectors, strict=True)
                    ],
                )
            rows = db.execute(
                "SELECT v.vector, r.needed FROM requests r JOIN vectors v ON v.request_id = r.id "
                "WHERE v.embedder = ? ORDER BY r.id",
                (embedder.name,),
            ).fetchall()
        if not rows:
            return np.zeros((0, embedder.dimensions), np.float32), np.zeros(0, np.int64)
        matrix = np.stack([np.frombuffer(blob, dtype=np.float32) for blob, _ in rows])
        return matrix, np.array([needed for _, needed in rows], dtype=np.int64)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)


def history_from_scored(
    scored: Path,
    history: Path,
    *,
    text_column: str = "user",
    match_column: str = "match",
) -> int:
    """Add the rows of a scored run of the cheap model to ``history``; returns how many.

    ``scored`` is the table ``tunestudio eval score … -o`` writes: ``match`` 1 means the cheap
    model's answer was right (``needed`` 0), 0 that the request needed the larger model.
    Rows without a score (a failed generation) are skipped.
    """
    from tunestudio.data.table import read_table

    table = read_table(scored)
    for column in (text_column, match_column):
        if column not in table.columns:
            raise DataError(
                f"{column} 열이 없습니다 (열: {', '.join(table.columns)})",
                where=str(scored),
                hint="tunestudio infer 결과를 tunestudio eval score -o로 채점한 파일을 주세요",
            )
    texts: list[str] = []
    needed: list[int] = []
    for index, row in enumerate(table.rows):
        text = str(row.get(text_column) or "").strip()
        value = str(row.get(match_column) or "").strip().lower()
        if not text or value == "":
            continue
        if value not in _TRUE | _FALSE:
            raise DataError(
                f"{match_column} 값 {value!r}을(를) 읽을 수 없습니다",
                where=table.where(index, match_column),
                hint="1(정답) 또는 0(오답)이어야 합니다",
            )
        texts.append(text)
        needed.append(0 if value in _TRUE else 1)
    History(history).add(texts, needed, source=f"scored:{scored.name}")
    return len(texts)
