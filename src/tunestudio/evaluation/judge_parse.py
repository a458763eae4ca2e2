"""Reading a judge's reply: a score on the rubric's scale, or a verdict A / B / tie.

Judges are asked for one line of JSON (``{"reason": …, "score": 7}`` or ``{"reason": …,
"winner": "A"}``), but real replies wrap it in code fences, add prose, answer with labels
(``점수: 7``, ``승자: A``, MT-Bench's ``[[7]]`` / ``[[A]]``) or use full-width digits. The parser
accepts all of those, and never guesses: no value, two different values, or a score off the
scale is a *judge failure* with the reason in ``error``, never a score.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SCORE_KEYS = ("score", "rating", "점수", "평점")
VERDICT_KEYS = ("winner", "verdict", "승자", "판정", "choice", "선택")
REASON_KEYS = ("reason", "rationale", "explanation", "이유", "근거", "설명")
TIE_WORDS = {"tie", "draw", "equal", "c", "무승부", "동점", "비김", "동등", "비슷함", "같음"}
_SIDE = re.compile(
    r"^(?:answer|assistant|response|model|답변|응답|어시스턴트)?\s*([ab])"
    r"(?:\s*(?:답변|응답))?(?:\s*(?:입니다|이다|임|가 낫습니다|가 더 낫습니다))?$"
)
_NUMBER = re.compile(r"^([+-]?\d+(?:\.\d+)?)\s*점?\s*(?:/\s*(\d+)\s*점?)?$")
_EXCERPT = 80


def _labelled(keys: tuple[str, ...], value: str, echo: str) -> re.Pattern[str]:
    """``점수: 7``, ``**Score**: 7``, ``'winner': 'A'``; ``echo`` refuses a repeated format."""
    names = "|".join(re.escape(k) for k in keys)
    quote = "[*_\"'\\[]*"
    return re.compile(rf"(?<![\w])(?:{names}){quote}\s*[:=]\s*{quote}\s*({value})(?!{echo})", re.I)


# "score": 1~10 and "winner": "A" or "B" are the answer format repeated, not an answer.
_SCORE_LABEL = _labelled(
    SCORE_KEYS,
    r"[+-]?\d+(?:\.\d+)?(?:\s*/\s*\d+)?(?![\d.])",
    r"\s*(?:[~\-–]|to\b|부터)\s*\d",
)
_VERDICT_LABEL = _labelled(
    VERDICT_KEYS,
    r"[^\s\"'*\],.]+(?:\s*[ab](?!\w))?(?![^\s\"'*\],.])",
    r"[\"'*]*\s*(?:또는|or\b|/|\||,\s*[\"']?b\b)",
)
_REASON_LABEL = re.compile(
    rf"(?:{'|'.join(REASON_KEYS)})[*_\"']*\s*[:=]\s*[*_\"']*\s*(.+)", re.I | re.DOTALL
)
_BRACKETS = re.compile(r"\[\[\s*([^\[\]]{1,12}?)\s*\]\]")


@dataclass(frozen=True)
class JudgeReply:
    """What a reply said: ``value`` (an int score or "A"/"B"/"tie") or an ``error``."""

    value: int | str | None
    reason: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.value is not None


def parse_score(reply: str, low: int, high: int) -> JudgeReply:
    """A whole-number score from ``low`` to ``high``, or a judge failure saying why not."""
    return _settle(reply, SCORE_KEYS, _SCORE_LABEL, lambda value: _score(value, low, high))


def parse_verdict(reply: str) -> JudgeReply:
    """``"A"``, ``"B"`` or ``"tie"``, or a judge failure saying why not."""
    return _settle(reply, VERDICT_KEYS, _VERDICT_LABEL, _verdict)


def _settle(
    reply: str,
    keys: tuple[str, ...],
    label: re.Pattern[str],
    read: Callable[[Any], tuple[int | str | None, str]],
) -> JudgeReply:
    """The one value the reply gives, or why there is none (no value, a bad one, two)."""
    reason = _reason(reply)
    found = _values(reply, keys, label)
    if isinstance(found, str):
        return JudgeReply(None, reason, found)
    results = [read(value) for value in found]
    errors = [error for value, error in results if value is None]
    if errors:
        return JudgeReply(None, reason, errors[0])
    values = sorted({str(value) for value, _ in results})
    if len(values) > 1:
        shown = ", ".join(values)
        return JudgeReply(
            None,
            reason,
            f"the reply gives {len(values)} different {keys[0]}s ({shown}): {_excerpt(reply)}",
        )
    return JudgeReply(results[0][0], reason)


def _values(reply: str, keys: tuple[str, ...], label: re.Pattern[str]) -> list[Any] | str:
    """Every value the reply gives for ``keys``: JSON first, then labels, then a bare value."""
    text = unicodedata.normalize("NFKC", reply)  # ７ → 7, ：→ :, Ａ → A
    if not text.strip():
        return "the judge's reply is empty"
    from_json = [v for obj in _json_objects(text) if (v := _lookup(obj, keys)) is not None]
    if from_json:
        return from_json
    found: list[Any] = [m.group(1) for m in label.finditer(text)]
    found += [m.group(1) for m in _BRACKETS.finditer(text)]
    if found:
        return found
    bare = text.strip().strip("`*_\"'.。 \n")
    if bare and len(bare) <= 12 and "\n" not in bare:
        return [bare]  # the whole reply is the value ("7", "7/10", "A", "tie")
    return f"no {keys[0]} in the judge's reply: {_excerpt(reply)}"


def _json_objects(text: str) -> list[dict[str, Any]]:
    """JSON objects anywhere in the text (inside code fences or prose), outermost first."""
    decoder = json.JSONDecoder()
    found, position = [], 0
    while (start := text.find("{", position)) != -1:
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            position = start + 1
            continue
        if isinstance(value, dict):
            found.append(value)
        position = end
    return found


def _lookup(obj: dict[str, Any], keys: tuple[str, ...]) -> Any:
    lowered = {str(k).strip().casefold(): v for k, v in obj.items()}
    return next((lowered[k] for k in keys if k in lowered), None)


def _score(value: Any, low: int, high: int) -> tuple[int | None, str]:
    """An int on the scale, or None and the reason it is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None, f"{value!r} is not a score on the {low}–{high} scale"
    out_of = None
    if isinstance(value, str):
        match = _NUMBER.match(unicodedata.normalize("NFKC", value).strip())
        if match is None:
            return None, f"{value!r} is not a score on the {low}–{high} scale"
        number, out_of = float(match.group(1)), match.group(2)
    else:
        number = float(value)
    if out_of is not None and int(out_of) != high:
        return None, f"the judge scored out of {out_of}, the rubric's scale is {low}–{high}"
    if number != int(number):
        return None, f"the score {number:g} is not a whole number on the {low}–{high} scale"
    if not low <= number <= high:
        return None, f"the score {number:g} is off the rubric's {low}–{high} scale"
    return int(number), ""


def _verdict(value: Any) -> tuple[str | None, str]:
    text = unicodedata.normalize("NFKC", str(value)).strip().strip("\"'[]*_.() ").casefold()
    text = " ".join(text.split())
    if text in TIE_WORDS:
        return "tie", ""
    match = _SIDE.match(text)
    if match:
        return match.group(1).upper(), ""
    return None, f"{value!r} is not a verdict (expected A, B or tie)"


def _reason(reply: str) -> str:
    for obj in _json_objects(unicodedata.normalize("NFC", reply)):
        value = _lookup(obj, REASON_KEYS)
        if isinstance(value, str) and value.strip():
            return value.strip()
    match = _REASON_LABEL.search(reply)
    if match:
        return match.group(1).strip().splitlines()[0].strip().rstrip("\"'}").strip()
    return reply.strip()


def _excerpt(reply: str) -> str:
    line = " ".join(reply.split())
    return repr(line if len(line) <= _EXCERPT else line[: _EXCERPT - 1] + "…")
