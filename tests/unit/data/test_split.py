from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from tests.cli_runner import run_cli
from tunestudio.data import load_dataset, read_table, save_dataset
from tunestudio.data.near_dup import near_duplicate_groups
from tunestudio.data.normalize import jaccard, loose_key, shingles
from tunestudio.data.split import (
    resolve_test_size,
    split_conversations,
    user_text,
    verify_no_leak,
)
from tunestudio.errors import ConfigError, DataError
from tunestudio.types import Conversation, Turn

WORDS = (
    "배송 환불 교환 결제 주문 상품 쿠폰 할인 회원 정보 변경 언제 도착 알려 주세요 어떻게 취소 가능 문의 "
    "택배 조회 카드 오류 사이즈 색상 재입고 소재 주소 번호 포인트 적립 영수증 반품 수거 기사 연락 지연 "
    "파손 누락 선물 포장 해외 통관 예약 일정 시간 매장 방문 상담 직원 친절 불만 칭찬 이벤트 당첨 확인 "
    "비밀번호 로그인 탈퇴 가입"
)
VOCAB = WORDS.split()
SYSTEM = "- 고객 문의를 분류한다."


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.sample(VOCAB, 8))


def _paraphrase(text: str, kind: int) -> str:
    """A near-duplicate (one more syllable) or a loose-key duplicate (spacing, punctuation)."""
    return text + "요" if kind % 2 else text.replace(" ", "") + "?!"


