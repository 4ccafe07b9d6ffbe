"""Tables of benchmarks/bench_scale.py: one per size, growth with N (log-log slopes), goals."""

from __future__ import annotations

import itertools
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

COLUMNS: list[tuple[str, str, str]] = [
    ("papers", "papers in store", "{:,.0f}"),
    ("vectors", "vectors", "{}"),
    ("import_store_s", "import, store only s", "{:.1f}"),
    ("import_store_pps", "import, store only papers/s", "{:,.0f}"),
    ("import_store_rss_mb", "import, store only peak RSS MB", "{:,.0f}"),
    ("index_build_s", "index rebuild s (new-host catch-up)", "{:.1f}"),
    ("index_build_rss_mb", "index rebuild peak RSS MB", "{:,.0f}"),
    ("index_mb", "lexical index MB", "{:,.1f}"),
    ("import_indexed_s", "import with indexing s", "{:.1f}"),
    ("import_indexed_pps", "import with indexing papers/s", "{:,.0f}"),
    ("import_indexed_rss_mb", "import with indexing peak RSS MB", "{:,.0f}"),
    ("vector_insert_s", "vectors into store s", "{:.1f}"),
    ("vector_index_s", "vector index build s", "{:.1f}"),
    ("vector_index_mb", "vector index MB", "{:,.1f}"),
    ("vectors_rss_mb", "vectors step peak RSS MB", "{:,.0f}"),
    ("service_first_s", "Service first hybrid query s (cold load)", "{:.2f}"),
    ("lexical_p50_ms", "lexical p50 ms", "{:.1f}"),
    ("lexical_p95_ms", "lexical p95 ms", "{:.1f}"),
    ("hybrid_p50_ms", "hybrid p50 ms", "{:.1f}"),
    ("hybrid_p95_ms", "hybrid p95 ms", "{:.1f}"),
    ("similar_p50_ms", "similar p50 ms", "{:.1f}"),
    ("similar_p95_ms", "similar p95 ms", "{:.1f}"),
    ("service_rss_mb", "Service step peak RSS MB", "{:,.0f}"),
    ("serve_first_s", "serve: start + first search s", "{:.1f}"),
    ("http_hybrid_p50_ms", "HTTP /api/v1/search hybrid p50 ms", "{:.1f}"),
    ("http_lexical_p50_ms", "HTTP /api/v1/search lexical p50 ms", "{:.1f}"),
    ("serve_rss_mb", "serve peak RSS MB (VmHWM, all procs)", "{:,.0f}"),
    ("db_mb", "DB MB (papers only)", "{:,.1f}"),
    ("db_vectors_mb", "DB MB (with vectors)", "{:,.1f}"),
    ("db_bytes_per_paper", "DB bytes/paper (with vectors)", "{:,.0f}"),
    ("index_bytes_per_paper", "lexical index bytes/paper", "{:,.0f}"),
]
GROWTH = [
    "import_store_pps",
    "import_indexed_pps",
    "index_build_s",
    "index_mb",
    "lexical_p50_ms",
    "hybrid_p50_ms",
    "similar_p50_ms",
    "http_hybrid_p50_ms",
    "http_lexical_p50_ms",
    "serve_rss_mb",
    "db_bytes_per_paper",
]


# -- reports ---------------------------------------------------------------------------


