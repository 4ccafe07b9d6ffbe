"""A lexical index whose files were damaged behind paperwire's back (meta.json overwritten,
a segment file cut short, one deleted), on 600 real records: opening it never crashes,
searches say to rebuild, `paperwire index rebuild` makes it whole again with the same
results, and damage found only by a search is a clear error, not a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import tantivy

from conftest import DAILY_FILE
from paperwire.config import Settings
from paperwire.search.damage import IndexDamaged
from paperwire.search.lexical import LexicalIndex
from paperwire.service import Service
from webkit import write_subset

QUERY = "transformer attention"


def _overwrite_meta(folder: Path) -> None:
    (folder / "meta.json").write_text("{bad")


def _cut_store(folder: Path) -> None:
    """Each .store file replaced by its first 100 bytes (a new file: cutting the old one in
    place would pull it from under this test process's earlier, still mapped, index)."""
    for path in folder.glob("*.store"):
        cut = path.with_suffix(".cut")
        cut.write_bytes(path.read_bytes()[:100])
        cut.replace(path)


def _drop_positions(folder: Path) -> None:
    for path in folder.glob("*.pos"):
        path.unlink()


DAMAGE: dict[str, Callable[[Path], None]] = {
    "meta overwritten": _overwrite_meta,
    "store cut short": _cut_store,
    "positions deleted": _drop_positions,
}


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_subset(DAILY_FILE, tmp_path_factory.mktemp("damage") / "subset.jsonl", 600)


def _search_ids(service: Service) -> tuple[list[str], list[str]]:
    page = service.search(QUERY, mode="lexical", per_page=20)
    return [hit.paper.arxiv_id for hit in page.hits], page.notes


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_damaged_index_is_cleared_and_rebuilt(
    settings: Settings, records: Path, damage: str
) -> None:
    with Service(settings) as service:
        service.import_snapshot(records)
        before, _ = _search_ids(service)
    assert len(before) == 20
    DAMAGE[damage](settings.data_dir / "index" / "lexical")
    with Service(settings) as service:
        found, notes = _search_ids(service)
        assert found == []
        assert any("damaged and has been cleared" in n and "index rebuild" in n for n in notes)
        service.rebuild_index()
        found, notes = _search_ids(service)
    assert found == before and not any("rebuild" in n for n in notes)


def test_damage_seen_only_by_a_search_is_a_clear_error(settings: Settings, records: Path) -> None:
    with Service(settings) as service:
        service.import_snapshot(records)
    folder = settings.data_dir / "index" / "lexical"
    _drop_positions(folder)
    index = LexicalIndex(folder)  # opens: positions are read only by some queries
    assert not index.created
    query = tantivy.Query.term_set_query(index.schema, "arxiv_id", ["2503.00001"])
    with pytest.raises(IndexDamaged, match="paperwire index rebuild"):
        index.search(query, limit=5)


def test_cli_search_and_rebuild_on_a_damaged_index(tmp_path: Path, records: Path) -> None:
    env = {**os.environ, "PAPERWIRE_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}

    def paperwire(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "paperwire", *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, check=False)

    assert paperwire("import", str(records)).returncode == 0
    good = paperwire("search", QUERY, "--json")
    folder = tmp_path / "data" / "index" / "lexical"
    saved = tmp_path / "saved"
    shutil.copytree(folder, saved)
    for name, damage in DAMAGE.items():
        shutil.rmtree(folder)
        shutil.copytree(saved, folder)
        damage(folder)
        searched = paperwire("search", QUERY)
        assert searched.returncode == 0 and "Traceback" not in searched.stderr, name
        assert "damaged and has been cleared" in searched.stdout, name
        rebuilt = paperwire("index", "rebuild")
        assert rebuilt.returncode == 0, (name, rebuilt.stderr)
        assert paperwire("search", QUERY, "--json").stdout == good.stdout, name