def build(
    sizes: dict[str, int], n_pairs: int = 0, seed: int = 0
) -> tuple[list[Conversation], list[tuple[str, str]]]:
    """Conversations labelled per ``sizes``; the first ``n_pairs`` get a planted paraphrase.

    Paraphrases take the label of their original, so label counts grow by one per pair.
    """
    rng = random.Random(seed)
    convs = [
        Conversation(SYSTEM, [Turn(_sentence(rng), label)])
        for label, n in sizes.items()
        for _ in range(n)
    ]
    texts = [user_text(c) for c in convs]
    assert near_duplicate_groups(texts) == []  # the base sentences are all distinct
    pairs = []
    base = len(convs)
    for k in range(n_pairs):
        original = convs[k * base // n_pairs]
        twin = _paraphrase(original.turns[0].user, k)
        pairs.append((original.turns[0].user, twin))
        convs.append(Conversation(SYSTEM, [Turn(twin, original.turns[0].assistant)]))
    rng.shuffle(convs)
    return convs, pairs


def _side(result_test: list[Conversation]) -> set[str]:
    return {user_text(c) for c in result_test}


def test_planted_pairs_really_are_near_duplicates() -> None:
    _, pairs = build({"a": 20}, n_pairs=6)
    for k, (a, b) in enumerate(pairs):
        assert jaccard(shingles(a), shingles(b)) >= 0.8
        assert (loose_key(a) == loose_key(b)) == (k % 2 == 0)


@pytest.mark.parametrize("size", [1, 7, 30, 59])
def test_test_size_is_exact_and_sides_partition_the_input(size: int) -> None:
    convs, _ = build({"배송": 30, "환불": 20, "기타": 10}, n_pairs=8)
    result = split_conversations(convs, size, seed=1)
    assert len(result.test) == size
    assert len(result.train) == len(convs) - size
    assert sorted(result.train_index + result.test_index) == list(range(len(convs)))
    assert result.test == [convs[i] for i in result.test_index]
    assert result.leak_checked == size


def test_fraction_sizes_round_half_up() -> None:
    assert resolve_test_size(0.2, 50) == 10
    assert resolve_test_size(0.29, 50) == 15  # 0.29 * 50 is 14.499999999999998 in floats
    assert resolve_test_size(0.5, 3) == 2
    convs, _ = build({"a": 25, "b": 15})
    assert len(split_conversations(convs, 0.25, seed=0).test) == 10


@pytest.mark.parametrize("seed", range(6))
def test_stratified_shares_are_within_one_conversation_per_label(seed: int) -> None:
    convs, _ = build(
        {"배송 문의": 41, "환불 요청": 27, "교환 요청": 16, "결제 오류": 9, "기타": 4}, n_pairs=10
    )
    n_test = 23
    result = split_conversations(convs, n_test, stratify=True, seed=seed)
    assert result.stratified and len(result.test) == n_test
    totals = Counter(c.turns[-1].assistant for c in convs)
    in_test = Counter(c.turns[-1].assistant for c in result.test)
    for label, total in totals.items():
        assert abs(in_test[label] - total * n_test / len(convs)) <= 1, label
    reported = {row.label: (row.train, row.test) for row in result.label_counts}
    assert reported == {label: (totals[label] - in_test[label], in_test[label]) for label in totals}


@pytest.mark.parametrize("stratify", [False, True])
def test_near_duplicates_never_cross_sides(stratify: bool) -> None:
    convs, pairs = build({"배송": 40, "환불": 30, "교환": 20}, n_pairs=30)
    for seed in range(8):
        result = split_conversations(convs, 0.3, stratify=stratify, seed=seed)
        test_texts = _side(result.test)
        for a, b in pairs:
            assert (a in test_texts) == (b in test_texts)
        assert result.groups_kept_together == 30
        assert result.grouped_conversations == 60


def test_multi_turn_conversations_are_compared_on_all_user_turns() -> None:
    rng = random.Random(5)
    convs = [
        Conversation(SYSTEM, [Turn(_sentence(rng), "답1"), Turn(_sentence(rng), "답2")])
        for _ in range(30)
    ]
    first = convs[0]
    # Same questions, second one reworded slightly: a near-duplicate conversation.
    twin = Conversation(SYSTEM, [first.turns[0], Turn(first.turns[1].user + "요", "답2")])
    convs.append(twin)
    for seed in range(10):
        result = split_conversations(convs, 10, seed=seed)
        in_test = [c is first or c is twin for c in result.test].count(True)
        assert in_test in (0, 2)


def test_same_seed_same_split_other_seed_other_split() -> None:
    convs, _ = build({"a": 30, "b": 30}, n_pairs=5)
    first = split_conversations(convs, 12, stratify=True, seed=7)
    again = split_conversations(convs, 12, stratify=True, seed=7)
    other = split_conversations(convs, 12, stratify=True, seed=8)
    assert first.test_index == again.test_index
    assert first.test_index != other.test_index


def test_groups_bigger_than_a_label_quota_still_give_the_exact_size() -> None:
    rng = random.Random(3)
    convs = []
    for label, group_size in [("a", 4), ("a", 4), ("b", 3), ("b", 1), ("b", 1), ("c", 2)]:
        text = _sentence(rng)
        convs += [Conversation("", [Turn(f"{text}{'!' * k}", label)]) for k in range(group_size)]
    convs += [Conversation("", [Turn(_sentence(rng), "c")]) for _ in range(6)]
    for seed in range(10):
        result = split_conversations(convs, 5, stratify=True, seed=seed)
        assert len(result.test) == 5
        assert result.groups_kept_together == 4


def test_impossible_exact_size_names_the_reason() -> None:
    convs = [Conversation("", [Turn(f"똑같은 질문입니다{'?' * k}", "x")]) for k in range(4)]
    convs += [Conversation("", [Turn(f"또 다른 질문이에요{'.' * k}", "y")]) for k in range(4)]
    with pytest.raises(DataError) as err:
        split_conversations(convs, 2)
    assert "정확히 2개" in err.value.message and "가장 큰 묶음 4개" in err.value.message
    assert "--test-size" in (err.value.hint or "")


def test_stratify_falls_back_with_a_warning_when_completions_are_free_text() -> None:
    rng = random.Random(2)
    convs = [Conversation("", [Turn(_sentence(rng), _sentence(rng))]) for _ in range(30)]
    result = split_conversations(convs, 6, stratify=True, seed=0)
    assert not result.stratified and result.label_counts == []
    assert len(result.test) == 6
    assert "not a small label set (30 distinct values)" in result.warnings[0]


def test_a_label_with_one_conversation_cannot_be_stratified() -> None:
    convs, _ = build({"배송": 20, "환불": 10, "오타레이블": 1})
    with pytest.raises(DataError) as err:
        split_conversations(convs, 5, stratify=True)
    assert "'오타레이블'" in err.value.message and "1개" in err.value.message
    assert "--stratify 없이" in (err.value.hint or "")
    assert len(split_conversations(convs, 5).test) == 5  # a plain split is fine


@pytest.mark.parametrize(
    ("size", "error", "text"),
    [
        (30, DataError, "전체 대화 수 30개 이상"),
        (31, DataError, "학습 데이터가 남지 않습니다"),
        (0.01, DataError, "0개라"),
        (0, ConfigError, "less than 1"),
        (1.5, ConfigError, "not a fraction between 0 and 1"),
        (True, ConfigError, "not a number"),
    ],
)
def test_bad_test_sizes_say_what_and_how(size: float, error: type[Exception], text: str) -> None:
    convs, _ = build({"a": 15, "b": 15})
    with pytest.raises(error) as err:
        split_conversations(convs, size)
    assert text in str(err.value)
    assert "--test-size" in str(err.value) or "give a" in str(err.value)


def test_verify_no_leak_raises_on_a_leak_and_counts_checks() -> None:
    assert verify_no_leak(["배송은 언제 오나요 빨리 알려주세요"], ["환불 규정이 궁금합니다"]) == 1
    with pytest.raises(AssertionError, match="tunestudio bug"):
        verify_no_leak(
            ["배송은 언제 오나요 빨리 알려주세요"], ["배송은 언제 오나요, 빨리 알려주세요!"]
        )


# ---- the CLI -------------------------------------------------------------------------------


def _write(tmp_path: Path, name: str = "inq.csv") -> tuple[Path, list[Conversation]]:
    convs, _ = build({"배송 문의": 24, "환불 요청": 16, "기타": 8}, n_pairs=6)
    return save_dataset(convs, tmp_path / name), convs


def test_cli_writes_both_sides_beside_the_input(tmp_path: Path) -> None:
    src, convs = _write(tmp_path)
    result = run_cli("data", "split", src, "--test-size", "0.25", "--stratify", "--seed", "0")
    assert result.exit_code == 0, result.stderr
    train = load_dataset(tmp_path / "inq.train.csv").conversations
    test = load_dataset(tmp_path / "inq.test.csv").conversations
    assert (len(train), len(test)) == (len(convs) - 14, 14)
    assert _side(train).isdisjoint(_side(test))
    assert "stratified split" in result.stdout and "배송 문의" in result.stdout
    assert "near-duplicate groups kept together: 6 (12 conversations)" in result.stdout
    assert "14 test conversation(s) checked" in result.stdout


def test_cli_testset_output_has_system_user_expected(tmp_path: Path) -> None:
    src, _ = _write(tmp_path)
    out = tmp_path / "out" / "eval.csv"
    result = run_cli(
        "data", "split", src, "--test-size", "10", "--test", out, "--test-format", "testset"
    )
    assert result.exit_code == 0, result.stderr
    table = read_table(out)
    assert table.columns == ["system", "user", "expected"]
    assert len(table.rows) == 10 and all(r["system"] == SYSTEM for r in table.rows)
    assert read_table(tmp_path / "inq.train.csv").columns[:5] == [
        "System_Prompt",
        "C_ID",
        "T_ID",
        "Text",
        "Completion",
    ]


def test_cli_keeps_the_input_format_for_train(tmp_path: Path) -> None:
    convs, _ = build({"a": 10, "b": 10})
    src = save_dataset(convs, tmp_path / "chat.jsonl", "openai")
    assert run_cli("data", "split", src, "--test-size", "4").exit_code == 0
    assert load_dataset(tmp_path / "chat.train.jsonl").format == "openai"
    assert load_dataset(tmp_path / "chat.test.jsonl").format == "openai"


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--test-size", "abc"], "neither a count"),
        (["--test-size", "1.0"], "neither a count"),
        (["--test-size", "10", "--test-format", "openai"], "use clova or testset"),
        (["--test-size", "500"], "학습 데이터가 남지 않습니다"),
    ],
)
def test_cli_errors_are_messages(tmp_path: Path, args: list[str], text: str) -> None:
    src, _ = _write(tmp_path)
    result = run_cli("data", "split", src, *args)
    assert result.exit_code == 2
    assert text in result.stderr.replace("\n", "").replace("│", "")
    assert "Traceback" not in result.stderr


def test_cli_refuses_to_overwrite_the_input(tmp_path: Path) -> None:
    src, _ = _write(tmp_path)
    result = run_cli("data", "split", src, "--test-size", "5", "--train", src)
    assert result.exit_code == 2 and "output file is the input" in result.stderr


def test_a_pair_the_grouping_missed_is_caught_and_kept_together(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """LSH can miss a borderline pair; the independent check must then repair the split."""
    import tunestudio.data.split as split_module

    convs, pairs = build({"a": 20, "b": 20}, n_pairs=10)
    monkeypatch.setattr(
        split_module, "leakage_groups", lambda texts, threshold: [[i] for i in range(len(texts))]
    )
    for seed in range(5):
        result = split_conversations(convs, 15, seed=seed)
        assert len(result.test) == 15
        test_texts = _side(result.test)
        assert all((a in test_texts) == (b in test_texts) for a, b in pairs)


def test_cli_refuses_one_file_for_both_sides(tmp_path: Path) -> None:
    src, _ = _write(tmp_path)
    out = tmp_path / "same.csv"
    result = run_cli("data", "split", src, "--test-size", "5", "--train", out, "--test", out)
    assert result.exit_code == 2 and "name the same file" in result.stderr
    assert not out.exists()
