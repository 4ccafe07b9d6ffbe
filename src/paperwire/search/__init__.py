"""Search: query language, BM25 index, (optional) semantic index and rank fusion.

The Service is the entry point (``Service.search`` / ``Service.similar``); this package
holds the parts it combines.
"""

from paperwire.search.query import ParsedQuery, QueryError, parse_query

__all__ = ["ParsedQuery", "QueryError", "parse_query"]
