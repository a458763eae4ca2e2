"""Text tables: decoding (UTF-8, UTF-16, CP949) and the CSV reader."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import NoReturn

from tunestudio.data.table.model import RowIssue, Table, unique_keys
from tunestudio.errors import DataFormatError

csv.field_size_limit(2**31 - 1)


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
    # The fix depends on the command (validate suggests `convert`; convert writes UTF-8 itself),
    # so the note only says what was found.
    note = (
        "파일 인코딩이 CP949(EUC-KR)로 감지되어 그렇게 읽었습니다. CLOVA Studio는 UTF-8만 받습니다."
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


def read_csv(path: Path, text: str) -> Table:
    """CSV with a header row (row 1); a row of the wrong width is kept and noted as an issue."""
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
    table.header, table.columns = header, unique_keys(header)
    keys = table.columns
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
        table.rows.append(dict(zip(keys, padded, strict=False)))
        table.row_numbers.append(number)
    return table
