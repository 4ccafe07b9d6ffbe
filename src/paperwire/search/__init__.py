"""Search: query language, lexical and semantic indexes, fusion."""
