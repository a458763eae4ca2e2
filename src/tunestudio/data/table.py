"""Read and write tables (CSV, JSONL, JSON, XLSX) without losing or guessing anything.

A :class:`Table` keeps the columns in file order, every row's values as the file had them and
the row number a person sees when opening the file (header = row 1 in CSV/XLSX, the line number
in JSONL, the item number in JSON). Rows that cannot be parsed are kept as :class:`RowIssue`s
for the validator to report, instead of stopping at the first one.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from tunestudio.errors import DataFormatError

TABLE_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".json": "json", ".xlsx": "xlsx"}
csv.field_size_limit(2**31 - 1)


@dataclass(frozen=True)
class RowIssue:
    """A row the reader could not take as it is (bad JSON, wrong number of CSV fields)."""

    row: int
    message: str
    hint: str


@dataclass
class Table:
    """A file's rows as read, with the numbers a person sees for each row."""

    path: Path
    columns: list[str]
    rows: list[dict[str, Any]]
    row_numbers: list[int]
    encoding: str = "utf-8"
    row_label: str = "row"
    notes: list[str] = field(default_factory=list)
    issues: list[RowIssue] = field(default_factory=list)

    def where(self, index: int, column: str | None = None) -> str:
        """``train.csv row 12, column Text`` for the row at ``index`` in ``rows``."""
        text = f"{self.path.name} {self.row_label} {self.row_numbers[index]}"
        return f"{text}, column {column}" if column else text

    def __len__(self) -> int:
        return len(self.rows)


def table_format(path: Path, explicit: str | None = None) -> str:
    """The table format named by ``explicit`` or by the file's extension."""
    if explicit:
        fmt = explicit.lower().lstrip(".")
        if fmt not in TABLE_EXTENSIONS.values():
            raise DataFormatError(
                f"unknown table format {explicit!r}",
                hint=f"use one of: {', '.join(TABLE_EXTENSIONS.values())}",
            )
        return fmt
    fmt_or_none = TABLE_EXTENSIONS.get(path.suffix.lower())
    if fmt_or_none is None:
        raise DataFormatError(
            f"cannot tell the format from the extension {path.suffix or '(none)'!r}",
            where=str(path),
            hint="name the file .csv, .jsonl, .json or .xlsx",
        )
    return fmt_or_none


def read_table(path: Path | str, fmt: str | None = None) -> Table:
    """Read a table file. Raises :class:`DataFormatError` only when nothing can be read."""
    path = Path(path)
    if not path.exists():
        raise DataFormatError(
            "file not found",
            where=str(path),
            hint="check the path; relative paths are from the current directory",
        )
    if path.is_dir():
        raise DataFormatError(
            "this is a folder, not a file",
            where=str(path),
            hint="give the path of a .csv, .jsonl, .json or .xlsx file",
        )
    kind = table_format(path, fmt)
    if kind == "xlsx":
        return _read_xlsx(path)
    text, encoding, notes = decode_text(path.read_bytes(), path)
    reader = {"csv": _read_csv, "jsonl": _read_jsonl, "json": _read_json}[kind]
    table = reader(path, text)
    table.encoding = encoding
    table.notes = notes + table.notes
    return table


