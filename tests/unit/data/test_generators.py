"""The dataset generators: countries (seed 003) and customer inquiries (seed 001)."""

from __future__ import annotations

import random
import re
import shlex
from collections import Counter
from pathlib import Path

import pytest

from tests.cli_runner import run_cli
from tests.conftest import EXAMPLES
from tunestudio.data import load_dataset
from tunestudio.data.generators import (
    COUNTRY_CONTINENT,
    INQUIRY_LABELS,
    INQUIRY_SYSTEM_PROMPT,
    UN_MEMBERS,
    generate_countries,
    generate_inquiries,
    parse_continents,
    parse_countries_completion,
    parse_counts,
)
from tunestudio.data.generators.countries import COMPLETION_HEADER, TEXT_HEADER
from tunestudio.data.generators.inquiry_bank import SPLITS, Bank, Frames, check_disjoint, load_bank
from tunestudio.data.generators.inquiry_noise import casual, misspell
from tunestudio.data.generators.inquiry_text import conjugate
from tunestudio.data.near_dup import NearDupIndex, near_duplicate_pairs
from tunestudio.data.normalize import exact_key, loose_key
from tunestudio.errors import ConfigError
from tunestudio.types import Conversation

# ---------------------------------------------------------------- countries


def _rows(convs: list[Conversation]) -> list[tuple[str, str]]:
    return [(c.turns[0].user, c.turns[0].assistant) for c in convs]


def test_un_members_are_the_seed_list_with_its_typo_fixed() -> None:
    names = [c for cs in UN_MEMBERS.values() for c in cs]
    assert len(names) == len(set(names)) == 192
    assert list(UN_MEMBERS) == [
        "아시아",
        "유럽",
        "북아메리카",
        "남아메리카",
        "아프리카",
        "오세아니아",
    ]
    assert "도미니카 공화국" in UN_MEMBERS["북아메리카"]
    assert not any(name.endswith("터") for name in names)
    assert "러시아" in UN_MEMBERS["아시아"]  # the seed's continent assignment is kept


def test_completion_parses_back_into_the_text_countries_grouped_by_continent() -> None:
    convs = generate_countries(400, seed=3)
    for conv in convs:
        text, completion = conv.turns[0].user, conv.turns[0].assistant
        header, listed = text.split("\n\n")
        assert header == TEXT_HEADER
        countries = listed.split(", ")
        assert countries == conv.meta["countries"]
        assert len(countries) == len(set(countries)) == conv.meta["n_countries"]
        assert completion.startswith(COMPLETION_HEADER + "\n\n")
        groups = parse_countries_completion(completion)
        assert list(groups) == conv.meta["continents"]
        assert len(groups) == conv.meta["n_continents"]
        assert all(groups.values()), "a chosen continent got no country"
        assert sorted(c for cs in groups.values() for c in cs) == sorted(countries)
        for continent, members in groups.items():
            assert all(COUNTRY_CONTINENT[c] == continent for c in members)
            assert members == [c for c in countries if c in members]  # Text order
        first_seen = list(dict.fromkeys(COUNTRY_CONTINENT[c] for c in countries))
        assert list(groups) == first_seen


def test_the_count_mix_and_continent_counts_follow_the_cookbook() -> None:
    convs = generate_countries(1000, seed=0)
    sizes = Counter(c.meta["n_countries"] for c in convs)
    assert sizes == {10: 100, 15: 300, 20: 300, 30: 300}
    assert Counter(c.meta["n_continents"] for c in convs) == {k: 200 for k in range(2, 7)}
    odd = Counter(c.meta["n_countries"] for c in generate_countries(997, seed=1))
    for n, weight in {10: 1, 15: 3, 20: 3, 30: 3}.items():
        assert abs(odd[n] - 997 * weight / 10) <= 1


def test_with_four_continents_or_fewer_each_gets_at_least_two_countries() -> None:
    for conv in generate_countries(300, seed=2):
        groups = parse_countries_completion(conv.turns[0].assistant)
        if conv.meta["n_continents"] <= 4:
            assert min(len(g) for g in groups.values()) >= 2


