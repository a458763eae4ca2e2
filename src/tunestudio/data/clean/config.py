"""The cleaning recipe: a list of named steps, each a typed model with a help string per option.

A ``clean.yaml`` is a saved :class:`CleanConfig`::

    steps:
      - nfc                      # a step with its default options
      - step: mask_pii           # a step with options
        kinds: [phone, email]
      - slang: {map: {겜: 게임}}   # a step written as name: {options}

Steps run in the order they are listed. ``fields`` chooses which parts of every turn a step
touches: ``text`` (the user's Text), ``completion`` (the answer) and ``system`` (the system
prompt); each step has a sensible default.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

FieldName = Literal["text", "completion", "system"]
PiiKind = Literal["phone", "email", "rrn", "card", "account"]
PII_KINDS: tuple[PiiKind, ...] = ("phone", "email", "rrn", "card", "account")
# Dashed account-number shapes of the big Korean banks: KB·우체국 6-2-6, 신한·SC 3-2-6 and
# 3-3-6, 우리 4-3-6, 하나 3-6-5, NH 3-4-4-2, IBK 3-6-2-3, old KB 3-2-4-3, 카카오뱅크 4-2-7,
# 토스뱅크 4-4-4.
ACCOUNT_SHAPES = (
    "6-2-6",
    "3-2-6",
    "3-3-6",
    "4-3-6",
    "3-6-5",
    "3-4-4-2",
    "3-6-2-3",
    "3-2-4-3",
    "4-2-7",
    "4-4-4",
)

_FIELD_ALIASES = {
    "text": "text",
    "user": "text",
    "completion": "completion",
    "assistant": "completion",
    "system": "system",
    "system_prompt": "system",
}


def _field_name(value: Any) -> Any:
    """Accept the CLOVA column spellings (``Text``, ``System_Prompt``) for field names."""
    if isinstance(value, str):
        return _FIELD_ALIASES.get(value.strip().lower(), value)
    return value


def _scalar_text(value: Any) -> Any:
    """Labels such as ``111`` arrive from YAML as numbers; they are text in a dataset."""
    if isinstance(value, bool):
        raise ValueError("a yes/no value cannot be a label; put the label in quotes")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return str(value)
    return value


Label = Annotated[str, BeforeValidator(_scalar_text)]
Fields = Annotated[
    list[Annotated[FieldName, BeforeValidator(_field_name)]],
    Field(min_length=1),
]


def _fields(*names: FieldName, doc: str) -> Any:
    return Field(
        default_factory=lambda: list(names),
        description=f"Which parts of each turn to process: text, completion, system. {doc}",
    )


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NfcStep(_Step):
    """Unicode NFC: composes Hangul decomposed into jamo (as macOS file names and some
    copy-paste produce), so equal-looking text is equal."""

    step: Literal["nfc"]
    fields: Fields = _fields("text", "completion", "system", doc="Default: all three.")


class WhitespaceStep(_Step):
    """Spaces as a person expects them: odd spaces made plain, runs collapsed, ends trimmed."""

    step: Literal["whitespace"]
    fields: Fields = _fields("text", "completion", "system", doc="Default: all three.")
    odd_spaces: bool = Field(
        default=True,
        description="Turn no-break (U+00A0), ideographic (U+3000) and other odd spaces into a "
        "plain space and delete zero-width characters (U+200B, U+FEFF, …).",
    )
    collapse: bool = Field(
        default=True, description="Collapse runs of spaces and tabs between words to one space."
    )
    trim: bool = Field(
        default=True,
        description="Strip spaces at both ends of the value and at the end of each line "
        "(indentation at the start of a line is kept).",
    )
    max_blank_lines: int = Field(
        default=1, ge=0, description="Keep at most this many blank lines in a row (0: none)."
    )


class RemoveEmojiStep(_Step):
    """Delete emoji (as the `emoji` library knows them, including skin tones and ZWJ
    sequences). Korean emoticons made of jamo (ㅋㅋ, ㅠㅠ) are letters and stay."""

    step: Literal["remove_emoji"]
    fields: Fields = _fields("text", doc="Default: text.")
    keep: str = Field(default="", description="Emoji characters to keep, e.g. '©®™'.")


class RemoveSpecialStep(_Step):
    """Delete symbol noise (★ ♥ ※ @@ ## ^^ …) while keeping letters of every script, digits,
    spaces and ordinary punctuation."""

    step: Literal["remove_special"]
    fields: Fields = _fields("text", doc="Default: text.")
    keep: str = Field(
        default=".,?!'\"()[]:;~-/%&+·…‘’“”「」『』《》〈〉【】₩$",
        description="Punctuation and symbols that are kept; every other symbol is deleted.",
    )
    also_keep: str = Field(default="", description="Extra characters to keep on top of `keep`.")
    protect_emails_urls: bool = Field(
        default=True,
        description="Leave e-mail addresses and URLs whole (their @ and _ are not noise).",
    )


class SquashRepeatsStep(_Step):
    """Shorten runs of one repeated character: ㅋㅋㅋㅋ → ㅋㅋ, !!!! → !. Digits never change
    (1000000원, 0000); Latin letters only when `latin` is on (AAA 건전지)."""

    step: Literal["squash_repeats"]
    fields: Fields = _fields("text", doc="Default: text.")
    max_repeat: int = Field(default=2, ge=1, description="Longest run kept for Hangul (and Latin).")
    max_repeat_punct: int = Field(
        default=1, ge=1, description="Longest run kept for punctuation and symbols."
    )
    max_dots: int = Field(
        default=3, ge=1, description="Longest run of '.' kept, so '...' survives."
    )
    latin: bool = Field(default=False, description="Also shorten Latin letters (soooo → soo).")


class SlangStep(_Step):
    """Replace slang and abbreviations by standard words (어케 → 어떻게), matching whole words
    only, so a word that merely contains one (넘어가다) is never rewritten."""

    step: Literal["slang"]
    fields: Fields = _fields("text", doc="Default: text.")
    use_default_map: bool = Field(
        default=True,
        description="Start from the built-in Korean map (tunestudio/data/clean/slang_ko.yaml).",
    )
    map: dict[Label, Label] = Field(
        default_factory=dict,
        description="Your entries, word → replacement; they win over the default.",
    )
    exclude: list[Label] = Field(
        default_factory=list, description="Words of the default map not to replace."
    )

    @model_validator(mode="after")
    def _has_words(self) -> SlangStep:
        if not self.use_default_map and not self.map:
            raise ValueError("no words to replace: set use_default_map: true or give a map")
        return self


class MaskPiiStep(_Step):
    """Replace personal data by tags: phone numbers (mobile, landline, +82), e-mail, resident
    registration numbers (date-checked), card numbers (Luhn-checked) and bank accounts."""

    step: Literal["mask_pii"]
    fields: Fields = _fields("text", "completion", doc="Default: text and completion.")
    kinds: list[PiiKind] = Field(
        default_factory=lambda: list(PII_KINDS),
        min_length=1,
        description="What to mask: phone, email, rrn, card, account.",
    )
    tags: dict[PiiKind, str] = Field(
        default_factory=dict,
        description="Replacement tag per kind; defaults: [전화번호] [이메일] [주민등록번호] "
        "[카드번호] [계좌번호].",
    )
    account_patterns: list[Annotated[str, Field(pattern=r"^\d{1,8}(-\d{1,8}){1,4}$")]] = Field(
        default_factory=lambda: list(ACCOUNT_SHAPES),
        description="Digit-group shapes of account numbers, e.g. '3-3-6' for 110-123-456789.",
    )


class RelabelStep(_Step):
    """Fix wrongly labelled rows: a value equal to a key (ignoring outer spaces) becomes the
    key's value."""

    step: Literal["relabel"]
    fields: Fields = _fields("completion", doc="Default: completion.")
    map: dict[Label, Label] = Field(
        ..., min_length=1, description="Wrong label → right label, e.g. {'MYBOX 가격': 'MYBOX'}."
    )


class DropLabelsStep(_Step):
    """Remove conversations in which a turn's value is one of the listed labels."""

    step: Literal["drop_labels"]
    fields: Fields = _fields("completion", doc="Default: completion.")
    labels: list[Label] = Field(
        ..., min_length=1, description="Labels whose rows are removed, e.g. ['판별불가']."
    )


class DedupStep(_Step):
    """Remove exact and near-duplicate conversations, keeping the first occurrence."""

    step: Literal["dedup"]
    fields: Fields = _fields("text", doc="Default: text (the input the model sees).")
    exact: bool = Field(
        default=True,
        description="Remove exact duplicates (equal up to Unicode form and spacing runs).",
    )
    near: bool = Field(
        default=True, description="Remove near-duplicates (MinHash over character 3-grams)."
    )
    threshold: float = Field(
        default=0.9,
        gt=0.0,
        le=1.0,
        description="Similarity (Jaccard of 3-grams) at which two are near.",
    )


class LengthStep(_Step):
    """Remove conversations whose values are shorter or longer than the limits (characters,
    counted after stripping outer spaces)."""

    step: Literal["length"]
    fields: Fields = _fields("text", doc="Default: text.")
    min_chars: int | None = Field(default=None, ge=0, description="Fewest characters allowed.")
    max_chars: int | None = Field(default=None, ge=1, description="Most characters allowed.")

    @model_validator(mode="after")
    def _limits(self) -> LengthStep:
        if self.min_chars is None and self.max_chars is None:
            raise ValueError("give min_chars, max_chars or both")
        if (
            self.min_chars is not None
            and self.max_chars is not None
            and (self.min_chars > self.max_chars)
        ):
            raise ValueError(f"min_chars {self.min_chars} is above max_chars {self.max_chars}")
        return self


STEP_CLASSES: tuple[type[BaseModel], ...] = (
    NfcStep,
    WhitespaceStep,
    RemoveEmojiStep,
    RemoveSpecialStep,
    SquashRepeatsStep,
    SlangStep,
    MaskPiiStep,
    RelabelStep,
    DropLabelsStep,
    DedupStep,
    LengthStep,
)
# step name (the `step:` value in YAML) → its model, in the order the docs list them
STEP_MODELS: dict[str, type[BaseModel]] = {
    get_args(cls.model_fields["step"].annotation)[0]: cls for cls in STEP_CLASSES
}

StepConfig = Annotated[
    NfcStep
    | WhitespaceStep
    | RemoveEmojiStep
    | RemoveSpecialStep
    | SquashRepeatsStep
    | SlangStep
    | MaskPiiStep
    | RelabelStep
    | DropLabelsStep
    | DedupStep
    | LengthStep,
    Field(discriminator="step"),
]


class CleanConfig(BaseModel):
    """A cleaning pipeline: steps run top to bottom, each reporting what it changed."""

    model_config = ConfigDict(extra="forbid")

    steps: list[StepConfig] = Field(
        ..., min_length=1, description="The steps, in the order they run."
    )

    @model_validator(mode="before")
    @classmethod
    def _short_forms(cls, data: Any) -> Any:
        """Accept ``- nfc`` for ``- step: nfc`` and ``- slang: {map: …}`` for
        ``- step: slang`` with those options."""
        if isinstance(data, dict) and isinstance(data.get("steps"), list):
            data = {**data, "steps": [_long_form(s) for s in data["steps"]]}
        return data


def _long_form(step: Any) -> Any:
    if isinstance(step, str):
        return {"step": step}
    if isinstance(step, dict) and len(step) == 1 and "step" not in step:
        ((name, options),) = step.items()
        if name in STEP_MODELS and isinstance(options, (dict, type(None))):
            return {"step": name, **(options or {})}
    return step


def default_config() -> CleanConfig:
    """The pipeline used without a config file: changes nothing a person would call content.

    Unicode NFC, whitespace tidying and exact-duplicate removal only.
    """
    return CleanConfig.model_validate(
        {"steps": ["nfc", "whitespace", {"step": "dedup", "near": False}]}
    )
