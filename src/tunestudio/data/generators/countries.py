"""The country-classification dataset of the cookbook (seed 003): sort a list of countries by continent.

Each example draws ``k`` continents and ``n`` countries from :data:`UN_MEMBERS` with every chosen
continent given at least one country. The Text lists the countries shuffled; the Completion groups
them by continent, in the cookbook's own wording::

    Text:       목록에서 나라를 대륙별로 분류해줘.\\n\\n프랑스, 일본, 케냐, …
    Completion: 목록에 있는 나라들을 대륙별로 분류하면 다음과 같습니다\\n\\n유럽: 프랑스\\n\\n…

The cookbook's CSV has no System_Prompt, so the default system prompt is empty. Every row carries
its draw as metadata (``countries`` in Text order, ``continents`` in Completion order,
``n_countries``, ``n_continents``), which error analysis later uses to count missing, misclassified,
extra and duplicated countries by list size.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from functools import cache
from itertools import combinations
from typing import TypeVar

from tunestudio.data.generators.un_members import UN_MEMBERS
from tunestudio.errors import ConfigError, DataError
from tunestudio.types import Conversation, Turn

TEXT_HEADER = "목록에서 나라를 대륙별로 분류해줘."
COMPLETION_HEADER = "목록에 있는 나라들을 대륙별로 분류하면 다음과 같습니다"
# The cookbook's mix: 10, 15, 20 and 30 countries in the ratio 1:3:3:3 (errors started near 12).
DEFAULT_COUNTS: tuple[tuple[int, int], ...] = ((10, 1), (15, 3), (20, 3), (30, 3))
DEFAULT_CONTINENTS = (2, 6)
COUNTRY_CONTINENT: dict[str, str] = {c: cont for cont, cs in UN_MEMBERS.items() for c in cs}
_ATTEMPTS = 100  # redraws of a row whose country set is one to avoid

T = TypeVar("T")
Pool = dict[str, tuple[str, ...]]


def parse_counts(spec: str) -> tuple[tuple[int, int], ...]:
    """``"10:1,15:3,20:3,30:3"`` → ((10, 1), (15, 3), …); a bare ``"3"`` means (3, 1)."""
    entries: list[tuple[int, int]] = []
    for part in spec.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?::\s*(\d+)\s*)?", part)
        if not match or int(match[1]) < 1 or (match[2] is not None and int(match[2]) < 1):
            raise ConfigError(
                f"{part.strip()!r} is not COUNT or COUNT:WEIGHT with whole numbers ≥ 1",
                where="--counts",
                hint="write e.g. 10:1,15:3,20:3,30:3 (the cookbook's mix) or a fixed count like 12",
            )
        entries.append((int(match[1]), int(match[2] or 1)))
    if len({n for n, _ in entries}) != len(entries):
        raise ConfigError(
            "a country count is listed twice", where="--counts", hint="list each count once"
        )
    return tuple(entries)


def parse_continents(spec: str) -> tuple[int, int]:
    """``"2-6"`` → (2, 6); ``"3"`` → (3, 3). Bounds must lie in 1…6."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", spec)
    low, high = (int(match[1]), int(match[2] or match[1])) if match else (0, 0)
    if not match or not 1 <= low <= high <= len(UN_MEMBERS):
        raise ConfigError(
            f"{spec!r} is not a continent range within 1-{len(UN_MEMBERS)}",
            where="--continents",
            hint="write LOW-HIGH such as 2-6 (the cookbook's range), or one number such as 3",
        )
    return low, high


