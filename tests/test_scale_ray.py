"""Embedding backfill on a real local Ray cluster (issue 15): a head node and a second
worker node on loopback; an embedding worker is killed mid-run (the run goes on), then the
driver (a re-run finishes the rest), and every vector equals the one the local path
computes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

import paperwire
from conftest import DAILY_FILE
from paperwire.config import Settings
from paperwire.search.embed import MODEL_ID, Embedder, document_text, model_installed
from paperwire.store import open_store
from paperwire.store.embeddings import EmbeddingStore
from webkit import write_subset

pytest.importorskip("ray", reason="the Ray backfill test needs ray: pip install 'paperwire[ray]'")
pytestmark = pytest.mark.skipif(not model_installed(), reason="needs paperwire[semantic]")

PAPERS = 160
RAY_TIMEOUT = 180


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ray_cli(*args: str, env: dict[str, str]) -> None:
    ray = Path(sys.executable).with_name("ray")
    done = subprocess.run(
        [str(ray), *args], env=env, capture_output=True, text=True, timeout=RAY_TIMEOUT
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def ray_cluster() -> Iterator[tuple[str, dict[str, str]]]:
    """`ray start --head` on 127.0.0.1 plus a second node; `ray stop` at the end."""
    source = str(Path(paperwire.__file__).resolve().parents[1])  # workers import this tree
    env = {**os.environ, "PYTHONPATH": source, "RAY_USAGE_STATS_ENABLED": "0"}
    address = f"127.0.0.1:{free_port()}"
    common = ["--node-ip-address", "127.0.0.1", "--num-cpus", "1"]
    common += ["--object-store-memory", str(100 * 2**20), "--disable-usage-stats"]
    try:
        ray_cli("start", "--head", "--port", address.split(":")[1], *common,
                "--include-dashboard", "false", env=env)  # fmt: skip
        ray_cli("start", "--address", address, *common, env=env)
        yield address, env
    finally:
        subprocess.run(
            [str(Path(sys.executable).with_name("ray")), "stop", "--force"],
            env=env,
            capture_output=True,
            timeout=RAY_TIMEOUT,
        )


def embedding_workers() -> list[int]:
    """Process ids of the Ray actors that embed (Ray titles them ray::EmbedWorker)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "cmdline").read_bytes().startswith(
                b"ray::EmbedWorker"
            ):
                found.append(int(proc.name))
        except OSError:
            continue
    assert found, "no embedding worker process found"
    return found


def stored_count(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM embeddings")).scalar_one())
    except sa.exc.OperationalError:  # not created yet
        return 0
    finally:
        engine.dispose()


def test_ray_backfill_survives_killed_worker_and_driver_and_matches_local_vectors(
    ray_cluster: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    address, env = ray_cluster
    settings = Settings(data_dir=tmp_path / "data")
    env = {**env, "PAPERWIRE_DATA_DIR": str(settings.data_dir)}
    subset = write_subset(DAILY_FILE, tmp_path / "subset.jsonl", PAPERS)
    base = [sys.executable, "-m", "paperwire"]
    subprocess.run([*base, "import", str(subset)], env=env, check=True, capture_output=True)
    embed = [*base, "embed", "--ray", address, "--batch", "16"]

    first = subprocess.Popen(embed, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + RAY_TIMEOUT
    while stored_count(settings.resolved_database_url) < 32:  # two batches saved, then kill
        assert first.poll() is None, first.communicate()[0]
        assert time.monotonic() < deadline, "no batch came back from the Ray workers"
        time.sleep(0.2)
    victim = embedding_workers()[0]  # a worker dies mid-run: its batch is handed out again
    os.kill(victim, signal.SIGKILL)
    survived = stored_count(settings.resolved_database_url)
    while stored_count(settings.resolved_database_url) < survived + 32:
        assert first.poll() is None, first.communicate()[0]
        assert time.monotonic() < deadline + RAY_TIMEOUT, "the run stalled after a worker died"
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)
    first.wait(30)
    partial = stored_count(settings.resolved_database_url)
    assert 64 <= partial < PAPERS

    rerun = subprocess.run(embed, env=env, capture_output=True, text=True, timeout=RAY_TIMEOUT)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"embedded {PAPERS - partial} paper(s)" in rerun.stdout  # only what was left
    workers = next(line for line in rerun.stdout.splitlines() if line.startswith("Ray workers:"))
    assert len(set(workers.split(": ", 1)[1].split(", "))) == 2  # one actor per node CPU

    store = open_store(settings.resolved_database_url)
    try:
        papers = [p for batch in store.iter_papers() for p in batch]
        ids = [p.arxiv_id for p in papers]
        assert len(ids) == PAPERS and store.count_papers() == PAPERS
        vectors = {v.arxiv_id: v for v in EmbeddingStore(store).vectors(MODEL_ID, ids)}
        assert stored_count(settings.resolved_database_url) == PAPERS == len(vectors)
        local = Embedder(threads=1, cache_dir=settings.resolved_model_dir).embed(
            [document_text(p.title, p.abstract) for p in papers]
        )
    finally:
        store.close()
    remote = np.stack([np.frombuffer(vectors[i].vector, dtype=np.float32) for i in ids])
    cosines = np.einsum("ij,ij->i", remote, local)
    assert cosines.min() > 0.9999, cosines.min()
