"""Fuzz the query parser, LaTeX reader and analyzer for a while; print what was tried.

The longer run of tests/test_search_properties.py's properties. Inputs come from three
generators: pieces of query syntax put together at random; real titles and abstracts
(LaTeX and all) cut and mutated the way pasting goes wrong (lone quotes, dashes, colons,
field names, 41-letter words, stray backslashes and braces); and random Unicode. Every
input is checked:

- parse    parse_query raises nothing but QueryError;
- reparse  parse_query(format_query(q)) == q;
- latex    latex_to_text is idempotent on the input;
- search   Service.search (lexical, on a real SQLite store and index of --papers papers)
           answers or raises QueryError, and never more hits than its total;
- finds    an unmutated cut of a paper's own words finds that paper.

    PYTHONPATH=src python benchmarks/fuzz_query.py [--seconds 60] [--papers 2000] [--seed 1]
    PYTHONPATH=src python benchmarks/fuzz_query.py --atheris --seconds 60   # coverage-guided

Failures are printed (the first few of each check) and written as JSON to --failures.
"""

from __future__ import annotations

import argparse
import importlib
import json
import lzma
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path

from paperwire.config import Settings
from paperwire.latex import latex_to_text
from paperwire.models import Paper
from paperwire.search.query import QueryError, format_query, parse_query
from paperwire.service import Service

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from query_pieces import QUERY_PIECES  # noqa: E402 - tests/ is put on the path just above

DAILY = ROOT.parent / "shared/data/arxiv_metadata/arxiv_daily_cs_2025-03-18_2026-07-01.jsonl.xz"
TODAY = date(2026, 7, 1)
MUTATIONS = ('"', " -- ", ":", " ti:", " au:", "x" * 41, "\\", "{", "}", "``", "$", " -", "au:")
CHECKS = ("parse", "reparse", "latex", "search", "finds")


def load_papers(count: int) -> list[dict[str, object]]:
    with lzma.open(DAILY, "rt", encoding="utf-8") as src:
        return [json.loads(line) for _, line in zip(range(count), src, strict=False)]


def syntax_input(rng: random.Random) -> tuple[str, str | None]:
    joiner = rng.choice([" ", "", " "])
    return joiner.join(rng.choice(QUERY_PIECES) for _ in range(rng.randint(0, 12))), None


def pasted_input(rng: random.Random, papers: list[Paper]) -> tuple[str, str | None]:
    paper = rng.choice(papers)
    words = rng.choice([paper.title, paper.abstract]).split()
    start = rng.randrange(max(1, len(words)))
    cut = words[start : start + rng.randint(1, 12)]
    if rng.random() < 0.3 and cut and not any(w.startswith("-") or ":" in w for w in cut):
        return " ".join(w.replace('"', "") for w in cut), paper.arxiv_id  # must find it
    text = " ".join(cut)
    for _ in range(rng.randint(1, 4)):
        at = rng.randint(0, len(text))
        text = text[:at] + rng.choice(MUTATIONS) + text[at:]
    return text, None


def unicode_input(rng: random.Random) -> tuple[str, str | None]:
    alphabet = [chr(rng.randint(0, 0x2FFF)) for _ in range(20)] + list(' "-:\\{}$')
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))), None


def check(service: Service, text: str, source: str | None) -> list[tuple[str, str]]:
    """The checks `text` fails, with what went wrong."""
    failed: list[tuple[str, str]] = []
    once = latex_to_text(text)
    if "\\$" not in text and latex_to_text(once) != once:  # see latex_to_text
        failed.append(("latex", once))
    try:
        parsed = parse_query(text, today=TODAY)
    except QueryError:
        return failed
    except Exception as exc:
        return [*failed, ("parse", f"{type(exc).__name__}: {exc}")]
    printed = format_query(parsed)
    try:
        if parse_query(printed, today=TODAY) != parsed:
            failed.append(("reparse", printed))
    except Exception as exc:
        failed.append(("reparse", f"{printed!r}: {type(exc).__name__}: {exc}"))
    try:
        page = service.search(text, mode="lexical", per_page=20)
    except QueryError:
        return failed
    except Exception as exc:
        return [*failed, ("search", f"{type(exc).__name__}: {exc}")]
    if len(page.hits) > page.total:
        failed.append(("search", f"{len(page.hits)} hits > total {page.total}"))
    if source and not _found(service, parsed, source):
        failed.append(("finds", source))
    return failed


def _found(service: Service, parsed: object, source: str) -> bool:
    lexical = service.search_engine.lexical
    query = lexical.build_query(parsed)  # type: ignore[arg-type]
    return source in {i for i, _ in lexical.search(query, limit=100_000, count=False).ids}


