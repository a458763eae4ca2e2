"""Deterministic rule-based judges for the judge tests, served over real HTTP.

They are real Backends that read the prompt a rubric rendered, section by section (``[질문]``,
``[참고 답변]``, ``[평가할 답변]``, ``[답변 A]``…), and answer the way a judge model would:

* :class:`ReferenceJudge` prefers the answer equal to the reference (score 9, else 2; the
  pair's matching answer wins, tie when both or neither match) and varies the *form* of its
  replies (JSON, fenced JSON, Korean labels, full-width digits) so the parser is exercised.
* :class:`FirstJudge` always picks whichever answer was shown first: pure position bias.
* :class:`ChattyJudge` never gives a score or verdict at all.
* :class:`DriftingJudge` scores 7, 8, 7, 8… for repeated questions: a judge with variance.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.http_servers import LiveServer, OpenAIServer
from tunestudio.data.table import write_table
from tunestudio.models import Backend, load_backend
from tunestudio.models.base import BaseBackend, Capabilities
from tunestudio.models.http import RetryPolicy
from tunestudio.types import ChatResult, GenParams, Message, Usage

SECTION = re.compile(r"^\[(.+?)\]\s*$", re.M)


def sections(prompt: str) -> dict[str, str]:
    """``{"질문": …, "참고 답변": …}`` from a prompt laid out as ``[name]`` blocks."""
    parts = SECTION.split(prompt)
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}


@dataclass
class RuleJudge(BaseBackend):
    """Base: counts calls, answers ``reply(sections)`` with token counts by characters."""

    name: str = "rule-judge"
    capabilities: Capabilities = field(default_factory=lambda: Capabilities(concurrent=True))
    seen: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def chat(self, messages: Sequence[Message], params: GenParams = GenParams()) -> ChatResult:
        found = sections(messages[-1].content)
        with self._lock:
            self.seen[found.get("질문", "")] += 1
            times = self.seen[found.get("질문", "")]
        content = self.reply(found, times)
        return ChatResult(content, Usage(self.count_tokens(messages), len(content)), "stop")

    def reply(self, found: dict[str, str], times: int) -> str:
        raise NotImplementedError

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return sum(len(m.content) for m in messages)


class ReferenceJudge(RuleJudge):
    """Right answers score 9 and win; the reply's form rotates through what judges write."""

    def reply(self, found: dict[str, str], times: int) -> str:
        reference = found.get("참고 답변", "")
        form = FORMS.get(found.get("질문", ""), 0)
        if "평가할 답변" in found:
            score = 9 if found["평가할 답변"] == reference else 2
            return _score_form(form, score)
        a_right = found.get("답변 A") == reference
        b_right = found.get("답변 B") == reference
        winner = "tie" if a_right == b_right else ("A" if a_right else "B")
        return _verdict_form(form, winner)


class FirstJudge(RuleJudge):
    """Always prefers the answer it was shown first."""

    def reply(self, found: dict[str, str], times: int) -> str:
        return json.dumps(
            {"reason": "먼저 나온 답변이 더 좋습니다", "winner": "A"}, ensure_ascii=False
        )


class ChattyJudge(RuleJudge):
    """Talks about the answer but never scores it."""

    def reply(self, found: dict[str, str], times: int) -> str:
        return "좋은 답변입니다. 다만 조금 더 자세하면 좋겠습니다."


class DriftingJudge(RuleJudge):
    """7 the first time it sees a question, 8 the second, 7 the third…"""

    def reply(self, found: dict[str, str], times: int) -> str:
        return json.dumps({"reason": "보통", "score": 7 + (times + 1) % 2})


def _score_form(form: int, score: int) -> str:
    wide = str(score).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    return [
        json.dumps({"reason": "참고 답변과 비교함", "score": score}, ensure_ascii=False),
        f'```json\n{{"score": {score}, "reason": "참고 답변과 비교함"}}\n```',
        f"점수: {score}\n이유: 참고 답변과 비교함",
        f"**평점**: {wide}/10 — 참고 답변과 비교함",
    ][form]


def _verdict_form(form: int, winner: str) -> str:
    korean = {"A": "A", "B": "B", "tie": "무승부"}[winner]
    return [
        json.dumps({"reason": "참고 답변과 같은 쪽", "winner": winner}, ensure_ascii=False),
        f'설명을 덧붙이면…\n```json\n{{"winner": "{winner}", "reason": "참고 답변과 같은 쪽"}}\n```',
        f"승자: {korean}\n근거: 참고 답변과 같은 쪽",
        f"[[{'C' if winner == 'tie' else winner}]]",
    ][form]


@contextmanager
def served(judge: RuleJudge, **options: Any) -> Iterator[tuple[Backend, OpenAIServer, str]]:
    """The judge behind a local OpenAI-compatible server, and the ``openai:`` backend to it."""
    server = OpenAIServer(judge, model="judge")
    with LiveServer(server.app) as live:
        spec = f"openai:{live.url}/v1#judge"
        retry = RetryPolicy(max_retries=2, sleep=lambda _: None)
        backend = load_backend(spec, retry=retry, **options)
        try:
            yield backend, server, spec
        finally:
            backend.close()


QUESTIONS = [
    ("배송이 아직 안 왔어요", "배송"),
    ("환불은 언제 되나요?", "환불"),
    ("비밀번호를 잊어버렸어요", "계정"),
    ("결제가 두 번 됐어요", "결제"),
    ("앱이 자꾸 꺼져요", "오류"),
    ("쿠폰이 적용되지 않아요", "쿠폰"),
]
# Each question gets its own reply form, so every form the parser knows goes over the wire.
FORMS = {question: i % 4 for i, (question, _) in enumerate(QUESTIONS)}
SKILLS = ["분류", "분류", "추출", "추출", "요약", "요약"]
DIFFICULTY = [1, 2, 1, 2, 1, 3]


def write_predictions(path: Path, answers: Sequence[str | None]) -> Path:
    """A predictions table as ``tunestudio infer`` writes it; None = the model failed."""
    rows = []
    for (question, expected), answer, skill, level in zip(
        QUESTIONS, answers, SKILLS, DIFFICULTY, strict=True
    ):
        failed = answer is None
        rows.append(
            {
                "system": "문의를 한 단어로 분류하세요.",
                "user": question,
                "expected": expected,
                "skill": skill,
                "difficulty": level,
                "content": "" if failed else answer,
                "error": "ModelUnavailableError: server down" if failed else "",
            }
        )
    columns = ["system", "user", "expected", "skill", "difficulty", "content", "error"]
    return write_table(path, columns, rows)


# Before: right on 0, 2; a failed answer on 5. After: right on 0, 1, 2, 3; wrong on 4.
BEFORE: list[str | None] = ["배송", "배송", "계정", "환불", "결제", None]
AFTER: list[str | None] = ["배송", "환불", "계정", "결제", "계정", "쿠폰"]
