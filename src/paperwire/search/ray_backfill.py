"""Embedding backfill on a Ray cluster (``paperwire embed --ray ADDRESS``).

The driver pages through the backlog in id order and hands batches of texts to embedding
actors spread over the cluster's nodes; each actor prepares the model once and returns
vectors, which the driver saves through the store, one transaction per batch, exactly as
the local path does. Workers need paperwire[semantic] and the model package installed but
no access to the database.

Resumable: only saved batches count. A killed driver loses the batches in flight (a re-run
finds them pending again); a dead actor's batch is handed to another actor. Saving replaces
a paper's vector, so a batch embedded twice leaves no duplicate.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from paperwire.search.backlog import Backlog
from paperwire.search.embed import MODEL_ID, Embedder, Vectors, default_cache_dir
from paperwire.search.semantic import BatchWork, SemanticIndex

CONNECT_TIMEOUT = 10.0  # seconds to reach the head's port before saying it is unreachable
RAY_HINT = "embedding on Ray needs the ray package: pip install 'paperwire[ray]'"
IN_FLIGHT_PER_WORKER = 2  # batches queued per actor, so none waits between batches
MAX_ATTEMPTS = 3  # tries per batch before the run fails


class RayUnavailable(RuntimeError):
    """Ray is not installed or the cluster cannot be reached; the message says why."""


class EmbedWorker:
    """A Ray actor: one prepared model, many batches."""

    def __init__(self, threads: int, device: str) -> None:
        self.embedder = Embedder(threads=threads, cache_dir=default_cache_dir(), device=device)

    def model_id(self) -> str:
        return self.embedder.model_id

    def node(self) -> str:
        return f"{os.uname().nodename}:{os.getpid()}"

    def embed(self, texts: list[str]) -> Vectors:
        return self.embedder.embed(texts)


@dataclass
class RayReport:
    embedded: int = 0
    batches: int = 0
    retried: int = 0
    workers: list[str] = field(default_factory=list)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailable(RAY_HINT) from exc
    return ray


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """RayUnavailable at once when nothing answers at a HOST:PORT `address` (ray.init
    retries an unreachable head for minutes, printing retry logs); other forms (auto,
    ray://…) are left to Ray."""
    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isascii() or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise RayUnavailable(
            f"cannot reach the Ray cluster at {address}: {exc}; is `ray start --head` "
            "running there, and is the address the head's (HOST:PORT, default port 6379)?"
        ) from exc


class RayBackfill:
    """Drive one backfill run over the cluster at `address`."""

    def __init__(
        self, index: SemanticIndex, address: str, workers: int | None = None, threads: int = 1
    ) -> None:
        self.index = index
        self.address = address
        self.workers = workers
        self.threads = threads
        self.ray = _import_ray()

    def run(
        self,
        batch: int,
        limit: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> RayReport:
        ray = self.ray
        check_reachable(self.address)
        try:
            ray.init(address=self.address, logging_level="WARNING", log_to_driver=False)
        except (ConnectionError, RuntimeError) as exc:
            raise RayUnavailable(f"cannot reach the Ray cluster at {self.address}: {exc}") from exc
        try:
            return self._drive(batch, limit, progress)
        finally:
            ray.shutdown()

    def _start_actors(self) -> list[Any]:
        ray = self.ray
        cpus = int(ray.cluster_resources().get("CPU", 1))
        count = self.workers or max(1, cpus // self.threads)
        remote = ray.remote(num_cpus=self.threads, max_restarts=-1)(EmbedWorker)
        actors = [
            remote.options(scheduling_strategy="SPREAD").remote(self.threads, self.index.device)
            for _ in range(count)
        ]
        models = ray.get([a.model_id.remote() for a in actors])
        if any(m != MODEL_ID for m in models):
            raise RayUnavailable(
                f"Ray workers run model {sorted(set(models))}, this driver {MODEL_ID}: "
                "install the same paperwire version on every node"
            )
        return actors

    def _drive(
        self, batch: int, limit: int | None, progress: Callable[[int], None] | None
    ) -> RayReport:
        ray = self.ray
        actors = self._start_actors()
        report = RayReport(workers=ray.get([a.node.remote() for a in actors]))
        queue = Backlog(self.index, batch, limit)
        running: dict[Any, tuple[BatchWork, int, int]] = {}  # ref -> (work, actor, attempt)
        free = [n for n in range(len(actors)) for _ in range(IN_FLIGHT_PER_WORKER)]
        while True:
            while free and (work := queue.next()) is not None:
                actor = free.pop()
                running[actors[actor].embed.remote(work.texts)] = (work, actor, 1)
            if not running:
                break
            [ref], _ = ray.wait(list(running), num_returns=1)
            work, actor, attempt = running.pop(ref)
            try:
                vectors = np.asarray(ray.get(ref), dtype=np.float32)
            except ray.exceptions.RayError:
                if attempt >= MAX_ATTEMPTS:
                    raise
                report.retried += 1  # the actor died or failed: try the batch again
                retry = actors[actor].embed.remote(work.texts)
                running[retry] = (work, actor, attempt + 1)
                continue
            self.index.finish_batch(work, vectors)
            report.embedded += len(work.todo)
            report.batches += 1
            free.append(actor)
            if progress is not None:
                progress(len(work.todo))
        self.index.after_embedding()
        return report
