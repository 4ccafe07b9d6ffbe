"""What a source record's categories field could not say: a Flaw per record whose field
holds parts that are no arXiv class ("cs.", "cs.CL;") or no class at all (empty, garbage).
Such a record is kept, without them; the import counts and names it. Pure."""

from __future__ import annotations

from paperwire.models import read_categories

_SHOWN = 5  # unreadable parts named in one reason


def category_problem(raw: list[str] | str) -> str | None:
    """Why the categories field `raw` could not all be read, or None when every part of
    it is an arXiv class (ACM and MSC classes aside)."""
    return problem_of(raw, *read_categories(raw))


def problem_of(raw: list[str] | str, kept: list[str], unreadable: list[str]) -> str | None:
    """category_problem, given what read_categories(raw) read: (kept, unreadable)."""
    if unreadable:
        listed = ", ".join(repr(part) for part in unreadable[:_SHOWN])
        if len(unreadable) > _SHOWN:
            listed += f" and {len(unreadable) - _SHOWN} more"
        what = (
            f"category {listed} is not an arXiv class"
            if len(unreadable) == 1
            else (f"categories {listed} are not arXiv classes")
        )
        left = f"kept with {', '.join(kept)}" if kept else "kept with no category"
        return f"{what} (such as cs.CL); {left}"
    if kept:
        return None
    shown = " ".join(" ".join(raw if isinstance(raw, list) else [raw]).split())[:80]
    what = f"categories {shown!r} hold no arXiv class" if shown else "no categories"
    return f"{what}; kept with no category"
