"""Embedding backfill on a Ray cluster (``paperwire embed --ray ADDRESS``).

The driver pages through the backlog in id order and hands batches of texts to embedding
actors spread over the cluster's nodes; each actor prepares the model once and returns
vectors, which the driver saves through the store, one transaction per batch, exactly as
the local path does. Workers need paperwire[semantic] and the model package installed but
no access to the database.

Resumable: only saved batches count. A killed driver loses the batches in flight (a re-run
finds them pending again); a dead actor (its process or its node killed) is dropped and its
batches are handed to the actors still alive; with none left the run stops, saying that a
re-run resumes. Saving replaces a paper's vector, so a batch embedded twice leaves no
duplicate.

Workers are started only as far as the cluster has CPUs for them (each asks for `threads`
CPUs; more would wait for resources forever, silently), and their start-up is timed out.
"""

from __future__ import annotations

import os
import socket
from collections import deque
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
MAX_ATTEMPTS = (
    3  # tries per batch (its embedding failing, not its actor dying) before the run fails
)
START_TIMEOUT = 300.0  # seconds for every actor to prepare its model before the run gives up
RESUMES = "the batches saved so far are kept and re-running the command resumes"


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
    notes: list[str] = field(default_factory=list)  # worth telling whoever ran it


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

    def _worker_count(self, notes: list[str]) -> int:
        """How many actors of `threads` CPUs to start: those asked for (default: as many
        as the free CPUs hold), no more than fit; RayUnavailable when none fits."""
        ray = self.ray
        free = float(ray.available_resources().get("CPU", 0))
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        per_node = sum(int(n.get("Resources", {}).get("CPU", 0) // self.threads) for n in nodes)
        fit = min(int(free // self.threads), per_node)
        asked = self.workers or fit
        if fit < 1:
            raise RayUnavailable(
                f"the cluster has {free:g} CPUs free; asked for {asked} worker(s) of "
                f"{self.threads} thread(s): free some CPUs or add nodes"
            )
        if asked > fit:
            notes.append(
                f"the cluster has {free:g} CPUs free; asked for {asked} workers of "
                f"{self.threads} thread(s): started {fit}"
            )
            return fit
        return asked

    def _start_actors(self, notes: list[str]) -> list[Any]:
        ray = self.ray
        count = self._worker_count(notes)
        remote = ray.remote(num_cpus=self.threads, max_restarts=0)(EmbedWorker)
        actors = [
            remote.options(scheduling_strategy="SPREAD").remote(self.threads, self.index.device)
            for _ in range(count)
        ]
        try:
            models = ray.get([a.model_id.remote() for a in actors], timeout=START_TIMEOUT)
        except ray.exceptions.GetTimeoutError:
            self._kill(actors)
            raise RayUnavailable(
                f"the {count} Ray worker(s) did not start within {START_TIMEOUT:.0f} s (no "
                "node with the CPUs they ask for, or paperwire[semantic] and the model "
                "missing on a node?); see `ray status`"
            ) from None
        except ray.exceptions.RayError as exc:
            self._kill(actors)
            raise RayUnavailable(f"a Ray worker failed to start: {_first_line(exc)}") from exc
        if any(m != MODEL_ID for m in models):
            raise RayUnavailable(
                f"Ray workers run model {sorted(set(models))}, this driver {MODEL_ID}: "
                "install the same paperwire version on every node"
            )
        return actors

    def _kill(self, actors: list[Any]) -> None:
        for actor in actors:
            try:
                self.ray.kill(actor, no_restart=True)
            except Exception:  # already gone
                continue

    def _drive(
        self, batch: int, limit: int | None, progress: Callable[[int], None] | None
    ) -> RayReport:
        ray = self.ray
        notes: list[str] = []
        actors = self._start_actors(notes)
        report = RayReport(workers=ray.get([a.node.remote() for a in actors]), notes=notes)
        queue = Backlog(self.index, batch, limit)
        again: deque[tuple[BatchWork, int]] = deque()  # batches to hand out again (attempt)
        running: dict[Any, tuple[BatchWork, int, int]] = {}  # ref -> (work, actor, attempt)
        live = set(range(len(actors)))
        free = [n for n in range(len(actors)) for _ in range(IN_FLIGHT_PER_WORKER)]
        while True:
            while free:
                if again:
                    work, attempt = again.popleft()
                elif (work := queue.next()) is not None:  # type: ignore[assignment]
                    attempt = 1
                else:
                    break
                actor = free.pop()
                running[actors[actor].embed.remote(work.texts)] = (work, actor, attempt)
            if not running:
                break
            [ref], _ = ray.wait(list(running), num_returns=1)
            work, actor, attempt = running.pop(ref)
            try:
                vectors = np.asarray(ray.get(ref), dtype=np.float32)
            except ray.exceptions.RayActorError as exc:  # its process or node died
                if actor in live:
                    live.discard(actor)
                    free = [n for n in free if n != actor]
                    self._kill([actors[actor]])
                    report.notes.append(
                        f"Ray worker {report.workers[actor]} died; its batches go to the others"
                    )
                if not live:
                    raise RayUnavailable(
                        f"every Ray worker died ({_first_line(exc)}); {RESUMES}"
                    ) from exc
                report.retried += 1
                again.append((work, attempt))
                continue
            except ray.exceptions.RayError as exc:  # the batch failed: another try
                if attempt >= MAX_ATTEMPTS:
                    raise RayUnavailable(
                        f"a batch failed {attempt} times on the Ray workers "
                        f"({_first_line(exc)}); {RESUMES}"
                    ) from exc
                report.retried += 1
                again.append((work, attempt + 1))
                free.append(actor)
                continue
            self.index.finish_batch(work, vectors)
            report.embedded += len(work.todo)
            report.batches += 1
            free.append(actor)
            if progress is not None:
                progress(len(work.todo))
        self.index.after_embedding()
        return report


def _first_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[0].strip()[:300] if lines else type(exc).__name__
