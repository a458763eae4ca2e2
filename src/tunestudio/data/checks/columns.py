"""File-level checks: encoding, file type and the CLOVA header (names, order, duplicates)."""

from __future__ import annotations

import shlex
from pathlib import Path

from tunestudio.data.checks.view import DatasetView
from tunestudio.data.clova import CLOVA_COLUMNS, ColumnMatch
from tunestudio.data.headers import column_letter, duplicate_columns
from tunestudio.data.problems import Problem, Severity
from tunestudio.data.table import Table

_HEADER = ",".join(CLOVA_COLUMNS)
_OTHER_FORMATS = (
    "다른 형식이라면 OpenAI는 'messages', Alpaca는 'instruction'/'output', "
    "ShareGPT는 'conversations', 테스트 셋은 'system'/'user' 열(키)이 있어야 합니다"
)


def check_file(view: DatasetView) -> list[Problem]:
    """Encoding and file-type notes, then the header checks (all of them for CLOVA tables)."""
    problems = _encoding(view.table, upload=view.format == "clova")
    if view.columns is not None:
        problems += check_columns(view.table, view.columns)
    else:
        problems += _duplicates(view.table, view.format)
    return problems


def convert_command(path: Path) -> str:
    """A command that rewrites ``path`` as a CLOVA CSV beside it, with the path as given
    (so it runs from where the user ran ``validate``), quoted for the shell when needed."""
    out = path.with_name(f"{path.stem}_clova.csv")
    return f"tunestudio data convert {shlex.quote(str(path))} {shlex.quote(str(out))}"


def _convert_hint(path: Path) -> str:
    return f"`{convert_command(path)}`로 UTF-8(BOM) CSV를 만드세요"


def _file_problem(table: Table, severity: Severity, code: str, message: str, hint: str) -> Problem:
    return Problem(severity, code, message, hint, table.path.name, None, None, table.row_label)


def _encoding(table: Table, upload: bool) -> list[Problem]:
    """The decoder's notes; for a CLOVA dataset (``upload``) also what CLOVA Studio expects."""
    kind = table.path.suffix.lower()
    notes = list(table.notes)
    problems: list[Problem] = []
    if table.encoding in ("cp949", "utf-16") and notes:
        # read_table puts the decoder's note (already Korean) first; the fix is the hint.
        problems.append(
            _file_problem(table, "warning", "encoding", notes.pop(0), _convert_hint(table.path))
        )
    elif upload and kind == ".csv" and table.encoding == "utf-8":
        problems.append(
            _file_problem(
                table,
                "info",
                "csv-no-bom",
                "UTF-8 CSV이지만 BOM이 없습니다. CLOVA Studio와 Excel은 BOM이 있는 UTF-8 CSV를 기대합니다",
                _convert_hint(table.path),
            )
        )
    if upload and kind == ".xlsx":
        problems.append(
            _file_problem(
                table,
                "info",
                "file-type",
                "Excel 파일입니다. CLOVA Studio 튜닝에는 CSV(UTF-8 BOM)나 JSONL 파일을 올려야 합니다",
                _convert_hint(table.path),
            )
        )
    problems += [_file_problem(table, "info", "table-note", note, "") for note in notes]
    return problems


