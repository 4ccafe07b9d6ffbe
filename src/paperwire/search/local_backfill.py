"""Embedding with several model processes on this host (``paperwire embed --processes N``).

On a 2-core machine two processes with one ONNX thread each embedded 109 docs/s through
the store, one process with two threads 83 (benchmarks/bench_local_embed.py; the int8
model's two threads share its work poorly). The driver pages through the backlog as the Ray driver does
(search/backlog.py), hands batches of texts to a pool of spawned processes that each load
the model once, and saves the vectors here, one transaction per batch, as they come back.

Resumable like every embedding run: only saved batches count, and a batch embedded twice
replaces its vectors. A process that dies fails the run with ProcessFailed (a re-run
finishes the rest); when the driver is killed, its processes notice within a second and exit.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np

from paperwire.search.backlog import Backlog
from paperwire.search.embed import (
    Embedder,
    Vectors,
    execution_providers,
    usable_cpus,
    weights_dir,
)
from paperwire.search.semantic import BatchWork, SemanticIndex

IN_FLIGHT_PER_PROCESS = 2  # batches queued per process, so none waits between batches
# Backlogs at least this long get one process per CPU by default: starting the processes and
# loading their models costs ~2 s, which a few hundred papers do not win back.
PROCESSES_FROM = 2_000

_embedder: Embedder | None = None  # one per worker process


class ProcessFailed(RuntimeError):
    """A model process died or could not start; the message says what to do."""


def default_processes(todo: int, device: str) -> int:
    """Model processes for a CPU backlog of `todo` papers on this host: one per usable CPU
    for a long backlog, else 1 (the model runs in the calling process). GPU runs keep one
    process: the device, not the CPUs, sets their pace."""
    cpus = usable_cpus()
    if todo < PROCESSES_FROM or cpus < 2:
        return 1
    try:
        on_cpu = execution_providers(device) == ["CPUExecutionProvider"]
    except Exception:  # no onnxruntime, or cuda asked for and missing: the run will say so
        return 1
    return cpus if on_cpu else 1


def _start_worker(driver: int, threads: int, cache_dir: Path | None, device: str) -> None:
    """A worker's set-up: watch the driver (given by pid: one killed while this process
    was still starting is not its parent any more), then load the model."""
    global _embedder
    threading.Thread(target=_exit_with, args=(driver,), daemon=True).start()
    _embedder = Embedder(threads=threads, cache_dir=cache_dir, device=device)


def _exit_with(parent: int) -> None:
    """End this worker once its driver is gone (killed drivers leave no model processes)."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _embed(texts: list[str]) -> Vectors:
    assert _embedder is not None, "worker started without its model"
    return _embedder.embed(texts)


def embed_in_processes(
    index: SemanticIndex,
    processes: int,
    *,
    threads: int = 1,
    batch: int = 64,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Embed the pending backlog with `processes` model processes of `threads` ONNX
    threads each; returns how many papers got a new vector."""
    weights_dir()  # raises ModelUnavailable with the install hint before any process starts
    context = multiprocessing.get_context("spawn")  # no forked copies of the store
    setup = (os.getpid(), threads, index.settings.resolved_model_dir, index.device)
    try:
        embedded = _drive(
            index,
            processes,
            ProcessPoolExecutor(processes, context, _start_worker, setup),
            batch,
            limit,
            progress,
        )
    except BrokenProcessPool as exc:
        raise ProcessFailed(
            f"an embedding process died ({exc}); the batches saved so far are kept: "
            "run `paperwire embed` again to finish the rest"
        ) from exc
    index.after_embedding()
    return embedded


def _drive(
    index: SemanticIndex,
    processes: int,
    pool: ProcessPoolExecutor,
    batch: int,
    limit: int | None,
    progress: Callable[[int], None] | None,
) -> int:
    """Keep IN_FLIGHT_PER_PROCESS batches per process queued; save each as it returns."""
    embedded = 0
    with pool:
        queue = Backlog(index, batch, limit)
        running: dict[Future[Vectors], BatchWork] = {}
        while True:
            while len(running) < IN_FLIGHT_PER_PROCESS * processes:
                work = queue.next()
                if work is None:
                    break
                running[pool.submit(_embed, work.texts)] = work
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                work = running.pop(future)
                index.finish_batch(work, np.asarray(future.result(), dtype=np.float32))
                embedded += len(work.todo)
                if progress is not None:
                    progress(len(work.todo))
    return embedded