def test_small_fixed_counts_and_subsets_never_leave_a_continent_empty() -> None:
    convs = generate_countries(60, counts=parse_counts("3"), subset=2, seed=0)
    allowed = {c for cs in UN_MEMBERS.values() for c in cs[:2]}
    for conv in convs:
        groups = parse_countries_completion(conv.turns[0].assistant)
        assert conv.meta["n_countries"] == 3
        assert conv.meta["n_continents"] in (2, 3)  # 4-6 continents cannot hold 3 countries
        assert all(groups.values()) and len(groups) == conv.meta["n_continents"]
        assert set(conv.meta["countries"]) <= allowed


def test_countries_are_deterministic_per_seed_and_split() -> None:
    assert _rows(generate_countries(50, seed=7)) == _rows(generate_countries(50, seed=7))
    assert _rows(generate_countries(50, seed=7)) != _rows(generate_countries(50, seed=8))
    assert _rows(generate_countries(50, seed=7, split="test")) != _rows(
        generate_countries(50, seed=7)
    )


def test_a_test_set_avoids_the_training_lists() -> None:
    def draw(split: str, avoid: list[list[str]]) -> list[Conversation]:
        return generate_countries(
            40, counts=((4, 1),), continents=(2, 2), subset=3, split=split, avoid=avoid
        )

    seen = [c.meta["countries"] for c in draw("train", [])]
    test = draw("test", seen)
    assert not {frozenset(s) for s in seen} & {frozenset(c.meta["countries"]) for c in test}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("10:1,15:3,20:3,30:3", ((10, 1), (15, 3), (20, 3), (30, 3))), ("3", ((3, 1),))],
)
def test_parse_counts(spec: str, expected: tuple[tuple[int, int], ...]) -> None:
    assert parse_counts(spec) == expected


