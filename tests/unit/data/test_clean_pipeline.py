"""The cleaning pipeline: order, row steps, removal reasons and accounting for every row."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import EXAMPLES
from tunestudio.data import load_dataset
from tunestudio.data.clean import (
    CleanConfig,
    default_config,
    load_clean_config,
    parse_clean_config,
    run_pipeline,
)
from tunestudio.types import Conversation, Turn

SYSTEM = "- 고객 문의를 카테고리로 분류한다."


def conv(text: str, completion: str = "MYBOX 결제", row: int | None = None) -> Conversation:
    return Conversation(SYSTEM, [Turn(text, completion)], source_rows=[row] if row else [])


def recipe(*steps: Any) -> CleanConfig:
    return parse_clean_config({"steps": list(steps)})


def texts(convs: list[Conversation]) -> list[str]:
    return [c.turns[0].user for c in convs]


def test_order_is_the_order_of_the_recipe() -> None:
    data = [conv("ㅇㅇㅇㅇ")]
    squash_first = run_pipeline(data, recipe("squash_repeats", "slang"))
    slang_first = run_pipeline(data, recipe("slang", "squash_repeats"))
    assert texts(squash_first.kept) == ["응"]  # ㅇㅇㅇㅇ → ㅇㅇ → 응
    assert texts(slang_first.kept) == ["ㅇㅇ"]  # ㅇㅇㅇㅇ is no word of the map
    assert [r.name for r in squash_first.reports] == ["squash_repeats", "slang"]

    relabel = {"step": "relabel", "map": {"111": "판별불가"}}
    drop = {"step": "drop_labels", "labels": ["판별불가"]}
    assert len(run_pipeline([conv("?", "111")], recipe(relabel, drop)).kept) == 0
    assert len(run_pipeline([conv("?", "111")], recipe(drop, relabel)).kept) == 1


def test_fields_choose_what_a_step_touches() -> None:
    data = [Conversation("시스템 😀", [Turn("질문 😀", "답변 😀")])]
    only_text = run_pipeline(data, recipe("remove_emoji")).kept[0]
    assert (only_text.system, only_text.turns[0]) == ("시스템 😀", Turn("질문", "답변 😀"))
    everywhere = recipe({"step": "remove_emoji", "fields": ["Text", "Completion", "System_Prompt"]})
    cleaned = run_pipeline(data, everywhere).kept[0]
    assert (cleaned.system, cleaned.turns[0]) == ("시스템", Turn("질문", "답변"))


def test_input_is_not_modified_and_removed_rows_are_returned_as_read() -> None:
    data = [conv("어케 해요 😀", row=2), conv("😀", row=3)]
    before = copy.deepcopy(data)
    result = run_pipeline(data, recipe("slang", "remove_emoji"))
    assert data == before
    assert texts(result.kept) == ["어떻게 해요"]
    assert result.removed[0].conversation == before[1]


def test_a_value_emptied_by_a_step_removes_the_conversation_with_the_reason() -> None:
    result = run_pipeline([conv("😀👍", row=5), conv("", row=6)], recipe("remove_emoji"))
    assert len(result.removed) == 1
    gone = result.removed[0]
    assert gone.source_rows == [5]
    assert (gone.step, gone.step_index) == ("remove_emoji", 1)
    assert "Text 값이 이 단계에서 비었습니다" in gone.reason
    # a value that was empty before is not "emptied" by the step; validation reports it
    assert texts(result.kept) == [""]


def test_drop_labels_and_relabel_report_unused_entries() -> None:
    data = [conv("요금 문의", "판별불가", 2), conv("사진 백업", "MYBOX 가격", 3)]
    result = run_pipeline(
        data,
        recipe(
            {"step": "relabel", "map": {"MYBOX 가격": "MYBOX 결제", "오타 라벨": "X"}},
            {"step": "drop_labels", "labels": ["판별불가", "기타"]},
        ),
    )
    assert [c.turns[0].assistant for c in result.kept] == ["MYBOX 결제"]
    relabel, drop = result.reports
    assert relabel.rows_changed == 1
    assert relabel.tally == {"MYBOX 가격→MYBOX 결제": 1}
    assert relabel.notes == ["relabel '오타 라벨' matched no row"]
    assert drop.notes == ["label '기타' matched no row"]
    assert result.removed[0].reason == "Completion 값이 제거 대상 라벨 '판별불가'입니다"


def test_dedup_keeps_the_first_and_names_it() -> None:
    data = [
        conv("네이버 밴드 계정을 찾으려면 어떻게 해야 하나요", "네이버밴드 계정", 2),
        conv("네이버 밴드  계정을 찾으려면 어떻게 해야 하나요", "네이버밴드 계정", 3),
        conv("네이버 밴드 계정을 찾으려면 어떻게 해야 하나요?!", "네이버밴드 결제", 4),
        conv("MYBOX 용량을 늘리고 싶어요", "MYBOX 결제", 5),
    ]
    result = run_pipeline(data, recipe({"step": "dedup", "threshold": 0.9}))
    assert texts(result.kept) == [texts(data)[0], texts(data)[3]]
    exact, near = result.removed
    assert exact.source_rows == [3]
    assert exact.reason == "2행의 정확한 중복"
    assert near.source_rows == [4]
    assert near.reason.startswith("2행의 근사 중복 (유사도 1.00)")
    # the same question with another answer: the dataset contradicts itself, say so
    assert "Completion이 다릅니다('네이버밴드 결제' ≠ '네이버밴드 계정')" in near.reason
    assert result.reports[0].tally == {"exact": 1, "near": 1, "different completion": 1}


def test_near_dedup_threshold_and_exact_only() -> None:
    data = [conv("MYBOX 사진 백업은 어떻게 하나요"), conv("MYBOX 사진 백업은 어떻게 하나요 급해요")]
    assert len(run_pipeline(data, recipe({"step": "dedup", "threshold": 0.6})).kept) == 1
    assert len(run_pipeline(data, recipe({"step": "dedup", "threshold": 0.95})).kept) == 2
    assert len(run_pipeline(data, recipe({"step": "dedup", "near": False})).kept) == 2


def test_dedup_never_removes_for_resembling_a_removed_row() -> None:
    # a ≈ b (0.44) and b ≈ c (0.40), but a and c share nothing: b goes, and c stays,
    # because the only row it resembles is not in the output
    a = "가나다라마바사아자차"
    b = a + "카타파하거너더러머버"
    c = "카타파하거너더러머버서어"
    result = run_pipeline([conv(a), conv(b), conv(c)], recipe({"step": "dedup", "threshold": 0.4}))
    assert texts(result.kept) == [a, c]
    assert result.removed[0].reason == "대화 1의 근사 중복 (유사도 0.44)"


def test_length_filter() -> None:
    data = [conv("환불", row=2), conv("환불해 주세요", row=3), conv("가" * 50, row=4)]
    result = run_pipeline(data, recipe({"step": "length", "min_chars": 3, "max_chars": 20}))
    assert texts(result.kept) == ["환불해 주세요"]
    assert [r.reason for r in result.removed] == [
        "Text 값이 2자로 최소 3자보다 짧습니다",
        "Text 값이 50자로 최대 20자보다 깁니다",
    ]


def test_multi_turn_conversations_stay_whole() -> None:
    long = Conversation(
        SYSTEM,
        [Turn("환불 문의드려요", "네"), Turn("😀", "어떤 문의인가요?"), Turn("결제 취소요", "네")],
        source_rows=[2, 3, 4],
    )
    result = run_pipeline([long, conv("단일 질문", row=5)], recipe("remove_emoji"))
    assert texts(result.kept) == ["단일 질문"]
    gone = result.removed[0]
    assert gone.source_rows == [2, 3, 4]
    assert gone.conversation == long
    assert "Text(턴 2) 값이" in gone.reason
    assert result.reports[0].rows_removed == 3
    assert result.reports[0].conversations_removed == 1
    assert (result.rows_in, result.rows_out) == (4, 1)


def test_reports_count_changed_rows_and_keep_a_few_examples() -> None:
    data = [conv(f"질문 {i} ㅋㅋㅋㅋ", row=i + 2) for i in range(10)] + [conv("그대로", row=12)]
    report = run_pipeline(data, recipe("squash_repeats")).reports[0]
    assert report.rows_changed == 10
    assert report.tally == {"runs": 10}
    assert len(report.examples) == 3
    first = report.examples[0]
    assert (first.row, first.field, first.before, first.after) == (
        2,
        "Text",
        "질문 0 ㅋㅋㅋㅋ",
        "질문 0 ㅋㅋ",
    )


def test_removed_as_dataset_carries_rows_step_and_reason() -> None:
    result = run_pipeline([conv("a", row=2), conv("a", row=3)], default_config())
    (removed,) = result.removed_as_dataset()
    assert removed.meta == {
        "source_rows": "3",
        "removed_step": "3. dedup",
        "removed_reason": "2행의 정확한 중복",
    }


def test_conversations_without_source_rows_are_named_by_position() -> None:
    result = run_pipeline([conv("같은 질문"), conv("같은 질문")], default_config())
    assert result.removed[0].reason == "대화 1의 정확한 중복"


WORDS = ["환불", "어케", "해요", "😀", "ㅋㅋㅋㅋ", "010-1234-5678", "!!", "판별불가", "MYBOX", " "]


@st.composite
def datasets(draw: st.DrawFn) -> list[Conversation]:
    n = draw(st.integers(0, 12))
    out = []
    for i in range(n):
        turns = [
            Turn(
                "".join(draw(st.lists(st.sampled_from(WORDS), max_size=5))),
                draw(st.sampled_from(["판별불가", "MYBOX 결제", "MYBOX 가격", ""])),
            )
            for _ in range(draw(st.integers(1, 3)))
        ]
        out.append(Conversation(SYSTEM, turns, source_rows=[i + 2] * len(turns)))
    return out


FULL = recipe(
    "nfc",
    "whitespace",
    "mask_pii",
    "remove_emoji",
    "remove_special",
    "squash_repeats",
    "slang",
    {"step": "relabel", "map": {"MYBOX 가격": "MYBOX 결제"}},
    {"step": "drop_labels", "labels": ["판별불가"]},
    {"step": "dedup", "threshold": 0.8},
    {"step": "length", "min_chars": 2},
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(datasets())
def test_kept_plus_removed_is_the_input(data: list[Conversation]) -> None:
    result = run_pipeline(data, FULL)
    assert len(result.kept) + len(result.removed) == len(data)
    assert result.rows_in == sum(len(c.turns) for c in data)
    positions = [r.position for r in result.removed]
    assert positions == sorted(set(positions))
    assert all(r.conversation == data[r.position] for r in result.removed)
    assert all(r.reason for r in result.removed)
    report_total = sum(r.conversations_removed for r in result.reports)
    assert report_total == len(result.removed)


# single characters (odd spaces, joiners, symbols) and whole tokens the steps act on
NOISY = st.sampled_from(
    [
        *"가나ㅋㅠ !@#★.~-_0123456789ab\n\t\u00a0\u3000\u200b\u200d\ufe0f",
        *["😀", "👨\u200d👩\u200d👧", "어케", "넘", "010-1234-5678", "a@b.kr"],
        *["4111 1111 1111 1111", "ㅋㅋㅋ", "!!!"],
    ]
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(NOISY, max_size=20).map("".join), min_size=1, max_size=4))
def test_cleaning_cleaned_data_changes_nothing(values: list[str]) -> None:
    once = run_pipeline([conv(v) for v in values], FULL)
    twice = run_pipeline(once.kept, FULL)
    assert [
        (r.name, r.rows_changed, r.rows_removed)
        for r in twice.reports
        if r.rows_changed or r.rows_removed
    ] == []


def test_the_example_recipe_matches_the_example_data() -> None:
    """Every relabel and drop_labels entry of examples/inquiry/clean.yaml is used on raw.csv."""
    config = load_clean_config(EXAMPLES / "inquiry" / "clean.yaml")
    dataset = load_dataset(EXAMPLES / "inquiry" / "raw.csv")
    result = run_pipeline(dataset.conversations, config)
    assert [(r.name, r.notes) for r in result.reports if r.notes] == []
    relabel = next(r for r in result.reports if r.name == "relabel")
    assert relabel.rows_changed == 3