def check_columns(table: Table, match: ColumnMatch) -> list[Problem]:
    """Missing, misnamed, duplicated, misordered and extra CLOVA columns."""
    problems = [
        _header(
            table,
            "error",
            "missing-column",
            f"'{canon}' 열이 없습니다",
            _missing_hint(canon, match, table.path),
            None,
        )
        for canon in match.missing
        if canon != "System_Prompt"  # optional: only needed when a system prompt is trained
    ]
    for canon in CLOVA_COLUMNS:
        actual = match.actual(canon)
        if actual is not None and actual.lower() != canon.lower():
            problems.append(
                _header(
                    table,
                    "error",
                    "misnamed-column",
                    f"열 이름 {actual!r}은(는) CLOVA 열 '{canon}'(으)로 보입니다",
                    f"열 이름을 '{canon}'(으)로 고치세요. 대소문자는 상관없지만 철자와 띄어쓰기는 "
                    "정확해야 합니다",
                    actual,
                )
            )
    problems += _duplicates(table, "clova")
    if table.row_label == "row":  # JSON keys have no order a person sees
        problems += _order(table, match)
    if match.extra:
        names = ", ".join(repr(c) for c in dict.fromkeys(match.extra))
        problems.append(
            _header(
                table,
                "info",
                "extra-column",
                f"CLOVA 형식에 없는 열 {names}은(는) 학습에 쓰이지 않고 메타데이터로만 보관됩니다",
                "CLOVA Studio에 올릴 파일에는 빼 두세요",
                match.extra[0],
            )
        )
    return problems


def _header(
    table: Table, severity: Severity, code: str, message: str, hint: str, column: str | None
) -> Problem:
    """A problem with the header: row 1 of a CSV/XLSX sheet; JSON keys have no row."""
    row = 1 if table.row_label == "row" else None
    return Problem(severity, code, message, hint, table.path.name, row, column, table.row_label)


def _missing_hint(canon: str, match: ColumnMatch, path: Path) -> str:
    if canon in ("C_ID", "T_ID") and match.actual("Text") and match.actual("Completion"):
        return (
            f"첫 행에 {_HEADER} 순서로 열 이름을 적으세요. 한 행이 한 대화라면 "
            f"`{convert_command(path)}`가 C_ID와 T_ID를 채운 파일을 만들어 줍니다"
        )
    if canon in ("C_ID", "T_ID"):
        return f"첫 행에 {_HEADER} 순서로 열 이름을 적으세요"
    if not match.actual("Text") and not match.actual("Completion"):
        return f"CLOVA 형식이라면 첫 행에 {_HEADER}를 적으세요. {_OTHER_FORMATS}"
    return f"첫 행에 {_HEADER} 순서로 열 이름을 적으세요"


def _duplicates(table: Table, kind: str) -> list[Problem]:
    """One error per repeated column name; loading the file strictly refuses the same names."""
    header = table.header or table.columns
    out: list[Problem] = []
    for name, where in duplicate_columns(table, kind).items():
        places = (
            f" ({', '.join(f'{column_letter(i)}열' for i in where)})"
            if table.row_label == "row"
            else ""
        )
        spellings = dict.fromkeys(repr(header[i]) for i in where)
        shown = " / ".join(spellings) if len(spellings) > 1 else repr(name)
        out.append(
            _header(
                table,
                "error",
                "duplicate-column",
                f"{shown} 열이 {len(where)}번 나옵니다{places}. 어느 값을 쓸지 알 수 없습니다",
                "하나만 남기고 나머지 열을 지우거나 다른 이름으로 바꾸세요",
                name,
            )
        )
    return out


def _order(table: Table, match: ColumnMatch) -> list[Problem]:
    header = table.header or table.columns
    position = {c: header.index(a) for c in CLOVA_COLUMNS if (a := match.actual(c))}
    present = [c for c in CLOVA_COLUMNS if c in position]
    actual = sorted(present, key=position.__getitem__)
    if position.get("System_Prompt", 0) != 0:
        misplaced = "System_Prompt"
    elif actual != present:
        misplaced = next(a for a, p in zip(actual, present, strict=True) if a != p)
    else:
        return []
    shown = ", ".join(f"{c}({column_letter(position[c])}열)" for c in actual)
    return [
        _header(
            table,
            "error",
            "column-order",
            f"열 순서가 {shown}입니다",
            f"CLOVA Studio는 {', '.join(present)} 순서를 요구하며 System_Prompt는 첫 열이어야 "
            f"합니다. 열을 옮기거나 `{convert_command(table.path)}`로 다시 저장하세요",
            match.actual(misplaced),
        )
    ]
