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


def second_raylet() -> int:
    """The process id of the raylet started last (the second node's); the processes it
    started die with it (see kill_second_node)."""
    found: list[tuple[int, int]] = []
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit():
                continue
            command = (proc / "cmdline").read_bytes().split(b"\0")[0]
            if command.endswith(b"/raylet"):
                started = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[19])
                found.append((started, int(proc.name)))
        except (OSError, ValueError, IndexError):
            continue
    assert len(found) == 2, f"expected two raylets, found {found}"
    return max(found)[1]


def kill_second_node() -> None:
    """SIGKILL the second node's raylet and the embedding worker it started (a worker on
    a node whose raylet is gone serves on until it notices; a node lost with its power
    would not)."""
    raylet = second_raylet()
    children = [
        pid
        for pid in embedding_workers()
        if int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]) == raylet
    ]
    assert len(children) == 1, children
    os.kill(raylet, signal.SIGKILL)
    os.kill(children[0], signal.SIGKILL)


def test_ray_backfill_hands_a_dead_nodes_batches_to_the_live_worker(
    ray_cluster: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    """SIGKILL of the second node's raylet mid-run: its worker is gone for good (no CPU to
    restart it on); the run used to retry the same dead actor three times and end in an
    ActorUnavailableError traceback. Its batches go to the head's worker: every paper is
    embedded once, none twice, none missing."""
    address, env = ray_cluster
    settings = Settings(data_dir=tmp_path / "data")
    env = {**env, "PAPERWIRE_DATA_DIR": str(settings.data_dir)}
    papers = 320
    subset = write_subset(DAILY_FILE, tmp_path / "subset.jsonl", papers)
    base = [sys.executable, "-m", "paperwire"]
    subprocess.run([*base, "import", str(subset)], env=env, check=True, capture_output=True)
    embed = [*base, "embed", "--ray", address, "--batch", "8"]
    run = subprocess.Popen(
        embed, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + RAY_TIMEOUT
        while stored_count(settings.resolved_database_url) < 16:
            assert run.poll() is None, run.communicate()[0]
            assert time.monotonic() < deadline, "no batch came back from the Ray workers"
            time.sleep(0.2)
        kill_second_node()
        said = run.communicate(timeout=2 * RAY_TIMEOUT)[0]
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, said
    (Path(tmp_path) / "embed.out").write_text(said)
    assert "Traceback (most recent" not in said, said
    assert "died; its batches go to the others" in said, said
    assert f"coverage {papers}/{papers} live papers" in said, said
    assert stored_count(settings.resolved_database_url) == papers


def test_more_ray_workers_than_cpus_start_as_many_as_fit(
    ray_cluster: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    """--ray-workers 5 on a cluster of 2 CPUs waited forever, silently, for CPUs the
    three extra actors asked for. It starts the 2 that fit and says so."""
    address, env = ray_cluster
    env = {**env, "PAPERWIRE_DATA_DIR": str(tmp_path / "data")}
    subset = write_subset(DAILY_FILE, tmp_path / "subset.jsonl", 16)
    base = [sys.executable, "-m", "paperwire"]
    subprocess.run([*base, "import", str(subset)], env=env, check=True, capture_output=True)
    done = subprocess.run(
        [*base, "embed", "--ray", address, "--ray-workers", "5", "--batch", "8"],
        env=env,
        capture_output=True,
        text=True,
        timeout=RAY_TIMEOUT,
    )
    said = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 0, said
    assert "the cluster has 2 CPUs free; asked for 5 workers of 1 thread(s): started 2" in said
    assert "coverage 16/16 live papers" in said
