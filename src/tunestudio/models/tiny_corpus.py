"""The pre-training corpus of the built-in ``tiny`` model, assembled from the data generators.

The tiny model should know the chat template, end its answers, and read and write the project's
Korean, yet NOT know the inquiry classification: a tuning demo must start from a weak baseline
and show what tuning adds. So it learns, from training-split texts only:

- language modelling on customer-inquiry texts (no labels);
- services: name the service (네이버밴드, MYBOX, 네이버플러스멤버십) an inquiry is about. This is
  the domain knowledge a real base model brings (it knows what MYBOX is); the 15 categories
  within the services are left for tuning. With it a short LoRA run on the inquiry task took
  hold much sooner (same seed, 100 CPU-seconds of LoRA: 19% → 65% exact match);
- replies: answer small talk and inquiries politely, as a help desk would (naming the service
  first), with no system prompt or a generic one, so plain chat gets Korean sentences;
- echo: repeat the user's message (inquiries, category names, country lists), sometimes over two
  turns, so it learns history, copying and when to stop;
- pick: output the N-th item of a list given in the system prompt (category names or
  countries), so category names are words it can write, without being tied to any inquiry;
- countries: the cookbook's continent grouping on short lists.

Every category name and country name is in the tokenizer's training text, so each becomes a few
tokens whose embeddings the pre-training updates (LoRA alone cannot learn embeddings of tokens the
base never saw).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from tunestudio.data.generators.countries import COUNTRY_CONTINENT, generate_countries
from tunestudio.data.generators.inquiries import INQUIRY_LABELS, generate_inquiries
from tunestudio.data.generators.inquiry_bank import load_bank
from tunestudio.types import Conversation

Chat = list[dict[str, str]]

ECHO_PROMPT = "- 사용자의 말을 한 글자도 바꾸지 말고 그대로 따라 쓰세요."
PICK_PROMPT = "- 아래 목록에서 사용자가 말한 번호의 항목을 그대로 출력하세요.\n- {name}: {items}"
SERVICE_PROMPT = (
    "- 고객 문의가 어느 서비스에 대한 것인지 서비스 이름만 답하세요.\n- 서비스: {services}"
)
CHAT_PROMPTS = (
    "",
    "- 당신은 친절한 고객 상담원입니다. 고객의 말에 한국어로 정중하게 답하세요.",
    '- AI 언어모델의 이름은 "CLOVA X" 이며 네이버에서 만들었다.',
    "너는 도움이 되는 AI 어시스턴트야. 짧고 친절하게 답해.",
)
# Replies open with the service, as a help desk routes an inquiry before it answers it.
REPLY_OPEN = (
    "{service} 관련 문의 잘 받았습니다.",
    "{service} 이용에 대해 문의하셨군요.",
    "{service} 문의 감사합니다.",
)
REPLY_CLOSE = (
    "자세한 내용을 확인한 뒤 빠르게 안내해 드리겠습니다.",
    "잠시만 기다려 주시면 답변 드리겠습니다.",
    "추가로 궁금한 점이 있으면 언제든 말씀해 주세요.",
)
SMALL_TALK = (
    ("안녕하세요", "안녕하세요! 무엇을 도와드릴까요?"),
    ("안녕", "안녕하세요! 궁금한 점이 있으면 말씀해 주세요."),
    ("반가워요", "저도 반갑습니다. 무엇을 도와드릴까요?"),
    ("고마워요", "도움이 되어 기쁩니다. 또 궁금한 점이 있으면 말씀해 주세요."),
    ("감사합니다", "천만에요. 좋은 하루 보내세요."),
    ("누구세요?", "저는 tunestudio에 들어 있는 작은 한국어 모델입니다."),
    ("뭘 할 수 있어?", "짧은 질문에 답하고, 따라 쓰기와 나라 분류를 조금 할 수 있어요."),
)
PICK_QUESTIONS = ("{n}번", "{n}번 항목", "{n}번째는?", "{n}번째 {name}를 알려주세요")
ROLE_WORDS = ("tool_list", "system", "user", "assistant")
NAME_REPEATS = 4


@dataclass(frozen=True)
class CorpusSize:
    """How many documents of each kind the corpus holds."""

    inquiries: int = 6000
    services: int = 1500
    replies: int = 600
    echo: int = 1500
    pick: int = 800
    countries: int = 500


@dataclass
class Corpus:
    """Plain texts and chats for pre-training, and the text the tokenizer is trained on."""

    texts: list[str] = field(default_factory=list)
    chats: list[Chat] = field(default_factory=list)

    def tokenizer_texts(self) -> list[str]:
        """Everything the model will read, plus every label, country and chat role word.

        Names are repeated so that BPE (which merges only pairs seen at least twice) makes each
        one a few tokens even when the corpus is small. Role words appear in every rendered chat,
        so they are counted once per chat: BPE then makes them whole tokens.
        """
        names = [*INQUIRY_LABELS, *COUNTRY_CONTINENT, *COUNTRY_CONTINENT.values()]
        messages = [m["content"] for chat in self.chats for m in chat]
        roles = ["\n".join(ROLE_WORDS)] * len(self.chats)
        return [*self.texts, *messages, *(names * NAME_REPEATS), *roles]


def build_corpus(seed: int = 0, size: CorpusSize = CorpusSize()) -> Corpus:
    """Assemble the pre-training corpus; the same ``seed`` gives the same corpus."""
    rng = random.Random(f"tiny-corpus:{seed}")
    # Training split only: the held-out test phrasings stay unseen until evaluation.
    drawn = generate_inquiries(size.inquiries + size.services + size.replies, seed=seed)
    inquiries = [c.turns[0].user for c in drawn[: size.inquiries]]
    for_services = drawn[size.inquiries : size.inquiries + size.services]
    countries = generate_countries(
        size.countries, counts=((3, 1), (4, 1), (5, 1)), continents=(2, 3), seed=seed
    )
    country_lists = [c.turns[0].user.split("\n\n", 1)[1] for c in countries]
    echo_sources = [*inquiries, *INQUIRY_LABELS, *country_lists]
    corpus = Corpus(texts=list(inquiries))
    corpus.chats += _services(for_services)
    corpus.chats += [_reply(c, rng) for c in drawn[size.inquiries + size.services :]]
    corpus.chats += [_echo(echo_sources, rng) for _ in range(size.echo)]
    corpus.chats += [_pick(rng) for _ in range(size.pick)]
    corpus.chats += [[_message(m.role, m.content) for m in c.messages()] for c in countries]
    return corpus


def _message(role: str, content: str) -> dict[str, str]:
    return {"role": role, "content": content}


def _services(inquiries: list[Conversation]) -> list[Chat]:
    """Which service each inquiry is about (never which of its categories)."""
    bank = load_bank()
    system = SERVICE_PROMPT.format(services=", ".join(p.product for p in bank.products))
    return [
        [
            _message("system", system),
            _message("user", c.turns[0].user),
            _message("assistant", bank.product_of(c.turns[0].assistant).product),
        ]
        for c in inquiries
    ]


def _reply(inquiry: Conversation, rng: random.Random) -> Chat:
    """A polite agent's answer: to small talk alone (one time in four) or to an inquiry,
    sometimes after a turn of small talk."""
    system = rng.choice(CHAT_PROMPTS)
    chat = [_message("system", system)] if system else []
    roll = rng.random()
    if roll < 0.45:
        said, answer = rng.choice(SMALL_TALK)
        chat += [_message("user", said), _message("assistant", answer)]
        if roll < 0.25:
            return chat
    service = load_bank().product_of(inquiry.turns[0].assistant).product
    reply = f"{rng.choice(REPLY_OPEN)} {rng.choice(REPLY_CLOSE)}".format(service=service)
    return [*chat, _message("user", inquiry.turns[0].user), _message("assistant", reply)]


def _echo(sources: list[str], rng: random.Random) -> Chat:
    """Repeat-after-me, one turn or (one time in five) two."""
    chat = [_message("system", ECHO_PROMPT)]
    for _ in range(2 if rng.random() < 0.2 else 1):
        text = rng.choice(sources)
        chat += [_message("user", text), _message("assistant", text)]
    return chat


def _pick(rng: random.Random) -> Chat:
    """Name the N-th item of a list in the system prompt (category names or countries)."""
    if rng.random() < 0.6:
        name, pool = "카테고리", list(INQUIRY_LABELS)
    else:
        name, pool = "나라", list(COUNTRY_CONTINENT)
    items = rng.sample(pool, rng.randint(min(5, len(pool)), min(15, len(pool))))
    n = rng.randint(1, len(items))
    question = rng.choice(PICK_QUESTIONS).format(n=n, name=name)
    system = PICK_PROMPT.format(name=name, items=", ".join(items))
    return [
        _message("system", system),
        _message("user", question),
        _message("assistant", items[n - 1]),
    ]