def decode_text(raw: bytes, path: Path) -> tuple[str, str, list[str]]:
    """Decode a text file: UTF-8 (with or without BOM), UTF-16 with BOM, or CP949/EUC-KR.

    Korean files saved by older Excel are CP949 (a superset of EUC-KR); they are read, and a
    note says so, because CLOVA Studio itself accepts only UTF-8.
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        body = raw[3:]
        if not _is_utf8(body):
            _raise_undecodable(path, body)
        return body.decode("utf-8"), "utf-8-sig", []
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return (
                raw.decode("utf-16"),
                "utf-16",
                [
                    "파일이 UTF-16으로 저장되어 있습니다. CLOVA Studio에 올릴 때는 UTF-8(BOM)로 저장하세요."
                ],
            )
        except UnicodeDecodeError:
            raise DataFormatError(
                "the file starts with a UTF-16 mark but is not UTF-16",
                where=str(path),
                hint="save the file again as UTF-8",
            ) from None
    if _is_utf8(raw):
        return raw.decode("utf-8"), "utf-8", []
    try:
        text = raw.decode("cp949")
    except UnicodeDecodeError:
        _raise_undecodable(path, raw)
    note = (
        "파일 인코딩이 CP949(EUC-KR)로 감지되어 그렇게 읽었습니다. CLOVA Studio는 UTF-8만 받으니 "
        "`tunestudio data convert`로 UTF-8(BOM) CSV로 저장하세요."
    )
    return text, "cp949", [note]


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _raise_undecodable(path: Path, raw: bytes) -> NoReturn:
    try:
        raw.decode("utf-8")
        start = 0
    except UnicodeDecodeError as exc:
        start = exc.start
    line = raw[:start].count(b"\n") + 1
    raise DataFormatError(
        f"the file is neither UTF-8 nor CP949/EUC-KR text (undecodable byte at line {line})",
        where=f"{path} line {line}",
        hint="open it in a text editor or Excel and save it as 'CSV UTF-8'",
    )


def _read_csv(path: Path, text: str) -> Table:
    records = csv.reader(io.StringIO(text, newline=""))
    table = Table(path, [], [], [], row_label="row")
    try:
        header = next(records, None)
    except csv.Error as exc:
        raise DataFormatError(
            f"the header row is not valid CSV: {exc}",
            where=f"{path} row 1",
            hint="check the quotes in the first line",
        ) from None
    if header is None or not any(cell.strip() for cell in header):
        raise DataFormatError(
            "the file is empty or its first row (the header) is blank",
            where=f"{path} row 1",
            hint="the first row must name the columns, e.g. "
            "System_Prompt,C_ID,T_ID,Text,Completion",
        )
    while header and not header[-1].strip():
        header.pop()  # Excel leaves trailing commas after formatted but empty cells
    table.columns = header
    number = 1
    while True:
        try:
            record = next(records)
        except StopIteration:
            break
        except csv.Error as exc:
            number += 1
            table.issues.append(
                RowIssue(
                    number,
                    f"CSV로 읽을 수 없는 행입니다 ({exc})",
                    '이 행의 큰따옴표(")가 짝이 맞는지 확인하세요',
                )
            )
            continue
        number += 1
        if not record or all(not cell.strip() for cell in record):
            continue  # a blank line holds no data
        if len(record) < len(header) or any(cell.strip() for cell in record[len(header) :]):
            table.issues.append(
                RowIssue(
                    number,
                    f"값이 {len(record)}칸인데 머리글은 {len(header)}칸입니다",
                    '값 안에 쉼표(,)가 있으면 그 값을 큰따옴표로 감싸세요: "가, 나"',
                )
            )
        padded = list(record) + [""] * (len(header) - len(record))
        table.rows.append(dict(zip(header, padded, strict=False)))
        table.row_numbers.append(number)
    return table


def _read_jsonl(path: Path, text: str) -> Table:
    table = Table(path, [], [], [], row_label="line")
    seen: dict[str, None] = {}
    # Only "\n" ends a JSONL line: str.splitlines() would also split at U+2028, U+0085 and
    # other characters that JSON strings may hold unescaped.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except (ValueError, RecursionError) as exc:
            table.issues.append(
                RowIssue(number, f"JSON으로 읽을 수 없습니다 ({_json_reason_ko(exc)})", _JSONL_HINT)
            )
            continue
        if not isinstance(value, dict):
            table.issues.append(
                RowIssue(number, f"JSON 객체가 아니라 {_json_type(value)}입니다", _JSONL_HINT)
            )
            continue
        _add_json_row(table, number, value, bool(_SURROGATE_ESCAPE.search(line)))
        seen.update(dict.fromkeys(table.rows[-1]))
    table.columns = list(seen)
    return table


def _read_json(path: Path, text: str) -> Table:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        where = f"{path} line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else str(path)
        raise DataFormatError(
            f"not valid JSON: {_json_reason(exc)}",
            where=where,
            hint="a .json dataset is one array of objects: [{...}, {...}]",
        ) from None
    if isinstance(value, dict):
        lists = [v for v in value.values() if isinstance(v, list)]
        value = lists[0] if len(lists) == 1 else value
    if not isinstance(value, list):
        raise DataFormatError(
            "the top level is not an array of rows",
            where=str(path),
            hint="a .json dataset is one array of objects: [{...}, {...}]",
        )
    table = Table(path, [], [], [], row_label="item")
    seen: dict[str, None] = {}
    escaped = bool(_SURROGATE_ESCAPE.search(text))
    for number, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            table.issues.append(
                RowIssue(
                    number,
                    f"JSON 객체가 아니라 {_json_type(item)}입니다",
                    '배열의 항목은 모두 {"열 이름": "값"} 형태의 객체여야 합니다',
                )
            )
            continue
        _add_json_row(table, number, item, escaped)
        seen.update(dict.fromkeys(table.rows[-1]))
    table.columns = list(seen)
    return table


_JSONL_HINT = '한 줄에 JSON 객체 하나씩 적으세요: {"Text": "…", "Completion": "…"}'
_SURROGATES = re.compile("[\ud800-\udfff]")
# Decoded file text holds no surrogates, so a JSON string can only get one from an escape.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _json_reason(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return exc.msg
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return "a number is too long"  # int() refuses more than 4,300 digits


def _json_reason_ko(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.colno}번째 글자: {exc.msg}"
    if isinstance(exc, RecursionError):
        return "너무 깊게 중첩되어 있습니다"
    return "4,300자리가 넘는 숫자가 있습니다"


def _json_type(value: Any) -> str:
    names = {list: "배열", str: "문자열", int: "숫자", float: "숫자", bool: "참/거짓"}
    return names.get(type(value), "null")


def _add_json_row(table: Table, number: int, record: dict[str, Any], escaped: bool) -> None:
    """Keep a JSON record as a row. When the JSON text had a surrogate escape (``escaped``), a
    lone surrogate ("\\ud800") becomes U+FFFD and an issue: such a string can be neither
    written as UTF-8 nor trained on. (Paired escapes decode to one character and pass.)"""
    row = {str(k): v for k, v in record.items()}
    if escaped and (clean := _no_surrogates(row)) != row:
        row = clean
        table.issues.append(
            RowIssue(
                number,
                "짝이 없는 UTF-16 서로게이트(\\ud800 등)가 있어 �로 바꿔 읽었습니다",
                "이 값을 만든 프로그램에서 글자가 깨지지 않았는지 확인하고 고치세요",
            )
        )
    table.rows.append(row)
    table.row_numbers.append(number)


def _no_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATES.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_SURROGATES.sub("\ufffd", k): _no_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_surrogates(v) for v in value]
    return value


def _read_xlsx(path: Path) -> Table:
    import openpyxl  # heavy; only for Excel files
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError, TypeError) as exc:
        raise DataFormatError(
            f"cannot open as an Excel workbook ({type(exc).__name__})",
            where=str(path),
            hint="save it from Excel as .xlsx, or export it as CSV UTF-8",
        ) from None
    except Exception as exc:  # zip and XML parsers raise many types for a damaged file
        raise DataFormatError(
            f"the workbook is damaged ({type(exc).__name__})",
            where=str(path),
            hint="open and save it again in Excel, or export it as CSV UTF-8",
        ) from None
    try:
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header_cells = next(rows, None)
        if header_cells is None or all(c is None for c in header_cells):
            raise DataFormatError(
                "the first sheet is empty or its first row is blank",
                where=f"{path} row 1",
                hint="put the column names in row 1 of the first sheet",
            )
        header = [_cell_text(c) for c in header_cells]
        while header and header[-1] == "":
            header.pop()
        table = Table(path, header, [], [], row_label="row")
        for number, cells in enumerate(rows, start=2):
            values = [_cell_text(c) for c in cells]
            if not any(v.strip() for v in values):
                continue
            if len(values) > len(header) and any(v.strip() for v in values[len(header) :]):
                table.issues.append(
                    RowIssue(
                        number,
                        "마지막 열보다 오른쪽에 값이 있습니다",
                        "그 칸들에도 1행에 열 이름을 붙이거나 값을 지우세요",
                    )
                )
            values = values[: len(header)] + [""] * (len(header) - len(values))
            table.rows.append(dict(zip(header, values, strict=True)))
            table.row_numbers.append(number)
        if len(book.worksheets) > 1:
            table.notes.append(
                f"시트 {len(book.worksheets)}개 중 첫 시트 {sheet.title!r}만 읽었습니다"
            )
        return table
    finally:
        book.close()


def _cell_text(value: Any) -> str:
    """Excel cells come back typed; datasets want the text a person sees in the cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
        return repr(value)
    return str(value)


def write_table(
    path: Path | str, columns: Sequence[str], rows: Iterable[dict[str, Any]], fmt: str | None = None
) -> Path:
    """Write rows; CSV is UTF-8 with BOM, as CLOVA Studio requires."""
    path = Path(path)
    kind = table_format(path, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = list(rows)
    if kind == "csv":
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(columns)
            for row in rows:
                writer.writerow([_csv_value(row.get(c)) for c in columns])
    elif kind == "jsonl":
        with path.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(
                    json.dumps({c: row.get(c) for c in columns if c in row}, ensure_ascii=False)
                    + "\n"
                )
    elif kind == "json":
        items = [{c: row.get(c) for c in columns if c in row} for row in rows]
        path.write_text(json.dumps(items, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    else:
        _write_xlsx(path, columns, rows)
    return path


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _write_xlsx(path: Path, columns: Sequence[str], rows: list[dict[str, Any]]) -> None:
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("data")
    sheet.append(list(columns))
    for row in rows:
        sheet.append([_xlsx_value(row.get(c)) for c in columns])
    book.save(path)


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        # Excel cells hold at most 32,767 characters and no control characters.
        return "".join(ch for ch in value if ch in "\t\n\r" or ord(ch) >= 32)
    return value
