"""`paperwire serve` embeds new papers in the background, in one process per data dir."""

from __future__ import annotations

import time
from itertools import islice
from pathlib import Path

from paperwire.config import Settings
from paperwire.service import Service
from tests.conftest import KAGGLE_FILE


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
