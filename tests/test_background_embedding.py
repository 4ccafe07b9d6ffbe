"""`paperwire serve` embeds new papers in the background, in one process per data dir."""

from __future__ import annotations

import logging
import time
from datetime import date
from itertools import islice
from pathlib import Path

import pytest

from paperwire.config import Settings
from paperwire.search.semantic import BackgroundEmbedder
from paperwire.service import Service
from tests.conftest import KAGGLE_FILE
from webkit import listed_paper

DAY = date(2025, 6, 2)


def test_one_background_embedder_per_data_dir_and_it_embeds(tmp_path: Path) -> None:
    subset = tmp_path / "twenty.jsonl"
    with KAGGLE_FILE.open(encoding="utf-8") as handle:
        subset.write_text("".join(islice(handle, 20)), encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "data")
    first, second = Service(settings), Service(settings)
    try:
        first.import_snapshot(subset)
        embedder = first.start_background_embedding()
        assert embedder is not None
        assert second.start_background_embedding() is None  # the lock is taken
        deadline = time.monotonic() + 120
        while first.embedding_coverage() != (20, 20) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert first.embedding_coverage() == (20, 20), embedder.last_error
        embedder.stop(timeout=30)
        again = second.start_background_embedding()  # released by stop()
        assert again is not None
        again.stop(timeout=30)
    finally:
        first.close()
        second.close()


def test_background_embedding_can_be_switched_off(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", embed_in_background=False)
    with Service(settings) as service:
        assert service.start_background_embedding() is None


def test_background_embedding_errors_are_logged_once_each(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "models").write_text("not a directory")  # the model cannot be prepared
    settings = Settings(data_dir=tmp_path / "data", model_dir=tmp_path / "models")
    with Service(settings) as service:
        service.store.upsert_papers([listed_paper(1, "Unembeddable", ["Ann Lee"], DAY)])
        embedder = BackgroundEmbedder(service.semantic_index, interval=0.05)
        with caplog.at_level(logging.INFO, logger="paperwire.search.semantic"):
            embedder.start()
            deadline = time.monotonic() + 60
            while embedder.rounds_failed < 5 and time.monotonic() < deadline:
                time.sleep(0.05)
            embedder.stop(timeout=30)
    assert embedder.rounds_failed >= 5 and embedder.last_error
    failed = [r for r in caplog.records if "background embedding failed" in r.getMessage()]
    assert len(failed) == 1 and failed[0].levelno == logging.ERROR
    assert failed[0].exc_info is not None  # with its traceback, once
