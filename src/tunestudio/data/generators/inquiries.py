"""The customer-inquiry classification dataset of the CLOVA Studio cookbook (seed 001).

Korean customer inquiries about three NAVER services, each labelled with one of 15 categories;
the Completion is exactly the category name (``MYBOX 데이터 관리``). Inquiries are composed from
the phrase bank (:mod:`.inquiry_bank`): a situation of the category (an intent, such as restoring
a file from the trash), an alias users type for the product (네이버 드라이브 for MYBOX), a
label-free sentence frame, and noise (:mod:`.inquiry_noise`). The ``test`` split is written only
from held-out situations and frames, so it measures whether a model reads the intent rather than
remembering phrasings.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable

from tunestudio.data.generators.inquiry_bank import Phrases, Split, load_bank
from tunestudio.data.generators.inquiry_noise import add_noise
from tunestudio.data.generators.inquiry_text import render
from tunestudio.data.near_dup import DEFAULT_THRESHOLD, NearDupIndex
from tunestudio.data.normalize import loose_key
from tunestudio.errors import ConfigError, DataError
from tunestudio.types import Conversation, Turn

INQUIRY_LABELS: tuple[str, ...] = (
    "네이버밴드 기능문의 및 사용방법",
    "네이버밴드 계정",
    "네이버밴드 결제",
    "네이버밴드 보안 및 해킹",
    "네이버밴드 오류해결",
    "MYBOX 기능문의 및 사용방법",
    "MYBOX 계정",
    "MYBOX 결제",
    "MYBOX 가격",
    "MYBOX 데이터 관리",
    "MYBOX 보안 및 해킹",
    "네이버플러스멤버십 기능문의 및 사용방법",
    "네이버플러스멤버십 결제",
    "네이버플러스멤버십 가격",
    "네이버플러스멤버십 오류해결",
)
INQUIRY_SYSTEM_PROMPT = "\n".join(
    [
        "- 당신은 네이버 고객센터에 들어온 고객 문의를 분류하는 담당자입니다.",
        "- 문의 내용을 읽고 아래 15개 카테고리 중 가장 알맞은 하나를 고르세요.",
        f"- 카테고리: {', '.join(INQUIRY_LABELS)}",
        "- 설명이나 인사 없이 카테고리명만 그대로 출력하세요.",
    ]
)
_ATTEMPTS = 200  # fresh draws per row before concluding the bank is exhausted


def generate_inquiries(
    rows: int,
    *,
    seed: int = 0,
    split: Split = "train",
    avoid: Iterable[str] = (),
    progress: Callable[[int], None] | None = None,
) -> list[Conversation]:
    """Generate ``rows`` labelled inquiries, deterministic for ``seed`` and ``split``.

    Every category gets the same number of rows (±1), in shuffled order. No text equals another
    after :func:`loose_key` or is a near-duplicate of one (character-3-gram Jaccard ≥ 0.8),
    whether in this set or in ``avoid``: passing the training texts makes a test set that cannot
    leak. ``split="test"`` writes from the held-out wordings, intents and frames. ``progress``
    is called with the number of rows done.
    """
    if rows < 0:
        raise ConfigError(f"--rows is {rows}", where="--rows", hint="ask for 0 or more rows")
    if split not in ("train", "test"):
        raise ConfigError(f"unknown split {split!r}", hint="use train or test")
    bank = load_bank()
    frames = bank.frames.train if split == "train" else bank.frames.test
    rng = random.Random(f"inquiries:{split}:{seed}")
    order = [INQUIRY_LABELS[i % len(INQUIRY_LABELS)] for i in range(rows)]
    rng.shuffle(order)
    decks = {label: _Deck(bank.situations(label, split), rng) for label in INQUIRY_LABELS}
    guard = _Guard(avoid)
    out: list[Conversation] = []
    for label in order:
        aliases = list(bank.product_of(label).aliases.items())
        for _ in range(_ATTEMPTS):
            text = add_noise(render(decks[label].draw(), aliases, frames, rng), rng)
            if guard.admit(text):
                break
        else:
            raise DataError(
                f"could not write {rows} distinct {split} inquiries: the phrase bank ran out "
                f"of new wordings for {label!r}",
                hint="ask for fewer rows, or add situations to the phrase bank",
            )
        out.append(Conversation(INQUIRY_SYSTEM_PROMPT, [Turn(text, label)]))
        if progress:
            progress(len(out))
    return out


class _Deck:
    """Deals a category's situations in shuffled rounds, so each is used about equally."""

    def __init__(self, situations: list[Phrases], rng: random.Random):
        self._situations, self._rng, self._hand = situations, rng, list[Phrases]()

    def draw(self) -> Phrases:
        if not self._hand:
            self._hand = self._rng.sample(self._situations, len(self._situations))
        return self._hand.pop()


class _Guard:
    """Admits a text unless it equals or nearly equals one written before or one to avoid.

    Near-duplicates within a split are refused too: they teach little, skew training towards
    one wording and would make ``tunestudio data validate`` warn about the shipped examples.
    """

    def __init__(self, avoid: Iterable[str]):
        self._keys: set[str] = set()
        self._index = NearDupIndex(DEFAULT_THRESHOLD)
        for text in avoid:
            self._remember(text)

    def admit(self, text: str) -> bool:
        if loose_key(text) in self._keys or self._index.query(text):
            return False
        self._remember(text)
        return True

    def _remember(self, text: str) -> None:
        self._keys.add(loose_key(text))
        self._index.add(text)
