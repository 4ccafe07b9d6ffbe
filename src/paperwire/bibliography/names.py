"""Personal names of bibliographies as given name, family name and suffix. Pure.

The split is bibtexparser's reading of BibTeX's name forms (``First von Last``,
``von Last, First``, ``von Last, Jr, First``), with the one form people write that BibTeX
reads otherwise: a suffix after the name (``Martin Luther King, Jr.``, ``Hal Daumé III``),
which BibTeX would take for a first name ("Jr.") or a family name ("III")."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bibtexparser.middlewares.names import parse_single_name_into_parts

# Generational suffixes ("V" is left out: "Smith, John V" more often ends in an initial)
_SUFFIX = re.compile(r"(?:,\s*|\s+)((?:jr|sr|jnr|snr)\.?|ii|iii|iv)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class PersonName:
    """One person's name: given names, family name (particles such as "van" with it)
    and suffix ("Jr.", "III"); each may be empty."""

    given: str = ""
    family: str = ""
    suffix: str = ""

    @property
    def written(self) -> str:
        """The name in reading order: 'Martin Luther King Jr.'."""
        return " ".join(p for p in (self.given, self.family, self.suffix) if p)


def person_name(text: str) -> PersonName:
    """`text` split as a bibliography name: 'Smith, John' and 'John Smith' -> given John,
    family Smith; 'King, Jr., Martin Luther', 'Martin Luther King, Jr.' and 'Martin Luther
    King Jr.' -> given Martin Luther, family King, suffix Jr.; 'Ludwig van Beethoven' ->
    family 'van Beethoven'. A braced name ('{Mallory and Co}') is one family name."""
    name = " ".join(text.split()).strip(", ")
    suffix = ""
    found = _SUFFIX.search(name)
    if found and name[: found.start()].strip(", "):  # never the whole name
        name, suffix = name[: found.start()].strip(", "), found.group(1)
    parts = parse_single_name_into_parts(name, strict=False)
    family = " ".join(parts.von + parts.last)
    given = " ".join(parts.first)
    if not family:  # "Jr., John", "~": nothing BibTeX calls a last name
        family, given = given or name, ""
    return PersonName(given, family, suffix or " ".join(parts.jr))
