from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_runner import run_cli
from tunestudio.data import load_dataset, read_table, save_dataset
from tunestudio.errors import DataError, DataFormatError
from tunestudio.types import Conversation, Turn

CONVS = [
    Conversation(
        "- 친절한 상담원이다.", [Turn("배송은 언제 되나요?", "주문 후 2~3일 내 배송됩니다.")]
    ),
    Conversation(
        "- 친절한 상담원이다.",
        [
            Turn("환불 규정 알려줘", "수령 후 7일 이내 환불 가능합니다."),
            Turn("택배비는요?", "단순 변심은 왕복 배송비가 부과됩니다."),
        ],
    ),
    Conversation("", [Turn('쉼표, "따옴표"\n줄바꿈', "ㅋㅋ 😀")]),
]


def _content(convs: list[Conversation]) -> list[tuple[str, list[Turn]]]:
    return [(c.system, c.turns) for c in convs]


@pytest.mark.parametrize("ext", ["csv", "jsonl", "json", "xlsx"])
def test_clova_round_trip_in_every_table_type(tmp_path: Path, ext: str) -> None:
    path = save_dataset(CONVS, tmp_path / f"d.{ext}")
    loaded = load_dataset(path)
    assert loaded.format == "clova"
    assert _content(loaded.conversations) == _content(CONVS)


def test_csv_is_written_with_bom_and_clova_header(tmp_path: Path) -> None:
    raw = save_dataset(CONVS, tmp_path / "d.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfSystem_Prompt,C_ID,T_ID,Text,Completion")


def test_clova_openai_clova_round_trip_is_byte_equal(tmp_path: Path) -> None:
    first = save_dataset(CONVS, tmp_path / "a.csv")
    assert run_cli("data", "convert", first, tmp_path / "b.jsonl", "--to", "openai").exit_code == 0
    record = json.loads((tmp_path / "b.jsonl").read_text(encoding="utf-8").splitlines()[1])
    assert [m["role"] for m in record["messages"]] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    assert run_cli("data", "convert", tmp_path / "b.jsonl", tmp_path / "c.csv").exit_code == 0
    assert (tmp_path / "c.csv").read_bytes() == first.read_bytes()


@pytest.mark.parametrize("fmt", ["openai", "sharegpt", "alpaca"])
def test_other_formats_round_trip(tmp_path: Path, fmt: str) -> None:
    path = save_dataset(CONVS, tmp_path / "d.jsonl", fmt)
    loaded = load_dataset(path)
    assert loaded.format == fmt
    assert _content(loaded.conversations) == _content(CONVS)


def test_cp949_csv_is_detected_and_said(tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    path.write_bytes(
        "System_Prompt,C_ID,T_ID,Text,Completion\n,0,0,안녕하세요,인사\n".encode("cp949")
    )
    table = read_table(path)
    assert table.encoding == "cp949"
    assert any("CP949" in n for n in table.notes)
    assert table.rows[0]["Text"] == "안녕하세요"


def test_undecodable_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"Text,Completion\na,b\n\xff\xfe\xfd\x80\x81,c\n")
    with pytest.raises(DataFormatError) as err:
        read_table(path)
    assert "line 3" in str(err.value.where)


def test_testset_table_reads_system_user_and_expected(tmp_path: Path) -> None:
    path = tmp_path / "test.csv"
    path.write_text("system,user,정답\n분류해,밴드 계정 찾기,네이버밴드 계정\n", encoding="utf-8")
    loaded = load_dataset(path)
    assert loaded.format == "testset"
    conv = loaded.conversations[0]
    assert (conv.system, conv.turns[0]) == ("분류해", Turn("밴드 계정 찾기", "네이버밴드 계정"))


def test_broken_records_are_all_reported(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"messages": [{"role": "user", "content": "a"}]}\nnot json\n'
        '{"messages": [{"role": "user", "content": "a"}, '
        '{"role": "assistant", "content": "b"}]}\n',
        encoding="utf-8",
    )
    with pytest.raises(DataError) as err:
        load_dataset(path)
    assert "2 record(s)" in err.value.message
    # JSONL problems are located by line, as validate says 줄 (not "row")
    assert "bad.jsonl, line 1" in err.value.message and "bad.jsonl, line 2" in err.value.message
    assert "row" not in err.value.message


def test_convert_error_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    result = run_cli("data", "convert", tmp_path / "missing.csv", tmp_path / "o.csv")
    assert result.exit_code == 2
    assert "file not found" in result.stderr and "Traceback" not in result.stderr


def test_save_dataset_refuses_multi_turn_test_sets(tmp_path: Path) -> None:
    convs = [
        Conversation("s", [Turn("한 턴", "답")], source_rows=[2]),
        Conversation("s", [Turn("첫 턴", "답 1"), Turn("둘째 턴", "답 2")], source_rows=[3, 4]),
    ]
    out = tmp_path / "t.csv"
    with pytest.raises(DataError) as err:
        save_dataset(convs, out, "testset")
    assert "여러 턴 대화가 1개" in err.value.message
    assert "대화 2(2턴, 행 3, 4)" in err.value.message
    assert "--to clova" in (err.value.hint or "")
    assert not out.exists()
    save_dataset(convs[:1], out, "testset")  # single-turn conversations are fine
    assert load_dataset(out).conversations[0].turns == [Turn("한 턴", "답")]


def test_convert_to_testset_refuses_multi_turn_data(tmp_path: Path) -> None:
    src = tmp_path / "multi.csv"
    src.write_text(
        "System_Prompt,C_ID,T_ID,Text,Completion"
        + "\n,0,0,비밀번호를 잊었어요,찾기를 누르세요\n,0,1,문자가 안 와요,스팸함을 보세요\n"
        ",1,0,용량은요,30GB입니다\n",
        encoding="utf-8",
    )
    result = run_cli("data", "convert", src, tmp_path / "t.csv", "--to", "testset")
    assert result.exit_code == 2
    err = result.stderr.replace("\n", " ")
    assert "대화 1(2턴, 행 2, 3)" in err and "wrote" not in result.stdout
    assert not (tmp_path / "t.csv").exists()
