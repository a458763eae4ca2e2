from __future__ import annotations

import json
from dataclasses import astuple
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from tests.cli_runner import run_cli
from tunestudio.data import save_dataset
from tunestudio.data.stats import (
    LengthSummary,
    dataset_stats,
    exception_summary,
    is_label_set,
    label_counts,
    load_tokenizer,
    plot_stats,
)
from tunestudio.errors import ModelError
from tunestudio.types import Conversation, Turn

# Lengths easy to count by hand: systems 6, 0, 6, 0; texts 2, 4, 6, 8, 0; completions 2, 2, 4, 2, 2.
TINY = [
    Conversation("분류해주세요", [Turn("안녕", "긍정")]),
    Conversation("", [Turn("배송문의", "부정"), Turn("환불해주세요", "중립인가")]),
    Conversation("분류해주세요", [Turn("교환 가능한가요", "긍정")]),
    Conversation("", [Turn("", "부정")]),
]
# Last completions 긍정, 중립인가, 긍정, 부정 + 부정, 중립인가: every label used twice.
LABELLED = [
    *TINY,
    Conversation("", [Turn("별로예요", "부정")]),
    Conversation("", [Turn("그냥 그래요", "중립인가")]),
]

KOREAN_LINES = [
    "배송은 언제 도착하나요?",
    "환불 규정을 알려주세요.",
    "교환은 어떻게 하나요?",
    "결제가 두 번 되었어요.",
    "회원 정보를 변경하고 싶어요.",
    "쿠폰이 적용되지 않아요.",
    "안녕하세요, 상담원입니다.",
]


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A byte-level BPE tokenizer trained here on a few Korean lines, saved like a model's."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(KOREAN_LINES * 20, vocab_size=400, min_frequency=2, show_progress=False)
    path = tmp_path_factory.mktemp("tok")
    PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer).save_pretrained(path)
    return path


def _numbers(summary: LengthSummary) -> tuple[float, ...]:
    return tuple(float(v) for v in astuple(summary))


def test_numbers_on_a_tiny_known_dataset() -> None:
    stats = dataset_stats(TINY)
    assert (stats.rows, stats.conversations) == (5, 4)
    # count, empty, min, mean, p50, p95 (numpy's linear interpolation), max
    assert _numbers(stats.turns) == pytest.approx((4, 0, 1, 1.25, 1, 1.85, 2))
    chars = stats.summary("chars")
    assert _numbers(chars["System_Prompt"]) == pytest.approx((4, 2, 0, 3, 3, 6, 6))
    assert _numbers(chars["Text"]) == pytest.approx((5, 1, 0, 4, 4, 7.6, 8))
    assert _numbers(chars["Completion"]) == pytest.approx((5, 0, 2, 2.4, 2, 3.6, 4))
    assert stats.labels == {}  # 부정 and 중립인가 end one conversation each: not a label set
    assert stats.distinct_completions == 3
    assert stats.tokens is None


def test_labels_need_at_most_50_values_each_used_twice() -> None:
    assert label_counts(TINY) == {"긍정": 2, "부정": 1, "중립인가": 1}
    assert not is_label_set(label_counts(TINY))
    assert dataset_stats(LABELLED).labels == {"긍정": 2, "부정": 2, "중립인가": 2}
    spaced = [Conversation("", [Turn("q", " 긍정 ")]), Conversation("", [Turn("q", "긍정")])]
    assert label_counts(spaced) == {"긍정": 2}  # outer spaces do not make a new label
    many = [Conversation("", [Turn("q", f"답{i % 51}")]) for i in range(102)]
    assert not is_label_set(label_counts(many))  # 51 distinct values is not a label set
    assert dataset_stats(many).distinct_completions == 51


def test_rows_default_to_turns_and_can_be_given() -> None:
    assert dataset_stats(TINY, rows=9).rows == 9


def test_token_counts_with_a_tokenizer_built_here(tokenizer_dir: Path) -> None:
    from tokenizers import Tokenizer

    raw = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    stats = dataset_stats(TINY, tokenizer=load_tokenizer(str(tokenizer_dir)), tokenizer_name="tok")
    assert stats.tokens is not None
    expected = [
        len(raw.encode(t.user, add_special_tokens=False).ids) for c in TINY for t in c.turns
    ]
    assert stats.tokens["Text"] == expected
    assert stats.tokens["Text"][-1] == 0 and all(n > 0 for n in expected[:-1])
    assert stats.to_dict()["tokens"]["Text"]["max"] == max(expected)
    assert stats.to_dict()["tokenizer"] == "tok"