def run_random(service: Service, papers: list[Paper], seconds: float, seed: int) -> int:
    rng = random.Random(seed)
    makers: dict[str, Callable[[], tuple[str, str | None]]] = {
        "syntax": lambda: syntax_input(rng),
        "pasted": lambda: pasted_input(rng, papers),
        "unicode": lambda: unicode_input(rng),
    }
    tried: Counter[str] = Counter()
    failures: dict[str, list[dict[str, str]]] = {c: [] for c in CHECKS}
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        kind = rng.choice(list(makers))
        text, source = makers[kind]()
        tried[kind] += 1
        tried["(of which must find their paper)"] += source is not None
        for name, detail in check(service, text, source):
            failures[name].append({"input": text, "detail": detail, "generator": kind})
    elapsed = time.monotonic() - started
    print_report(tried, failures, elapsed)
    return sum(len(f) for f in failures.values())


def print_report(
    tried: Counter[str], failures: dict[str, list[dict[str, str]]], elapsed: float
) -> None:
    total = sum(n for kind, n in tried.items() if not kind.startswith("("))
    print(f"\n{total:,} inputs in {elapsed:.1f} s ({total / elapsed:,.0f}/s)")
    print(f"{'generator':<34} {'inputs':>8}")
    for kind, count in sorted(tried.items(), key=lambda item: item[0].startswith("(")):
        print(f"{kind:<34} {count:>8,}")
    print(f"\n{'check':<8} {'failures':>8}")
    for name in CHECKS:
        print(f"{name:<8} {len(failures[name]):>8,}")
        for failure in failures[name][:3]:
            print(f"    {failure['input'][:100]!r} -> {failure['detail'][:100]}")
    ARGS.failures.write_text(json.dumps(failures, indent=1, ensure_ascii=False))
    print(f"\nfailures written to {ARGS.failures}")


def run_atheris(seconds: int) -> int:
    """Coverage-guided fuzzing (atheris/libFuzzer) of parse, format and latex_to_text."""
    try:
        import atheris
    except ImportError:
        print("atheris is not installed (pip install atheris, x86-64 Linux wheels)")
        return 2
    # Re-import the two modules instrumented: their coverage guides the inputs.
    with atheris.instrument_imports(include=["paperwire.latex", "paperwire.search.query"]):
        latex = importlib.reload(importlib.import_module("paperwire.latex"))
        query = importlib.reload(importlib.import_module("paperwire.search.query"))

    def one_input(data: bytes) -> None:
        text = atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(400)
        once = latex.latex_to_text(text)
        assert "\\$" in text or latex.latex_to_text(once) == once, text  # see latex_to_text
        try:
            parsed = query.parse_query(text, today=TODAY)
        except query.QueryError:
            return
        assert query.parse_query(query.format_query(parsed), today=TODAY) == parsed, text

    crashes = ARGS.failures.parent / "fuzz_query_crash-"
    argv = [sys.argv[0], f"-max_total_time={seconds}", "-print_final_stats=1"]
    argv.append(f"-artifact_prefix={crashes}")
    atheris.Setup(argv, one_input)
    atheris.Fuzz()
    return 0


def build_service(count: int, folder: Path) -> tuple[Service, list[Paper]]:
    from paperwire.sources.snapshot import parse_daily_listing

    records = load_papers(count)
    source = folder / "papers.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records))
    service = Service(Settings(data_dir=folder, database_url=f"sqlite:///{folder / 'pw.db'}"))
    service.import_snapshot(source)
    service.search_engine.use_semantic(None, "not fuzzed")
    return service, [parse_daily_listing(r) for r in records]


def main() -> int:
    if ARGS.atheris:
        return run_atheris(int(ARGS.seconds))
    with tempfile.TemporaryDirectory(prefix="fuzz-query-") as tmp:
        started = time.monotonic()
        service, papers = build_service(ARGS.papers, Path(tmp))
        print(f"store and index of {len(papers):,} papers in {time.monotonic() - started:.1f} s")
        with service:
            failed = run_random(service, papers, ARGS.seconds, ARGS.seed)
    return 1 if failed else 0


parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--seconds", type=float, default=60.0, help="how long to fuzz")
parser.add_argument("--papers", type=int, default=2000, help="papers in the store and index")
parser.add_argument("--seed", type=int, default=1, help="random seed (same seed, same inputs)")
parser.add_argument(
    "--failures",
    type=Path,
    default=Path(tempfile.gettempdir()) / "fuzz_query_failures.json",
    help="where the failing inputs are written (JSON)",
)
parser.add_argument("--atheris", action="store_true", help="coverage-guided, with atheris")
ARGS = parser.parse_args()

if __name__ == "__main__":
    sys.exit(main())
