"""benchmarks/bench_scale.py (issue 15) at a tiny size, and the provenance its derived
vectors rely on (benchmarks/make_scale_corpus.py)."""

from __future__ import annotations

import json
import lzma
import re
import subprocess
import sys
from pathlib import Path

from conftest import DAILY_FILE, ROOT
from webkit import write_subset

BENCHMARKS = ROOT / "benchmarks"
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")  # make_scale_corpus's sentence boundary


def test_provenance_names_the_real_papers_each_synthetic_paper_was_made_from(
    tmp_path: Path,
) -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from make_scale_corpus import load_pools, split_title, synthetic_papers_with_sources
    finally:
        sys.path.remove(str(BENCHMARKS))
    plain = write_subset(DAILY_FILE, tmp_path / "real.jsonl", 300)
    source = tmp_path / "real.jsonl.xz"
    source.write_bytes(lzma.compress(plain.read_bytes()))
    real = [json.loads(line) for line in plain.read_text().splitlines()]
    written = tmp_path / "synthetic.jsonl.xz"
    subprocess.run(
        [sys.executable, str(BENCHMARKS / "make_scale_corpus.py"), "--papers", "400",
         "--out", str(written), "--source", str(source), "--seed", "3"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    with lzma.open(written, "rt", encoding="utf-8") as lines:
        in_file = [json.loads(line) for line in lines]

    replayed = list(synthetic_papers_with_sources(load_pools(source), 400, seed=3))
    assert [paper for paper, _ in replayed] == in_file  # replay = the file, paper for paper
    for paper, sources in replayed:
        head = split_title(" ".join(real[sources[0]]["title"].split()))[0]
        tail = split_title(" ".join(real[sources[1]]["title"].split()))[1]
        assert paper["title"] == f"{head} {tail}".strip()
        rest = str(paper["summary"])
        for s in sources[2:]:  # each sentence, in order, is one of its source's sentences
            candidates = SENTENCE.split(" ".join(real[s]["summary"].split()))
            found = max((c for c in candidates if rest.startswith(c)), key=len, default=None)
            assert found is not None, (paper["id"], s)
            rest = rest[len(found) :].lstrip()
        assert rest == ""


def test_bench_scale_reports_every_column_at_a_tiny_size(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from scale_report import COLUMNS, GROWTH
    finally:
        sys.path.remove(str(BENCHMARKS))
    out = tmp_path / "scale.json"
    run = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_scale.py"), "--sizes", "2000",
         "--work-dir", str(tmp_path), "--vectors", "random", "--queries", "10",
         "--similar", "10", "--json", str(out)],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert "N = 2,000" in run.stdout and "goals" in run.stdout
    result = json.loads(out.read_text())
    (row,) = result["sizes"]
    assert {key for key, _, _ in COLUMNS} <= set(row)
    assert row["papers"] == 2000 and row["vectors"] == "random (seeded)"
    for key in ("import_store_pps", "import_indexed_pps", "index_build_s", "index_mb"):
        assert row[key] > 0, key
    for kind in ("lexical", "hybrid", "similar"):
        assert 0 < row[f"{kind}_p50_ms"] <= row[f"{kind}_p95_ms"] < 10_000, kind
    assert 0 < row["http_lexical_p50_ms"] < 10_000 and 0 < row["http_hybrid_p50_ms"] < 10_000
    assert 50 < row["serve_rss_mb"] < 4096  # a real server process (and its workers) was read
    assert row["vector_index_mb"] > 2000 * 384 / 1e6 * 0.4  # 2,000 vectors, int8 at least
    assert row["db_vectors_mb"] > row["db_mb"]  # the vectors went into the store
    assert 384 * 4 < row["db_bytes_per_paper"] < 100_000  # a float32 vector and its paper
    assert set(result["growth"]) == set(GROWTH)
    assert len(result["goals"]) == 4
    assert result["goals"][0]["goal"].startswith("import with indexing")
    assert all(g["verdict"].startswith(("met", "missed", "n/a")) for g in result["goals"])
    assert not (tmp_path / "data-2000-indexed").exists()  # the second data dir is removed

    # a rerun of the import steps only: the other figures come from the first run's JSON
    again = tmp_path / "again.json"
    rerun = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_scale.py"), "--sizes", "2000",
         "--work-dir", str(tmp_path), "--vectors", "random", "--steps", "import,indexed",
         "--base", str(out), "--json", str(again)],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"the rest from {out}" in rerun.stdout
    (second,) = json.loads(again.read_text())["sizes"]
    assert second["steps"] == ["import", "indexed"] and second["papers"] == 2000
    assert second["import_store_s"] != row["import_store_s"]  # measured again
    assert second["http_lexical_p50_ms"] == row["http_lexical_p50_ms"]  # kept from the base
    assert second["hybrid_p50_ms"] == row["hybrid_p50_ms"]
    assert (tmp_path / "data-2000" / "index" / "vectors").is_dir()  # the kept dir is intact
    assert not (tmp_path / "data-2000-import").exists()

    # what a worker pays to stay current, on the same data dir
    synced = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_reader_sync.py"), "--data-dir",
         str(tmp_path / "data-2000"), "--for-you"],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert synced.returncode == 0, synced.stderr[-3000:]
    for line in ("EmbeddingStore.version (from indexes)", "version, the join it replaced",
                 "incremental sync after a 64-vector batch", "from the files' fingerprint"):  # fmt: skip
        assert line in synced.stdout, line
    assert re.search(r"capped at 100,000\s+\S+\s+2,000(\s+[\d.,]+){5}\n", synced.stdout)