def generate_countries(
    rows: int,
    *,
    counts: Sequence[tuple[int, int]] = DEFAULT_COUNTS,
    continents: tuple[int, int] = DEFAULT_CONTINENTS,
    subset: int | None = None,
    seed: int = 0,
    split: str = "train",
    system: str = "",
    avoid: Iterable[Collection[str]] = (),
    progress: Callable[[int], None] | None = None,
) -> list[Conversation]:
    """Generate ``rows`` country-classification examples, deterministic for ``seed`` and ``split``.

    ``counts`` is the mix of list sizes as (count, weight) pairs; ``continents`` the range of the
    number of continents per example; ``subset`` keeps only the first N countries of each
    continent, for CPU-sized experiments. ``split`` names an independent random stream.
    A row never has the same set of countries as one in ``avoid`` (pass the training rows'
    ``countries`` to make a test set that shares no list with them; with a small ``subset``
    that can happen by chance). ``progress`` is called with the number of rows done.
    """
    if rows < 0:
        raise ConfigError(f"--rows is {rows}", where="--rows", hint="ask for 0 or more rows")
    if subset is not None and subset < 1:
        raise ConfigError(
            f"--subset is {subset}", where="--subset", hint="keep at least 1 country per continent"
        )
    if not counts:
        raise ConfigError("no country count given", where="--counts", hint="e.g. 10:1,15:3")
    pool = {cont: names[:subset] if subset else names for cont, names in UN_MEMBERS.items()}
    rng = random.Random(f"countries:{split}:{seed}")
    taken = {frozenset(countries) for countries in avoid}
    out: list[Conversation] = []
    for n, k in _plan(rows, counts, continents, pool, rng):
        out.append(_fresh_example(n, k, pool, rng, system, taken))
        if progress:
            progress(len(out))
    return out


def _fresh_example(
    n: int, k: int, pool: Pool, rng: random.Random, system: str, taken: set[frozenset[str]]
) -> Conversation:
    """An example whose set of countries is not in ``taken``."""
    for _ in range(_ATTEMPTS):
        conv = _example(n, k, pool, rng, system)
        if frozenset(conv.meta["countries"]) not in taken:
            return conv
    raise DataError(
        f"every draw of {n} countries on {k} continents repeats a list to avoid",
        hint="raise --subset or ask for fewer rows: there are too few distinct lists",
    )


def _plan(
    rows: int,
    counts: Sequence[tuple[int, int]],
    continents: tuple[int, int],
    pool: Pool,
    rng: random.Random,
) -> list[tuple[int, int]]:
    """(country count, continent count) for every row, in exact proportions, then shuffled.

    The cookbook wrote the same number of rows for each continent count and set the country-count
    ratio to 1:3:3:3; apportioning exactly (instead of drawing each row independently) keeps those
    proportions even in a 50-row set.
    """
    sizes = _apportion([n for n, _ in counts], [w for _, w in counts], rows, rng)
    plan: list[tuple[int, int]] = []
    for n in dict.fromkeys(sizes):
        group = sizes.count(n)
        ks = [k for k in range(continents[0], continents[1] + 1) if _combos(n, k, pool)]
        if not ks:
            raise ConfigError(
                f"no example can have {n} countries on {continents[0]}-{continents[1]} continents",
                where="--counts",
                hint="every chosen continent needs at least one country and cannot give more "
                "than it has: lower the count, widen --continents or raise --subset",
            )
        plan += [(n, k) for k in _apportion(ks, [1] * len(ks), group, rng)]
    rng.shuffle(plan)
    return plan


def _apportion(items: list[T], weights: Sequence[float], total: int, rng: random.Random) -> list[T]:
    """``total`` items in proportion to ``weights`` (largest remainder, ties broken at random)."""
    whole = sum(weights)
    shares = [total * w / whole for w in weights]
    taken = [int(s) for s in shares]
    order = list(range(len(items)))
    rng.shuffle(order)
    order.sort(key=lambda i: taken[i] - shares[i])  # stable: the shuffle breaks ties
    for i in order[: total - sum(taken)]:
        taken[i] += 1
    return [item for item, t in zip(items, taken, strict=True) for _ in range(t)]


def _combos(n: int, k: int, pool: Pool) -> list[tuple[str, ...]]:
    """The sets of ``k`` continents that can hold ``n`` countries, at least one on each."""
    return _combos_cached(n, k, tuple((c, len(names)) for c, names in pool.items()))


