"""A reader's library files: read BibTeX / CSL-JSON / RIS / id lists, match them to
papers, and export papers as BibTeX and CSL-JSON."""

from __future__ import annotations

from paperwire.bibliography.entries import (
    LibraryEntry,
    LibraryFileError,
    Malformed,
    ParsedLibrary,
)
from paperwire.bibliography.export import to_bibtex, to_csl_json
from paperwire.bibliography.matching import LibraryMatch, match_library
from paperwire.bibliography.readers import parse_library, sniff_format

__all__ = [
    "LibraryEntry",
    "LibraryFileError",
    "LibraryMatch",
    "Malformed",
    "ParsedLibrary",
    "match_library",
    "parse_library",
    "sniff_format",
    "to_bibtex",
    "to_csl_json",
]
