"""`paperwire embed --processes N` (search/local_backfill.py) on real papers: the same
vectors as the in-process path, resumable after the driver is SIGKILLed, and the default
process count."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from paperwire.config import Settings
from paperwire.search.embed import Embedder, document_text, usable_cpus
from paperwire.search.local_backfill import PROCESSES_FROM, default_processes
from paperwire.search.semantic import SemanticIndex
from paperwire.service import Service
from paperwire.store.embeddings import EmbeddingStore
from tests.test_semantic import (
    MODEL_ID,
    daily_papers,
    embed_setup,
    embedded_ids,
    embedding_started,
)

pytestmark = pytest.mark.skipif(not SemanticIndex.installed(), reason="paperwire[semantic]")


def test_processes_embed_what_the_local_path_does(settings: Settings, model_dir: Path) -> None:
    papers = daily_papers(40)
    with Service(settings) as service:
        service.store.upsert_papers(papers)
        seen: list[int] = []
        assert service.embed_in_processes(2, seen.append, batch=6) == 40
        assert sum(seen) == 40 and len(seen) == 7  # one report per saved batch
        assert service.embedding_coverage() == (40, 40)
        stored = {
            v.arxiv_id: np.frombuffer(v.vector, dtype=np.float32)
            for v in EmbeddingStore(service.store).vectors(MODEL_ID, [p.arxiv_id for p in papers])
        }
        local = Embedder(cache_dir=model_dir).embed(
            [document_text(p.title, p.abstract) for p in papers]
        )
        cosines = [float(stored[p.arxiv_id] @ v) for p, v in zip(papers, local, strict=True)]
        assert min(cosines) > 0.9999
        hits = service.search_engine.semantic()[0]
        assert hits is not None and hits.search(papers[5].title, 1)[0][0] == papers[5].arxiv_id
        assert service.embed_in_processes(2, batch=6) == 0  # nothing left to do


def running(pid: int) -> bool:
    """True while `pid` has not exited. An exited orphan whose new parent (a subreaper
    such as this test process may have become) has not reaped it yet is a zombie: gone."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_killed_driver_with_processes_resumes_without_gaps(tmp_path: Path) -> None:
    url, cmd, ids = embed_setup(tmp_path, "--processes", "2")
    proc = embedding_started(cmd, url)
    workers = children(proc.pid)
    assert len(workers) >= 2  # the model processes
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 20
    while left := [pid for pid in workers if running(pid)]:
        assert time.monotonic() < deadline, f"processes outlived the killed driver: {left}"
        time.sleep(0.1)
    partial = embedded_ids(url)
    assert 0 < len(partial) < 48 and len(partial) % 4 == 0  # whole batches only
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "2 model processes" in done.stdout and "coverage 48/48" in done.stdout
    assert embedded_ids(url) == ids


def test_long_cpu_backlogs_get_a_process_per_cpu() -> None:
    assert default_processes(PROCESSES_FROM - 1, "cpu") == 1
    assert default_processes(PROCESSES_FROM, "cpu") == (usable_cpus() if usable_cpus() > 1 else 1)
    assert default_processes(10 * PROCESSES_FROM, "cuda") == 1  # a GPU, or none: one process
