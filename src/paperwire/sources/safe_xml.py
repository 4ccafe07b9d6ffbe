"""lxml parser options for XML from the network (OAI-PMH, the arXiv Atom API).

Nothing in a response may make the parser do work or I/O the response did not carry:
- resolve_entities=False: entities declared in an internal DTD are never expanded (no
  "billion laughs"), and external ones (SYSTEM "file:///…", "http://…") never read;
- load_dtd=False, no_network=True: an external DTD is neither loaded nor fetched;
- huge_tree=False: libxml2 keeps its limits on depth and text size (a 10 MB text node
  or a 256-deep tree is refused as malformed rather than parsed);
- dtd_validation=False, attribute_defaults=False: the DTD adds nothing to the tree.
tests/test_parsers_fuzz.py checks each of these against real payloads.
"""

from __future__ import annotations

from typing import Any

SAFE_XML: dict[str, Any] = {
    "resolve_entities": False,
    "load_dtd": False,
    "no_network": True,
    "huge_tree": False,
    "dtd_validation": False,
    "attribute_defaults": False,
}


def element_text(element: Any) -> str:
    """All the text of `element`, also what follows a child. With entities unresolved, an
    undeclared or external entity is a child node: `.text` alone stops at it (found by
    tests/test_parsers_fuzz.py: "before &e; after" read as "before"). Such a reference is
    kept as its literal "&e;"."""
    if len(element) == 0:
        return element.text or ""
    return "".join(element.itertext())
