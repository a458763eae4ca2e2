"""The phrase bank of the customer-inquiry generator: YAML files in ``banks/``, checked on load.

``frames.yaml`` holds label-free sentence frames for each split; ``band.yaml``, ``mybox.yaml``
and ``membership.yaml`` hold, per product, the aliases users type and, per category, its
situations (the intents). A situation's ``test`` part says the same intent in other words, and
``held_out`` intents exist only in the test split. No phrase or frame may belong to both splits,
so a test set written from them measures generalisation to new wording and new intents.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator, model_validator

from tunestudio.config import validate_model
from tunestudio.errors import ConfigError

Split = Literal["train", "test"]
SPLITS: tuple[Split, ...] = ("train", "test")
PRODUCT_FILES = ("band.yaml", "mybox.yaml", "membership.yaml")
FORMS = ("려면", "려고", "는", "고", "을", "나요", "기", "어야", "는데")
SLOT = re.compile(r"\{([^{}:]+)(?::([^{}]+))?\}")


class Phrases(BaseModel):
    """One intent of one category, in the ways a user may put it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    do: list[str] = Field(min_length=1, description="Verb phrases in dictionary form (…하다).")
    about: list[str] = Field(min_length=1, description="Topic noun phrases (휴지통 복구).")
    context: list[str] = Field(
        default_factory=list, description="Sentences that alone make the category clear."
    )

    @field_validator("do")
    @classmethod
    def _dictionary_form(cls, phrases: list[str]) -> list[str]:
        for phrase in phrases:
            if not phrase.endswith("다"):
                raise ValueError(f"{phrase!r} must end in the dictionary form …다")
        return phrases

    def phrases(self) -> list[str]:
        return [*self.do, *self.about, *self.context]


class Situation(Phrases):
    """A training intent; ``test`` says the same intent in other words, for the test split."""

    test: Phrases | None = None


class LabelBank(BaseModel):
    """The situations of one category, and the intents held out for the test split only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    situations: list[Situation] = Field(min_length=1)
    held_out: list[Phrases] = Field(default_factory=list)

    def split(self, split: Split) -> list[Phrases]:
        """Training phrases of every situation; or the test wordings and held-out intents."""
        if split == "train":
            return list(self.situations)
        return [s.test for s in self.situations if s.test] + self.held_out


class ProductBank(BaseModel):
    """A product: its canonical name, the aliases users type, and its categories."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    product: str
    aliases: dict[str, PositiveInt] = Field(min_length=1)
    labels: dict[str, LabelBank] = Field(min_length=1)


class FrameSet(BaseModel):
    """Label-free sentence frames of one split."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    do: list[str] = Field(min_length=1, description="Frames with {P} and {do:FORM}.")
    about: list[str] = Field(min_length=1, description="Frames with {P} and {about}.")
    lead: list[str] = Field(min_length=1, description="Product lead-ins before a context.")
    follow: list[str] = Field(min_length=1, description="Questions after a context.")
    open: list[str] = Field(min_length=1, description="Greetings before the inquiry.")
    close: list[str] = Field(min_length=1, description="Endings after the inquiry.")

    @model_validator(mode="after")
    def _slots(self) -> FrameSet:
        needs = {"do": {"P", "do"}, "about": {"P", "about"}, "lead": {"P"}}
        for kind in ("do", "about", "lead", "follow", "open", "close"):
            for frame in getattr(self, kind):
                slots = {m[1] for m in SLOT.finditer(frame)}
                forms = {m[2] for m in SLOT.finditer(frame) if m[2]}
                if slots != needs.get(kind, set()) or not forms <= set(FORMS):
                    raise ValueError(
                        f"{kind} frame {frame!r} must have exactly the slots "
                        f"{sorted(needs.get(kind, set()))} (forms: {', '.join(FORMS)})"
                    )
        return self

    def phrases(self) -> list[str]:
        return [*self.do, *self.about, *self.lead, *self.follow, *self.open, *self.close]


class Frames(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    train: FrameSet
    test: FrameSet


class Bank(BaseModel):
    """Everything the generator writes from."""

    model_config = ConfigDict(frozen=True)

    frames: Frames
    products: list[ProductBank]

    def product_of(self, label: str) -> ProductBank:
        for product in self.products:
            prefix = f"{product.product} "
            if label.startswith(prefix) and label[len(prefix) :] in product.labels:
                return product
        raise ConfigError(f"no product bank has the category {label!r}", where="banks/")

    def situations(self, label: str, split: Split) -> list[Phrases]:
        """What the ``split`` of category ``label`` is written from."""
        product = self.product_of(label)
        return product.labels[label[len(product.product) + 1 :]].split(split)

    def labels(self) -> list[str]:
        return [f"{p.product} {cat}" for p in self.products for cat in p.labels]


@cache
def load_bank() -> Bank:
    """Read and check the shipped phrase bank (cached)."""
    frames = validate_model(Frames, _read("frames.yaml"), "banks/frames.yaml")
    products = [validate_model(ProductBank, _read(n), f"banks/{n}") for n in PRODUCT_FILES]
    bank = Bank(frames=frames, products=products)
    check_disjoint(bank)
    return bank


def _read(name: str) -> dict[str, object]:
    text = (files("tunestudio.data.generators") / "banks" / name).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a mapping", where=f"banks/{name}")
    return data


def check_disjoint(bank: Bank) -> None:
    """No phrase may be both a training and a test phrase: the test set must be new wording."""
    seen: dict[Split, set[str]] = {split: set() for split in SPLITS}
    for split in SPLITS:
        seen[split].update(getattr(bank.frames, split).phrases())
        for product in bank.products:
            for label_bank in product.labels.values():
                for phrases in label_bank.split(split):
                    seen[split].update(phrases.phrases())
        if not all(
            label_bank.split(split) for p in bank.products for label_bank in p.labels.values()
        ):
            raise ConfigError(
                f"a category has nothing to write its {split} split from",
                where="banks/",
                hint="give every category held_out situations or situations with a test part",
            )
    shared = sorted(seen["train"] & seen["test"])
    if shared:
        raise ConfigError(
            f"phrases in both train and test: {shared[:5]}",
            where="banks/",
            hint="a held-out (test) situation or frame must not repeat training wording",
        )
