"""benchmarks/make_scale_corpus.py (issue 15): reproducible, arXiv-shaped, made only of real
pieces, and importable."""

from __future__ import annotations

import json
import lzma
import re
import subprocess
import sys
from pathlib import Path

from conftest import DAILY_FILE, ROOT
from webkit import write_subset

SCRIPT = ROOT / "benchmarks" / "make_scale_corpus.py"
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")  # the script's sentence boundary
NEW_ID = re.compile(r"^(\d{2})(\d{2})\.(\d{4,5})$")


def make(source: Path, out: Path, papers: int, seed: int = 0) -> list[dict[str, object]]:
    subprocess.run(
        [sys.executable, str(SCRIPT), "--papers", str(papers), "--out", str(out),
         "--source", str(source), "--seed", str(seed)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    with lzma.open(out, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def test_scale_corpus_is_reproducible_arxiv_shaped_and_importable(tmp_path: Path) -> None:
    plain = write_subset(DAILY_FILE, tmp_path / "real.jsonl", 300)
    source = tmp_path / "real.jsonl.xz"
    source.write_bytes(lzma.compress(plain.read_bytes()))
    real = [json.loads(line) for line in plain.read_text().splitlines()]

    first = make(source, tmp_path / "a.jsonl.xz", 2000)
    again = make(source, tmp_path / "b.jsonl.xz", 2000)
    other = make(source, tmp_path / "c.jsonl.xz", 2000, seed=1)
    assert first == again and first != other

    ids = [str(p["id"]) for p in first]
    assert len(set(ids)) == len(ids) == 2000
    for paper in first:
        match = NEW_ID.match(str(paper["id"]))
        assert match is not None, paper["id"]
        day = str(paper["listing_date"])
        assert "2007-01-01" <= day <= "2026-06-30"
        assert len(match.group(3)) == (4 if day < "2015" else 5)
    years = sorted({str(p["listing_date"])[:4] for p in first})
    assert years[0] <= "2009" and years[-1] == "2026"  # spread over the whole span
    later = sum(str(p["listing_date"]) >= "2017" for p in first)
    assert later > 1200  # density grows with time, as arXiv's did

    real_categories = {tuple(r["categories"]) for r in real}
    real_authors = {a for r in real for a in r["authors"]}
    real_sentences = {s for r in real for s in SENTENCE.split(" ".join(r["summary"].split()))}
    for paper in first[:200]:
        assert tuple(paper["categories"]) in real_categories  # type: ignore[arg-type]
        assert set(paper["authors"]) <= real_authors  # type: ignore[arg-type]
        assert set(SENTENCE.split(str(paper["summary"]))) <= real_sentences

    imported = subprocess.run(
        [sys.executable, "-m", "paperwire", "--data-dir", str(tmp_path / "data"), "import",
         str(tmp_path / "a.jsonl.xz")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    count = subprocess.run(
        [sys.executable, "-m", "paperwire", "--data-dir", str(tmp_path / "data"), "stats",
         "--json"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert json.loads(count.stdout)["papers"] == 2000
