"""Generators for the cookbooks' example datasets.

- :func:`generate_countries` — sort UN member states by continent (seed 003);
- :func:`generate_inquiries` — classify Korean customer inquiries into 15 categories (seed 001).

Both return :class:`~tunestudio.types.Conversation`s, deterministic for a seed, ready for
:func:`tunestudio.data.save_dataset`.
"""

from tunestudio.data.generators.countries import (
    COUNTRY_CONTINENT,
    DEFAULT_CONTINENTS,
    DEFAULT_COUNTS,
    generate_countries,
    parse_continents,
    parse_countries_completion,
    parse_counts,
)
from tunestudio.data.generators.inquiries import (
    INQUIRY_LABELS,
    INQUIRY_SYSTEM_PROMPT,
    generate_inquiries,
)
from tunestudio.data.generators.un_members import UN_MEMBERS

__all__ = [
    "COUNTRY_CONTINENT",
    "DEFAULT_CONTINENTS",
    "DEFAULT_COUNTS",
    "INQUIRY_LABELS",
    "INQUIRY_SYSTEM_PROMPT",
    "UN_MEMBERS",
    "generate_countries",
    "generate_inquiries",
    "parse_continents",
    "parse_countries_completion",
    "parse_counts",
]