@pytest.mark.parametrize("spec", ["10:x", "0", "10,10", "", "5:0"])
def test_bad_counts_are_config_errors(spec: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_counts(spec)
    assert info.value.where == "--counts"


def test_continent_ranges() -> None:
    assert parse_continents("2-6") == (2, 6)
    assert parse_continents("3") == (3, 3)
    for bad in ("0-3", "2-7", "5-2", "two"):
        with pytest.raises(ConfigError):
            parse_continents(bad)


def test_impossible_list_sizes_are_reported_not_looped_on() -> None:
    with pytest.raises(ConfigError, match="no example can have 30 countries"):
        generate_countries(5, counts=((30, 1),), subset=3, seed=0)


# ---------------------------------------------------------------- inquiries


@pytest.fixture(scope="module")
def inquiry_sets() -> tuple[list[Conversation], list[Conversation]]:
    train = generate_inquiries(1000, seed=0)
    test = generate_inquiries(100, seed=0, split="test", avoid=[c.turns[0].user for c in train])
    return train, test


def test_the_bank_has_exactly_the_15_categories() -> None:
    assert sorted(load_bank().labels()) == sorted(INQUIRY_LABELS)
    assert len(INQUIRY_LABELS) == 15
    assert all(label in INQUIRY_SYSTEM_PROMPT for label in INQUIRY_LABELS)
    assert "카테고리명만" in INQUIRY_SYSTEM_PROMPT


def test_inquiries_are_balanced_over_all_15_labels(
    inquiry_sets: tuple[list[Conversation], list[Conversation]],
) -> None:
    for convs, low in ((inquiry_sets[0], 66), (inquiry_sets[1], 6)):
        counts = Counter(c.turns[0].assistant for c in convs)
        assert set(counts) == set(INQUIRY_LABELS)
        assert min(counts.values()) >= low and max(counts.values()) <= low + 1
        for conv in convs:
            assert conv.system == INQUIRY_SYSTEM_PROMPT
            assert len(conv.turns) == 1 and conv.turns[0].user.strip()
            assert not re.search(r"[{}]", conv.turns[0].user)


def test_every_inquiry_names_its_product_and_users_aliases_appear(
    inquiry_sets: tuple[list[Conversation], list[Conversation]],
) -> None:
    bank = load_bank()
    used: Counter[str] = Counter()
    for conv in inquiry_sets[0] + inquiry_sets[1]:
        text = conv.turns[0].user.replace(" ", "").lower()
        aliases = bank.product_of(conv.turns[0].assistant).aliases
        found = [a for a in aliases if a.replace(" ", "").lower() in text]
        assert found, conv.turns[0].user
        used.update(found)
    for alias in ("네이버드라이브", "마이박스", "모임어플", "혜택구독서비스", "네플멤"):
        assert used[alias] >= 10


def test_noise_makes_the_informal_writing_users_type(
    inquiry_sets: tuple[list[Conversation], list[Conversation]],
) -> None:
    texts = [c.turns[0].user for c in inquiry_sets[0]]
    for mark in ("어케", "결재", "ㅠㅠ", "??", "할려면"):
        assert any(mark in t for t in texts), mark
    assert sum(" " not in t for t in texts) >= 10  # 띄어쓰기 빠짐
    lengths = sorted(len(t) for t in texts)
    assert lengths[len(lengths) // 10] < 30 and lengths[-len(lengths) // 10] > 60


def test_test_set_has_no_exact_or_near_duplicate_in_train(
    inquiry_sets: tuple[list[Conversation], list[Conversation]],
) -> None:
    for train, test in (inquiry_sets, _shipped_inquiries()):
        _assert_no_leak([c.turns[0].user for c in train], [c.turns[0].user for c in test])


def test_no_split_holds_near_duplicates(
    inquiry_sets: tuple[list[Conversation], list[Conversation]],
) -> None:
    for convs in (*inquiry_sets, *_shipped_inquiries()):
        assert near_duplicate_pairs([c.turns[0].user for c in convs], 0.8) == []


def _shipped_inquiries() -> tuple[list[Conversation], list[Conversation]]:
    folder = EXAMPLES / "inquiry"
    train = load_dataset(folder / "train.csv").conversations
    return train, load_dataset(folder / "test.csv").conversations


def _assert_no_leak(train: list[str], test: list[str]) -> None:
    exact = {exact_key(t) for t in train}
    loose = {loose_key(t) for t in train}
    index = NearDupIndex(0.8)
    for text in train:
        index.add(text)
    for text in test:
        assert exact_key(text) not in exact and loose_key(text) not in loose, text
        assert index.query(text) == [], text


def test_without_avoid_the_test_split_still_only_uses_held_out_wording() -> None:
    test = generate_inquiries(300, seed=4, split="test")
    train = generate_inquiries(1000, seed=4)
    _assert_no_leak([c.turns[0].user for c in train], [c.turns[0].user for c in test])


def test_a_phrase_in_both_splits_is_refused() -> None:
    bank = load_bank()
    leaky = bank.frames.test.model_copy(
        update={"do": [*bank.frames.test.do, bank.frames.train.do[0]]}
    )
    frames = Frames(train=bank.frames.train, test=leaky)
    with pytest.raises(ConfigError, match="both train and test"):
        check_disjoint(Bank(frames=frames, products=bank.products))


def test_inquiries_are_deterministic_per_seed() -> None:
    assert _rows(generate_inquiries(60, seed=5)) == _rows(generate_inquiries(60, seed=5))
    assert _rows(generate_inquiries(60, seed=5)) != _rows(generate_inquiries(60, seed=6))


def test_every_bank_verb_conjugates_into_each_form() -> None:
    endings = {
        "려면": "려면",
        "려고": "려고",
        "는": "는",
        "고": "고",
        "나요": "나요",
        "기": "기",
        "어야": "야",
        "는데": "는데",
    }
    bank = load_bank()
    verbs = {
        phrase
        for product in bank.products
        for label in product.labels.values()
        for split in SPLITS
        for situation in label.split(split)
        for phrase in situation.do
    }
    for phrase in verbs:
        head = phrase.rpartition(" ")[0]
        for form, ending in endings.items():
            out = conjugate(phrase, form)
            assert out.startswith(head) and out.endswith(ending), (phrase, form, out)
            assert not re.search("[ㄱ-ㅎㅏ-ㅣ]", out), (phrase, form, out)
        last = conjugate(phrase, "을")[-1]
        assert (ord(last) - 0xAC00) % 28 == 8 or last == "을", phrase  # final ㄹ: 할, 찾을


def test_casual_register_and_misspellings() -> None:
    assert casual("방법 알려주세요") == "방법 알려줘"
    assert casual("궁금합니다. 어떻게 해야 하나요?") == "궁금함. 어떻게 해야 하나?"
    assert casual("가능한지 궁금합니다") == "가능한지 궁금함"
    assert casual("얼마예요?") == "얼마야?"
    seen = {misspell("비밀번호를 바꾸려면 어떻게 해요?", random.Random(i)) for i in range(300)}
    assert any("비번을" in s for s in seen) and any("어케" in s for s in seen)
    assert not any("비번를" in s for s in seen)


# ---------------------------------------------------------------- shipped files and the CLI


def _readme_commands(folder: str) -> list[list[str]]:
    readme = (EXAMPLES / folder / "README.md").read_text(encoding="utf-8")
    lines = [line for line in readme.splitlines() if line.startswith("tunestudio data generate")]
    assert lines, f"no generate command in examples/{folder}/README.md"
    return [shlex.split(line)[1:] for line in lines]


@pytest.mark.parametrize("folder", ["inquiry", "countries"])
def test_the_readme_commands_rebuild_the_shipped_files_byte_for_byte(
    folder: str, tmp_path: Path
) -> None:
    written = []
    for args in _readme_commands(folder):
        local = [a.replace(f"examples/{folder}/", f"{tmp_path}/") for a in args]
        result = run_cli(*local)
        assert result.exit_code == 0, result.stderr
        written += [Path(a) for a in local if a.startswith(str(tmp_path))]
    tables = [p for p in written if p.suffix in (".csv", ".jsonl")]  # .xlsx holds a timestamp
    assert tables
    for path in tables:
        assert path.read_bytes() == (EXAMPLES / folder / path.name).read_bytes(), path.name
    for path in written:
        if path.suffix == ".xlsx":
            shipped = load_dataset(EXAMPLES / folder / path.name).table.rows
            assert load_dataset(path).table.rows == shipped


def test_cli_prints_the_rows_per_category(tmp_path: Path) -> None:
    result = run_cli("data", "generate", "inquiries", "--rows", "45", "-o", tmp_path / "t.jsonl")
    assert result.exit_code == 0, result.stderr
    assert "wrote 45 rows" in result.stdout
    assert "MYBOX 데이터 관리" in result.stdout
    # counts are right-aligned, as in the other commands' tables: "│     3 │", not "│ 3     │"
    [row] = [line for line in result.stdout.splitlines() if "MYBOX 데이터 관리" in line]
    assert re.search(r"│ +\d+ │$", row), row
    assert len((tmp_path / "t.jsonl").read_text(encoding="utf-8").splitlines()) == 45


def test_cli_cpu_sized_countries(tmp_path: Path) -> None:
    out = tmp_path / "c.csv"
    args = ["--subset", "5", "--counts", "4:1,6:1", "--continents", "2-3", "-o", str(out)]
    result = run_cli("data", "generate", "countries", "--rows", "20", *args)
    assert result.exit_code == 0, result.stderr
    assert "rows per list size" in result.stdout
    assert len(load_dataset(out).conversations) == 20


@pytest.mark.parametrize(
    ("args", "where"),
    [
        (["countries", "--rows", "5", "--counts", "10:x"], "--counts"),
        (["countries", "--rows", "5", "--continents", "0-9"], "--continents"),
        (["inquiries", "--rows", "5", "--test-rows", "3"], "--test-rows"),
        (["inquiries", "--rows", "5", "--test-out", "{out}"], "--test-out"),
    ],
)
def test_cli_option_mistakes_are_explained(args: list[str], where: str, tmp_path: Path) -> None:
    out = str(tmp_path / "x.csv")
    result = run_cli("data", "generate", *[a.format(out=out) for a in args], "-o", out)
    assert result.exit_code == 2
    assert f"error: {where}" in result.stderr
    assert "hint:" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_refuses_an_unknown_output_type_before_generating(tmp_path: Path) -> None:
    result = run_cli("data", "generate", "countries", "--rows", "5", "-o", tmp_path / "x.txt")
    assert result.exit_code == 2
    assert "cannot tell the format" in result.stderr and "hint:" in result.stderr
    assert not (tmp_path / "x.txt").exists()
