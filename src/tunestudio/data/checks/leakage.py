"""Test-set leakage: test inputs that also appear in the training data.

The CLOVA cookbook insists that the test set differ from the training set; a test row that was
trained on measures memory, not skill. Inputs are compared exactly, after :func:`loose_key`
(spacing, punctuation and case ignored) and as near-duplicates.
"""

from __future__ import annotations

from pathlib import Path

from tunestudio.data.checks.view import DatasetView, Pair, build_view
from tunestudio.data.near_dup import near_matches
from tunestudio.data.normalize import exact_key, loose_key
from tunestudio.data.problems import Problem
from tunestudio.data.table import read_table
from tunestudio.errors import DataError

_HINT = (
    "테스트 셋에는 학습에 쓰지 않은 예제만 있어야 평가가 의미 있습니다. 이 행을 테스트 셋이나 "
    "학습 데이터에서 빼세요 (`tunestudio data split`은 겹치지 않게 나눕니다)"
)


def unreadable_file(path: Path, exc: DataError) -> Problem:
    """A file that cannot be read at all, as one error in the report."""
    detail = f"{exc.where}: {exc.message}" if exc.where else exc.message
    return Problem(
        "error",
        "unreadable-file",
        f"파일을 읽을 수 없습니다 ({detail})",
        exc.hint or "CSV UTF-8, JSONL, JSON 또는 XLSX 파일인지 확인하세요",
        path.name,
    )


def check_leakage(train: DatasetView, test_path: Path, threshold: float) -> list[Problem]:
    """Every test row whose input is in the training data: exactly, loosely or nearly."""
    try:
        test = build_view(read_table(test_path))
    except DataError as exc:
        return [unreadable_file(test_path, exc)]
    problems = list(test.problems)
    if not test.has_text:
        problems.append(
            Problem(
                "error",
                "missing-column",
                "테스트 셋에서 입력 열을 찾지 못했습니다",
                "테스트 셋에는 system, user(, expected) 열이나 CLOVA의 Text, Completion 열이 "
                "있어야 합니다",
                test.file,
                1 if test.table.row_label == "row" else None,
                None,
                test.row_label,
            )
        )
    exact: dict[str, list[Pair]] = {}
    loose: dict[str, list[Pair]] = {}
    for pair in train.pairs:
        if pair.text.strip():
            exact.setdefault(exact_key(pair.text), []).append(pair)
            loose.setdefault(loose_key(pair.text), []).append(pair)
    rest: list[Pair] = []
    for pair in test.pairs:
        if not pair.text.strip():
            continue
        if hits := exact.get(exact_key(pair.text)):
            problems.append(_overlap(train, test, pair, hits, "test-overlap", "와 같습니다"))
        elif (key := loose_key(pair.text)) and (hits := loose.get(key)):
            how = "와 띄어쓰기·문장부호·대소문자만 다릅니다"
            problems.append(_overlap(train, test, pair, hits, "test-overlap-normalized", how))
        else:
            rest.append(pair)
    return problems + _near(train, test, rest, threshold)


def _near(
    train: DatasetView, test: DatasetView, rest: list[Pair], threshold: float
) -> list[Problem]:
    best: dict[int, tuple[float, int]] = {}  # test pair -> (similarity, train pair)
    queries, texts = [p.text for p in rest], [p.text for p in train.pairs]
    for match in near_matches(queries, texts, threshold):
        if match.similarity > best.get(match.left, (0.0, 0))[0]:
            best[match.left] = (match.similarity, match.right)
    problems = []
    for index, (similarity, train_index) in sorted(best.items()):
        how = f"와 거의 같습니다 (유사도 {similarity:.0%})"
        hits = [train.pairs[train_index]]
        problems.append(_overlap(train, test, rest[index], hits, "test-near-overlap", how))
    return problems


def _overlap(
    train: DatasetView, test: DatasetView, pair: Pair, hits: list[Pair], code: str, how: str
) -> Problem:
    rows = ", ".join(str(h.row) for h in hits[:5])
    more = f" 외 {len(hits) - 5}개" if len(hits) > 5 else ""
    return Problem(
        "warning" if code == "test-near-overlap" else "error",
        code,
        f"테스트 {test.row_word} {pair.row}의 입력이 학습 파일 {train.file} {train.row_word} "
        f"{rows}{more}의 {hits[0].text_name}{how}",
        _HINT,
        test.file,
        pair.row,
        pair.text_column,
        test.row_label,
    )