def print_size(row: dict[str, Any]) -> None:
    print(f"\nN = {row['n']:,}  ({time.strftime('%Y-%m-%d %H:%M')}, load {load()})")
    for key, heading, fmt in COLUMNS:
        print(f"  {heading:<44}{fmt.format(row[key]):>14}")
    walls = ", ".join(f"{k} {v:.0f}" for k, v in row["step_wall_s"].items())
    print(f"  step wall s (incl. process start): {walls}")
    if row.get("base"):
        print(f"  measured in this run: {', '.join(row['steps'])}; the rest from {row['base']}")
    if row["vectors"] != "real":
        print(f"  vectors are {row['vectors']}: valid for speed and memory, not for quality")
    sys.stdout.flush()


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of log(value) against log(N)."""
    pts = [(math.log(n), math.log(v)) for n, v in points if v > 0]
    if len(pts) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    var = sum((x - mx) ** 2 for x, _ in pts)
    return sum((x - mx) * (y - my) for x, y in pts) / var if var else None


def growth(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key in GROWTH:
        points = [(float(r["n"]), float(r[key])) for r in rows]
        steps = [slope(points[i : i + 2]) for i in range(len(points) - 1)]
        out[key] = {"values": [v for _, v in points], "steps": steps, "slope": slope(points)}
    return out


def print_growth(rows: list[dict[str, Any]], table: dict[str, dict[str, Any]]) -> None:
    sizes = [f"{r['n']:,}" for r in rows]
    pairs = [f"{a}->{b}" for a, b in itertools.pairwise(sizes)]
    print("\ngrowth with N: values, then log-log slope d log(value) / d log(N)")
    print("(slope 0 = flat, 0.5 = grows as sqrt(N), 1 = linear)")
    header = f"  {'metric':<22}" + "".join(f"{s:>11}" for s in sizes)
    header += "".join(f"{p:>22}" for p in pairs) + f"{'fit':>8}"
    print(header)
    kinds = ["real" if r["vectors"] == "real" else "synthetic" for r in rows]
    print(f"  {'corpus':<22}" + "".join(f"{k:>11}" for k in kinds))
    for key, entry in table.items():
        line = f"  {key:<22}" + "".join(f"{v:>11,.1f}" for v in entry["values"])
        line += "".join(f"{_fmt(s):>22}" for s in entry["steps"]) + f"{_fmt(entry['slope']):>8}"
        print(line)
    if len(set(kinds)) > 1:
        print("  (sizes mix the real corpus and synthetic ones: a slope across that step also")
        print("   measures the change of corpus; --synthetic-only compares like with like)")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}"


def goals(rows: list[dict[str, Any]], table: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    largest = rows[-1]
    at = f"at N = {largest['n']:,}"
    million = largest["n"] >= 1_000_000
    lexical = table["lexical_p50_ms"]["slope"]
    checks = [
        ("import with indexing >= 10,000 papers/s", largest["import_indexed_pps"] >= 10_000,
         f"{largest['import_indexed_pps']:,.0f} papers/s {at}"),
        ("lexical p50 grows less than sqrt(N) (slope < 0.5)",
         lexical is not None and lexical < 0.5, f"slope {_fmt(lexical)}"),
        ("hybrid p50 <= 25 ms at 1 M", largest["hybrid_p50_ms"] <= 25,
         f"{largest['hybrid_p50_ms']:.1f} ms {at}"),
        ("serve RSS <= 4 GiB at 1 M", largest["serve_rss_mb"] <= 4 * 1024,
         f"{largest['serve_rss_mb']:,.0f} MB {at}"),
    ]  # fmt: skip
    out = []
    for name, met, value in checks:
        partial = not million and "1 M" in name
        verdict = ("met" if met else "missed") + (" (not yet at 1 M)" if partial else "")
        if "sqrt" in name and lexical is None:
            verdict = "n/a (one size)"
        out.append({"goal": name, "met": met, "verdict": verdict, "value": value})
    return out


def print_goals(results: list[dict[str, Any]]) -> None:
    print("\ngoals")
    for goal in results:
        print(f"  {goal['verdict']:<24}{goal['goal']:<52}{goal['value']}")


def combined(paths: list[Path], show: bool = True) -> list[dict[str, Any]]:
    """The size rows of earlier --json runs, by N (a later file's row of the same N wins),
    printed unless not `show`."""
    by_n: dict[int, dict[str, Any]] = {}
    for path in paths:
        for row in json.loads(path.read_text())["sizes"]:
            by_n[row["n"]] = row
    rows = [by_n[n] for n in sorted(by_n)]
    for row in rows if show else ():
        print_size(row)
    return rows