@cache
def _combos_cached(n: int, k: int, sizes: tuple[tuple[str, int], ...]) -> list[tuple[str, ...]]:
    size = dict(sizes)
    if n < k:
        return []
    return [combo for combo in combinations(size, k) if sum(size[c] for c in combo) >= n]


def _example(n: int, k: int, pool: Pool, rng: random.Random, system: str) -> Conversation:
    # The cookbook drew continents with random.sample and retried the whole row on ValueError when
    # the allocation below overflowed a continent; it never ended for counts smaller than twice
    # the continents or larger than they hold. Drawing among the continent sets that can hold n
    # countries removes that loop.
    chosen = rng.sample(rng.choice(_combos(n, k, pool)), k)
    picked: list[str] = []
    for continent, share in _allocate(n, chosen, pool, rng):
        picked += rng.sample(pool[continent], share)
    shuffled = rng.sample(picked, len(picked))
    # The cookbook listed continents in the order it drew them and countries in the order it
    # sampled them; neither can be seen in the Text, so the target was not a function of the
    # input. Here continents come in order of first appearance, countries in Text order.
    groups: dict[str, list[str]] = {}
    for country in shuffled:
        groups.setdefault(COUNTRY_CONTINENT[country], []).append(country)
    meta = {
        "countries": shuffled,
        "continents": list(groups),
        "n_countries": n,
        "n_continents": k,
    }
    return Conversation(system, [Turn(country_text(shuffled), country_completion(groups))], meta)


def _allocate(n: int, chosen: list[str], pool: Pool, rng: random.Random) -> list[tuple[str, int]]:
    """How many countries each chosen continent gives, as the cookbook allots them.

    Smallest continent first, each gets ``randint(min, most)`` and the largest the rest; ``min``
    is 2 with four continents or fewer, else 1 (the cookbook's rule). Two fixes: ``min`` falls
    to 1 when there are too few countries for 2 each, and each draw's lower bound leaves no more
    for the remaining continents than they hold, so the last continent never overflows and no
    continent is ever chosen with zero countries.
    """
    order = sorted(chosen, key=lambda c: len(pool[c]))  # stable: ties keep the drawn order
    least = 2 if len(order) <= 4 and n >= 2 * len(order) else 1
    least = min(least, *(len(pool[c]) for c in order))
    remaining, shares = n, []
    for i, continent in enumerate(order):
        rest = order[i + 1 :]
        if not rest:
            shares.append((continent, remaining))
            break
        low = max(least, remaining - sum(len(pool[c]) for c in rest))
        high = min(len(pool[continent]), remaining - len(rest) * least)
        share = rng.randint(low, high)
        shares.append((continent, share))
        remaining -= share
    return shares


def country_text(countries: Sequence[str]) -> str:
    """The cookbook's Text: its instruction, a blank line and the countries joined by ``, ``."""
    return f"{TEXT_HEADER}\n\n{', '.join(countries)}"


def country_completion(groups: dict[str, list[str]]) -> str:
    """The cookbook's Completion: its lead sentence, then ``대륙: 나라, 나라`` blocks."""
    blocks = [f"{continent}: {', '.join(names)}" for continent, names in groups.items()]
    return "\n\n".join([COMPLETION_HEADER, *blocks])


def parse_countries_completion(text: str) -> dict[str, list[str]]:
    """``대륙: 나라, 나라`` lines of a completion → {continent: [countries]}, in order.

    Tolerates full-width colons, extra blank lines and spaces; lines without a colon (the lead
    sentence, chatter) are skipped. A continent named twice collects both lists, so duplicates
    stay visible to error analysis.
    """
    groups: dict[str, list[str]] = {}
    for line in text.splitlines():
        match = re.fullmatch(r"\s*([^:：]+?)\s*[:：]\s*(.*?)\s*", line)
        if not match:
            continue
        names = [name.strip() for name in match[2].split(",") if name.strip()]
        groups.setdefault(match[1], []).extend(names)
    return groups