def test_tokenizer_errors_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as err:
        load_tokenizer(str(tmp_path / "nope"))
    assert err.value.where == "--tokenizer" and "no tokenizer folder" in err.value.message
    assert "check the path" in (err.value.hint or "")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelError) as err:
        load_tokenizer(str(empty))
    assert "cannot load a tokenizer from" in err.value.message
    with pytest.raises(ModelError) as err:  # conftest sets HF_HUB_OFFLINE=1
        load_tokenizer("naver-hyperclovax/HyperCLOVAX-SEED-Text-Instruct-0.5B")
    assert "neither cached nor downloadable" in err.value.message
    assert "the hub is unreachable offline — give a local path" in (err.value.hint or "")


def _png_pixels(path: Path) -> np.ndarray:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return imread(path)


def test_plot_has_histograms_and_label_bars(tmp_path: Path, tokenizer_dir: Path) -> None:
    convs = [
        Conversation("", [Turn(line * (i % 4 + 1), label)])
        for i, (line, label) in enumerate(
            zip(KOREAN_LINES * 6, ["배송 문의", "환불 요청", "기타"] * 14, strict=True)
        )
    ]
    plain = plot_stats(dataset_stats(convs), tmp_path / "a.png")
    tok = load_tokenizer(str(tokenizer_dir))
    with_tokens = plot_stats(dataset_stats(convs, tokenizer=tok), tmp_path / "b.png")
    small, tall = _png_pixels(plain), _png_pixels(with_tokens)
    assert small.shape[1] > 1000 and tall.shape[0] > small.shape[0]  # a row of token charts
    assert small.std() > 0.05  # drawn, not blank
    assert plain.stat().st_size > 20_000


# ---- the CLI -------------------------------------------------------------------------------


def test_cli_prints_tables_and_writes_the_chart_beside_the_file(tmp_path: Path) -> None:
    src = save_dataset(LABELLED, tmp_path / "d.csv")
    result = run_cli("data", "stats", src)
    assert result.exit_code == 0, result.stderr
    assert "token counts need --tokenizer" in result.stdout
    assert "length in characters" in result.stdout
    assert "중립인가" in result.stdout and "33.3%" in result.stdout  # the label table
    assert (tmp_path / "d.stats.png").stat().st_size > 10_000


def test_cli_json_with_tokenizer(tmp_path: Path, tokenizer_dir: Path) -> None:
    src = save_dataset(TINY, tmp_path / "d.jsonl", "openai")
    png = tmp_path / "charts" / "s.png"
    result = run_cli("data", "stats", src, "--tokenizer", tokenizer_dir, "--png", png, "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["format"] == "openai" and data["rows"] == 4 and data["conversations"] == 4
    assert data["labels"] is None and data["distinct_completions"] == 3
    assert data["chars"]["Text"]["mean"] == pytest.approx(4.0)
    assert data["tokens"]["Completion"]["count"] == 5
    assert data["png"] == str(png) and png.exists()


@pytest.mark.parametrize(
    ("target", "text"),
    [("no-such-dir/", "check the path"), ("nobody/no-such-model", "unreachable offline")],
)
def test_cli_bad_tokenizer_is_a_clean_error(tmp_path: Path, target: str, text: str) -> None:
    src = save_dataset(TINY, tmp_path / "d.csv")
    arg = str(tmp_path / target) if target.endswith("/") else target
    result = run_cli("data", "stats", src, "--tokenizer", arg)
    assert result.exit_code == 2
    assert "error: --tokenizer:" in result.stderr
    assert text in result.stderr.replace("\n", " ")
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "d.stats.png").exists()  # nothing is written on failure


def test_offline_hub_error_is_whole_sentences_not_a_cut_url() -> None:
    with pytest.raises(ModelError) as err:  # conftest sets HF_HUB_OFFLINE=1
        load_tokenizer("naver-hyperclovax/HyperCLOVAX-SEED-Text-Instruct-0.5B")
    message = err.value.message
    assert "OSError: " in message or "Error: " in message  # the exception's type
    # every quote opened is closed: no URL cut in half
    assert message.count("'") % 2 == 0, message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("first line\nsecond line", "OSError: first line"),
        ("see 'https://example.com/docs/a-very-long-page' " * 8, "…"),
        ("", "OSError"),
        ("x" * 300, "OSError: …"),
    ],
)
def test_exception_summary_never_cuts_inside_a_word(text: str, expected: str) -> None:
    summary = exception_summary(OSError(text))
    assert summary == expected or summary.endswith(expected)
    assert len(summary) <= len("OSError: ") + 202
    if summary != "OSError":
        for word in summary.removeprefix("OSError: ").split():
            assert word == "…" or word in text.split()
