"""The `{arxiv_id:paper}` path parameter: a paper id in a URL, slashes inside allowed
(hep-th/9504118, 10.48550/arXiv.2503.01234), a trailing slash not.

Starlette's `path` parameter took `2503.01234/` as the id and answered 404 ("paper
'2503.01234/'"), while every other route redirects a trailing slash away (the router's
redirect_slashes). A route of this parameter does not match a path ending in a slash, so
the router redirects it (307) to the path without, as it does for the others."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from starlette.convertors import Convertor, register_url_convertor


class PaperIdConvertor(Convertor[str]):
    regex = r".*[^/]"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("paper", PaperIdConvertor())

# The type of every `{arxiv_id:paper}` parameter: importing it registers the convertor
# before a route of it is made.
PaperId = Annotated[str, Path(description="arXiv id, e.g. 2503.12345", max_length=64)]
