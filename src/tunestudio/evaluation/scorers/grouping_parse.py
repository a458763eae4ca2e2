"""Reading ``대륙: 나라, 나라`` answers and country lists, tolerant of how models write them.

The cookbook's format is a lead sentence, a blank line and one ``대륙: 나라, 나라`` block per
continent. Models also write bullets (``- 아시아: 일본``), markdown (``**아시아**: 일본``),
full-width colons, trailing periods, ``및``/``그리고`` before the last name, and headers with the
names on the following lines (``아시아:`` then ``- 일본``). All of those parse; a line that is no
block (the lead sentence, a closing remark) is skipped.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from tunestudio.data.generators.countries import COUNTRY_CONTINENT, TEXT_HEADER, UN_MEMBERS

Block = tuple[str, list[str]]  # (continent as written, country names as written)

# Other names people use for the generator's continents.
CONTINENT_ALIASES = {"북미": "북아메리카", "남미": "남아메리카", "대양주": "오세아니아"}

_BULLET = re.compile(r"^\s*(?:[-•*·▪◦‣]|\d+[.)])\s*")
_BLOCK = re.compile(r"^(?P<key>[^:]+?)\s*:\s*(?P<rest>.*)$")
_SEPARATORS = re.compile(r"\s*(?:,|、|;|/|\s및\s|\s그리고\s)\s*")
_TRIM = " \t.。!?~…\"'“”‘’`*#"


def key(name: str) -> str:
    """The comparison key of a name: NFC, full-width folded, spaces and case ignored."""
    folded = unicodedata.normalize("NFKC", name) if not name.isascii() else name
    return re.sub(r"\s+", "", unicodedata.normalize("NFC", folded)).casefold()


_CONTINENT_KEYS = {key(c): c for c in UN_MEMBERS} | {
    key(alias): c for alias, c in CONTINENT_ALIASES.items()
}
_COUNTRY_KEYS = {key(c): c for c in COUNTRY_CONTINENT}


def continent_of(written: str) -> str | None:
    """The generator's name for a continent as written (``북미`` → ``북아메리카``), or None."""
    return _CONTINENT_KEYS.get(key(written))


def known_country(written: str) -> str | None:
    """The generator's spelling of a UN member as written (spacing-insensitive), or None."""
    return _COUNTRY_KEYS.get(key(written))


def parse_blocks(text: str) -> list[Block]:
    """Every ``대륙: 나라, …`` block of ``text`` in order; an empty list when none parses.

    A header without names (``아시아:``) takes the bullet or list lines after it, up to a blank
    line or the next header. A block under a name that is no continent is kept only when it
    names a country, so ``참고: 러시아는 …`` chatter is skipped but ``중동: 이란`` counts.
    """
    blocks: list[Block] = []
    open_block: list[str] | None = None
    for raw in text.splitlines():
        line = _clean_line(raw)
        if not line:
            open_block = None
            continue
        match = _BLOCK.match(line)
        if match:
            open_block = _add_block(blocks, match["key"].strip(_TRIM), match["rest"])
        elif open_block is not None:
            open_block.extend(split_names(line))
    return [(name, names) for name, names in blocks if names]


def _clean_line(raw: str) -> str:
    line = unicodedata.normalize("NFC", raw).replace("：", ":").strip()
    return _BULLET.sub("", line).strip()


def _add_block(blocks: list[Block], name: str, rest: str) -> list[str] | None:
    """Append the block; return its name list when later lines may add to it."""
    names = split_names(rest)
    if continent_of(name) is None and not any(known_country(n) for n in names):
        return None
    blocks.append((name, names))
    return names if not names else None


def split_names(text: str) -> list[str]:
    """``"일본, 중국 및 인도."`` → ``["일본", "중국", "인도"]``."""
    names = (part.strip().strip(_TRIM) for part in _SEPARATORS.split(text.strip()))
    return [name for name in names if name]


def input_countries(meta: dict[str, Any], question: str) -> tuple[list[str], str | None]:
    """The item's countries: from the ``countries`` column (a JSON list) or the question.

    Returns the names and, when the column is there but is no list of names, a message for it.
    """
    value = meta.get("countries")
    if isinstance(value, list):
        return [str(v) for v in value], None
    if isinstance(value, str) and value.strip():
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, list) or not all(isinstance(v, str) for v in parsed):
            return [], f"countries 열이 JSON 나라 목록이 아닙니다: {value[:60]!r}"
        return parsed, None
    return question_countries(question), None


def question_countries(question: str) -> list[str]:
    """The comma list of a question: the text after the instruction (or its last paragraph)."""
    text = question.strip()
    if text.startswith(TEXT_HEADER):
        text = text[len(TEXT_HEADER) :]
    else:
        text = re.split(r"\n\s*\n", text)[-1] if "\n" in text else text
    return split_names(text)
