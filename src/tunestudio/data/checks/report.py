"""The validation report: every problem found in a dataset, the task and the label table."""

from __future__ import annotations

import shlex
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from tunestudio.data.problems import Problem
from tunestudio.errors import DatasetInvalidError

Task = Literal["classification", "generation"]
TASKS: tuple[Task, ...] = ("classification", "generation")
# Where the data is going: CLOVA Studio's upload rules are errors for "clova"; for "local"
# tuning, rules that only CLOVA Studio's upload enforces become warnings.
Target = Literal["clova", "local"]
TARGETS: tuple[Target, ...] = ("clova", "local")
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}

# One short Korean title per problem code, for report headings. The codes are the stable,
# machine-readable part; tests and other stages match on them.
CODE_TITLES: dict[str, str] = {
    "unreadable-file": "파일을 읽을 수 없음",
    "unreadable-row": "읽을 수 없는 행",
    "bad-record": "형식이 맞지 않는 레코드",
    "missing-column": "필수 열 없음",
    "misnamed-column": "열 이름이 다름",
    "column-order": "열 순서가 다름",
    "duplicate-column": "같은 이름의 열이 여러 개",
    "extra-column": "CLOVA 형식에 없는 열",
    "encoding": "인코딩",
    "csv-no-bom": "BOM 없는 UTF-8 CSV",
    "file-type": "파일 종류",
    "table-note": "참고",
    "empty-text": "Text가 비어 있음",
    "empty-completion": "Completion이 비어 있음",
    "too-long": "4,000자 초과",
    "bad-c-id": "C_ID가 정수가 아님",
    "c-id-start": "C_ID가 0에서 시작하지 않음",
    "c-id-gap": "C_ID가 건너뜀",
    "c-id-order": "C_ID가 거꾸로 감",
    "c-id-split": "한 대화의 행이 떨어져 있음",
    "bad-t-id": "T_ID가 정수가 아님",
    "t-id-start": "T_ID가 0에서 시작하지 않음",
    "t-id-gap": "T_ID가 건너뜀",
    "t-id-duplicate": "T_ID 중복",
    "t-id-order": "T_ID가 거꾸로 감",
    "system-prompt-mismatch": "한 대화 안에서 System_Prompt가 다름",
    "too-few-rows": "데이터가 100행 미만",
    "few-rows": "데이터가 400행 미만",
    "label-rare": "200행 미만인 라벨",
    "too-many-labels": "라벨이 15개 초과",
    "label-conflict": "같은 Text에 다른 라벨",
    "similar-labels": "비슷한 라벨",
    "duplicate": "완전히 같은 예제",
    "near-duplicate": "거의 같은 예제",
    "test-overlap": "테스트 셋이 학습 데이터와 같음",
    "test-overlap-normalized": "테스트 셋이 학습 데이터와 사실상 같음",
    "test-near-overlap": "테스트 셋이 학습 데이터와 거의 같음",
}


@dataclass(frozen=True)
class LabelCount:
    """One label of a classification dataset: how many rows use it and where it first appears."""

    label: str
    count: int
    share: float
    first_row: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "count": self.count,
            "share": round(self.share, 4),
            "first_row": self.first_row,
        }


@dataclass
class ValidationReport:
    """Everything :func:`tunestudio.data.validate.validate_file` found, errors first."""

    file: str
    format: str = "unknown"
    encoding: str = ""
    row_label: str = "row"
    rows: int = 0
    conversations: int = 0
    task: Task = "generation"
    task_assumed: bool = True
    task_reason: str = ""
    test_file: str | None = None
    problems: list[Problem] = field(default_factory=list)
    labels: list[LabelCount] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def infos(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "info"]

    @property
    def ok(self) -> bool:
        """True when nothing blocks tuning (warnings and notes may remain)."""
        return not self.errors

    def sort(self) -> None:
        """Errors first, then warnings, then notes; otherwise in the order they were found."""
        self.problems.sort(key=lambda p: SEVERITY_ORDER[p.severity])

    def by_code(self) -> dict[str, list[Problem]]:
        """Problems grouped by code, groups in report order."""
        groups: dict[str, list[Problem]] = {}
        for problem in self.problems:
            groups.setdefault(problem.code, []).append(problem)
        return groups

    def counts(self) -> dict[str, int]:
        tally = Counter(p.severity for p in self.problems)
        return {"errors": tally["error"], "warnings": tally["warning"], "infos": tally["info"]}

    def to_dict(self) -> dict[str, Any]:
        """The whole report as plain JSON-ready data."""
        return {
            "file": self.file,
            "format": self.format,
            "encoding": self.encoding,
            "row_label": self.row_label,
            "rows": self.rows,
            "conversations": self.conversations,
            "task": self.task,
            "task_assumed": self.task_assumed,
            "task_reason": self.task_reason,
            "test_file": self.test_file,
            "summary": self.counts(),
            "problems": [p.to_dict() for p in self.problems],
            "labels": [label.to_dict() for label in self.labels],
        }

    def raise_for_errors(self) -> None:
        """Raise :class:`DatasetInvalidError` (carrying this report) when there are errors."""
        errors = self.errors
        if not errors:
            return
        shown = "\n".join(f"  [{p.code}] {p.where}: {p.message}" for p in errors[:10])
        more = f"\n  … 외 {len(errors) - 10}개" if len(errors) > 10 else ""
        raise DatasetInvalidError(
            f"데이터셋에 오류가 {len(errors)}개 있습니다:\n{shown}{more}",
            report=self,
            where=self.file,
            hint=f"`tunestudio data validate {shlex.quote(self.file)}`로 전체 보고서를 보고 고치세요",
        )
