"""Text statistics of answers: characters, tokens, sentences, lines, bullets."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunestudio.errors import ConfigError
from tunestudio.evaluation.predictions import Prediction
from tunestudio.evaluation.scorers import GENERATION_FAILED, get_scorer
from tunestudio.evaluation.scorers.textstats import bullet_count

SUMMARY = (
    "## 회의 요약\n- 출시일을 3월로 정했습니다.\n- 가격은 유지합니다.\n1. 다음 회의는 금요일입니다."
)
PROSE = "회의에서 출시일을 정했습니다. 가격은 그대로 둡니다."


def items() -> list[Prediction]:
    return [
        Prediction(0, "q", None, SUMMARY),
        Prediction(1, "q", None, PROSE),
        Prediction(2, "q", None, None),
    ]


def test_each_answer_is_measured() -> None:
    report = get_scorer("textstats").score(items())
    assert report.matches == [None, None, None]
    first, second, failed = report.rows
    assert first.details["bullets"] == 3 and first.details["lines"] == 4
    assert first.details["sentences"] == 4 and first.details["characters"] == len(SUMMARY)
    assert second.details["bullets"] == 0 and second.details["sentences"] == 2
    assert second.details["tokens"] > 10
    assert failed.error_class == GENERATION_FAILED and failed.details == {}


def test_metrics_and_distribution_leave_failed_rows_out() -> None:
    report = get_scorer("textstats").score(items())
    m = report.metrics
    assert m["n"] == 2 and m["generation_failed_rate"] == pytest.approx(1 / 3)
    assert m["mean_bullets"] == 1.5 and m["share_with_bullets"] == 0.5
    assert m["mean_characters"] == (len(SUMMARY) + len(PROSE)) / 2
    rows = {row["measure"]: row for row in report.tables["distribution"]}
    assert rows["sentences"]["min"] == 2 and rows["sentences"]["max"] == 4
    assert rows["tokens"]["unit"] == "kiwi morphemes"


@pytest.mark.parametrize(
    ("text", "count"),
    [("- a\n- b", 2), ("• 가\n· 나\n* 다", 3), ("1. 하나\n2) 둘", 2), ("-음수\n3.5배", 0), ("", 0)],
)
def test_bullets(text: str, count: int) -> None:
    assert bullet_count(text) == count


def test_a_local_tokenizer_counts_its_own_tokens(tmp_path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator([SUMMARY, PROSE] * 5, trainers.BpeTrainer(special_tokens=["[UNK]"]))
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]").save_pretrained(tmp_path)
    report = get_scorer("textstats", tokenizer=str(tmp_path)).score(items())
    expected = len(tok.encode(PROSE).ids)
    assert report.rows[1].details["tokens"] == expected
    assert report.tables["distribution"][1]["unit"] == f"{tmp_path} tokens"


def test_a_missing_tokenizer_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        get_scorer("textstats", tokenizer=str(tmp_path / "nope")).score(items())
    assert caught.value.where == "tokenizer"
