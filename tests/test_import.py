"""Snapshot import through the Service: real files, real databases, real kills."""

from __future__ import annotations

import gzip
import json
import lzma
import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime
from itertools import islice
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from paperwire.cli import cli
from paperwire.config import Settings
from paperwire.models import Author
from paperwire.search.lexical import LexicalIndex
from paperwire.service import Service
from paperwire.sources import snapshot
from tests.conftest import DAILY_FILE, KAGGLE_FILE


def daily_lines(n: int) -> list[str]:
    with lzma.open(DAILY_FILE, "rt", encoding="utf-8") as handle:
        return list(islice(handle, n))


def test_kaggle_first_200(settings: Settings) -> None:
    with Service(settings) as service:
        report = service.import_snapshot(KAGGLE_FILE)
        assert (report.new, report.rejected) == (200, 0)
        paper = service.paper("0704.0001")
        assert paper is not None
        assert paper.title == (
            "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
        )
        assert paper.authors[0] == Author("C. Balázs")
        assert paper.authors[-1] == Author("C. -P. Yuan")
        assert paper.categories == ["hep-ph"]
        assert (paper.version, paper.submitted, paper.updated) == (
            2,
            date(2007, 4, 2),
            date(2007, 7, 24),
        )
        assert paper.doi == "10.1103/PhysRevD.76.013009"
        assert paper.journal_ref == "Phys.Rev.D76:013009,2007"
        assert paper.abstract.startswith("A fully differential calculation in perturbative")
        assert "\n" not in paper.abstract
        again = service.import_snapshot(KAGGLE_FILE)
        assert (again.new, again.updated, again.unchanged) == (0, 0, 200)
        assert service.store.count_papers() == 200


def test_malformed_lines_are_rejected_and_the_rest_kept(settings: Settings, tmp_path: Path) -> None:
    good = daily_lines(5)
    bad = [
        '{"id": "2503.99999", "title": "no abstract", "authors": [], "summary": "",'
        ' "listing_date": "2025-03-18"}\n',
        "{not json\n",
        '{"id": "../../etc/passwd", "title": "t", "summary": "s", "listing_date": "2025-03-18"}\n',
        '{"id": "2503.99998", "title": "t", "summary": "s", "listing_date": "18/03/2025"}\n',
        "[1, 2]\n",
    ]
    path = tmp_path / "mixed.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.writelines([good[0], *bad[:3], *good[1:3], *bad[3:], *good[3:]])
    with Service(settings) as service:
        report = service.import_snapshot(path)
        assert (report.new, report.rejected) == (5, 5)
        reasons = sorted(r.reason for r in service.store.list_rejects())
        assert reasons[-1].startswith("not valid JSON: ")
        assert reasons[:-1] == [
            "2503.99999: empty abstract",
            "bad date '18/03/2025'",
            "not a JSON object",
            "not an arXiv identifier: '../../etc/passwd'",
        ]
        keys = {r.key for r in service.store.list_rejects()}
        assert "mixed.jsonl.gz:3" in keys  # line numbers point at the bad line
        expected = {json.loads(line)["id"] for line in good}
        stored = {p.arxiv_id for batch in service.store.iter_papers() for p in batch}
        assert stored == expected


def test_ids_without_a_month_are_rejected_and_the_rest_kept(
    settings: Settings, tmp_path: Path
) -> None:
    good = daily_lines(2)
    record = json.loads(good[0])
    bad = [
        json.dumps({**record, "id": arxiv_id}) + "\n" for arxiv_id in ("2599.00001", "2500.0001v2")
    ]
    path = tmp_path / "months.jsonl"
    path.write_text("".join([good[0], *bad, good[1]]), encoding="utf-8")
    with Service(settings) as service:
        report = service.import_snapshot(path)
        assert (report.new, report.rejected) == (2, 2)
        assert sorted(r.reason for r in service.store.list_rejects()) == [
            "2500.0001: month 00 is not 01-12 (new-style arXiv ids are YYMM.NNNNN)",
            "2599.00001: month 99 is not 01-12 (new-style arXiv ids are YYMM.NNNNN)",
        ]
        stored = {p.arxiv_id for batch in service.store.iter_papers() for p in batch}
        assert stored == {json.loads(line)["id"] for line in good}


def test_unreadable_categories_are_counted_named_and_the_rest_kept(
    settings: Settings, tmp_path: Path
) -> None:
    """QA: real Kaggle records whose categories were damaged ("cs.", garbage, empty) were
    stored without them and the import said nothing. Each is kept, counted and named
    with its line; the CLI prints the count and the names."""
    records = [json.loads(line) for line in KAGGLE_FILE.read_text().splitlines()[:8]]
    damaged = {2: "cs.", 3: "!!! ???", 4: "", 5: "math.CO cs.  hep-th", 7: "cs.CL; I.2.7"}
    for line, categories in damaged.items():
        records[line - 1]["categories"] = categories
    path = tmp_path / "damaged.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    with Service(settings) as service:
        report = service.import_snapshot(path)
        assert (report.new, report.rejected, report.flawed) == (8, 0, 5)
        ids = [r["id"] for r in records]
        assert report.warnings == [
            f"damaged.jsonl:2 ({ids[1]}): category 'cs.' is not an arXiv class (such as "
            "cs.CL); kept with no category",
            f"damaged.jsonl:3 ({ids[2]}): categories '!!! ???' hold no arXiv class; kept with "
            "no category",
            f"damaged.jsonl:4 ({ids[3]}): no categories; kept with no category",
            f"damaged.jsonl:5 ({ids[4]}): category 'cs.' is not an arXiv class (such as "
            "cs.CL); kept with math.CO, hep-th",
            f"damaged.jsonl:7 ({ids[6]}): category 'cs.CL;' is not an arXiv class (such as "
            "cs.CL); kept with no category",
        ]
        for record in records:  # the rest of each record is stored
            paper = service.paper(record["id"])
            assert paper is not None and paper.title == " ".join(record["title"].split())
            assert paper.abstract == " ".join(record["abstract"].split())
        assert service.paper(ids[4]).categories == ["math.CO", "hep-th"]  # type: ignore[union-attr]
        assert service.paper(ids[0]).categories == [records[0]["categories"]]  # type: ignore[union-attr]
        clean = tmp_path / "clean.jsonl"  # the real records, and the daily file's, as they are
        clean.write_text(KAGGLE_FILE.read_text() + "".join(daily_lines(3000)), encoding="utf-8")
        assert service.import_snapshot(clean).flawed == 0
    base = ["--data-dir", str(settings.data_dir), "--database-url", settings.resolved_database_url]
    again = tmp_path / "again.jsonl"
    again.write_text(path.read_text().replace('"cs."', '"cs.AI cs."'), encoding="utf-8")
    output = CliRunner().invoke(cli, [*base, "import", str(again)]).output
    assert "5 record(s) kept without categories that could not be read; each is named" in output
    assert f"warning: again.jsonl:2 ({ids[1]}): category 'cs.' is not an arXiv" in output
    assert "kept with cs.AI" in output


@pytest.mark.slow
def test_full_daily_file_sqlite(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    with Service(settings) as service:
        report = service.import_snapshot(DAILY_FILE)
        assert (report.new, report.rejected) == (74_728, 0)
        stats = service.stats()
        assert stats["papers"] == 74_728
        assert stats["by_category"]["cs.CV"] == 35_273
        assert stats["by_category"]["cs.CL"] == 20_699
        assert len(stats["by_listing_date"]) > 300
        first = json.loads(daily_lines(1)[0])
        paper = service.paper(first["id"])
        assert paper is not None
        assert paper.title == " ".join(first["title"].split())
        assert [a.name for a in paper.authors] == first["authors"]
        assert paper.listing_date == date.fromisoformat(first["listing_date"])
        # ACM/MSC class strings never reach the categories
        assert all((c[0].isalpha() and "." in c) or "-" in c for c in stats["by_category"])
        again = service.import_snapshot(DAILY_FILE)
        assert (again.new, again.updated, again.unchanged) == (0, 0, 74_728)


def table_fingerprint(url: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT arxiv_id, content_hash, title FROM papers ORDER BY arxiv_id")
        ).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def indexed_ids(settings: Settings) -> list[str]:
    """The ids of every document in the lexical index (duplicates kept), sorted."""
    import tantivy

    index = LexicalIndex(settings.data_dir / "index" / "lexical")
    found = index.search(tantivy.Query.all_query(), limit=100_000)
    return sorted(arxiv_id for arxiv_id, _ in found.ids)


def test_kill_mid_import_then_rerun_reaches_same_state(
    tmp_path: Path, db_url: str, postgres_server: str
) -> None:
    lines = daily_lines(12_000)
    source = tmp_path / "part.jsonl"
    source.write_text("".join(lines), encoding="utf-8")
    env = {**os.environ, "PAPERWIRE_DATABASE_URL": db_url, "PAPERWIRE_BATCH_SIZE": "400"}
    cmd = [
        sys.executable,
        "-m",
        "paperwire",
        "--data-dir",
        str(tmp_path / "d"),
        "import",
        str(source),
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    engine = sa.create_engine(db_url)
    deadline = time.monotonic() + 120
    count = 0
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with engine.connect() as conn:
                count = conn.execute(sa.text("SELECT count(*) FROM papers")).scalar_one()
        except sa.exc.DBAPIError:
            count = 0
        if count >= 2000:
            break
        time.sleep(0.02)
    engine.dispose()
    assert proc.poll() is None, "import finished before it could be killed; make it bigger"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = table_fingerprint(db_url)
    assert 0 < len(partial) < 12_000
    data = Settings(data_dir=tmp_path / "d", database_url=db_url)
    assert len(indexed_ids(data)) < len(partial)  # stored but not yet in a committed index
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    assert rerun.returncode == 0, rerun.stderr
    final = table_fingerprint(db_url)
    # every paper searchable exactly once: the rerun re-indexed what the killed run stored
    assert indexed_ids(data) == sorted(row[0] for row in final)
    # a clean, uninterrupted import of the same file into a fresh database
    clean_url = f"sqlite:///{tmp_path / 'clean.db'}"
    clean_env = {**env, "PAPERWIRE_DATABASE_URL": clean_url}
    subprocess.run(
        [*cmd[:4], str(tmp_path / "c"), *cmd[5:]],
        env=clean_env,
        check=True,
        capture_output=True,
    )
    assert final == table_fingerprint(clean_url)
    assert len(final) == len({row[0] for row in final}) == 12_000


@pytest.mark.parametrize("batch_size", [100, 2])
def test_an_id_repeated_in_one_file_is_counted_once_per_record(
    settings: Settings, tmp_path: Path, batch_size: int
) -> None:
    """Every record is counted: a repeat is merged into the paper before it and counted as a
    repeat in a later batch is, whether or not the two share a batch."""
    good = daily_lines(4)
    retitled = json.dumps({**json.loads(good[1]), "title": "A retitled paper"}) + "\n"
    lines = [good[0], good[1], good[0], good[2], retitled, "{not json\n", good[3]]
    path = tmp_path / "repeats.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    settings = settings.model_copy(update={"batch_size": batch_size})
    with Service(settings) as service:
        report = service.import_snapshot(path)
        counts = (report.new, report.updated, report.unchanged, report.rejected, report.deleted)
        assert counts == (4, 1, 1, 1, 0) and report.seen == len(lines)
        run = service.stats()["runs"][0]
        assert [run[n] for n in ("new", "updated", "unchanged", "rejected")] == [4, 1, 1, 1]
        assert service.store.count_papers() == 4
        assert service.paper(json.loads(good[1])["id"]).title == "A retitled paper"  # type: ignore[union-attr]


def test_a_file_with_a_long_path_imports_and_resumes(settings: Settings, tmp_path: Path) -> None:
    """The checkpoint key holds the file's path: at ~200+ characters it overflowed
    checkpoints.name (varchar(256): StringDataRightTruncation on PostgreSQL). A short
    path's key is what it always was (an import interrupted before an upgrade resumes)."""
    folder = tmp_path / ("d" * 120) / ("e" * 120)
    folder.mkdir(parents=True)
    path = folder / ("listing-" + "f" * 150 + ".jsonl")
    path.write_text("".join(daily_lines(600)), encoding="utf-8")
    assert len(str(path.resolve())) > 400
    with Service(settings.model_copy(update={"batch_size": 200})) as service:
        assert service.import_snapshot(path).new == 600
        key = snapshot.mtime_key(path)
        assert service.store.get_checkpoint(key) == {"line": 600, "complete": True}
        with service.store.engine.connect() as conn:
            (name,) = conn.execute(sa.text("SELECT name FROM checkpoints")).scalars()
        assert len(name) <= 256 and name.startswith(key[:200])
        service.store.set_checkpoint(key, {"line": 400})  # as if stopped there: resumes
        again = service.import_snapshot(path)
        assert (again.new, again.unchanged) == (0, 200)
    short = tmp_path / "short.jsonl"
    short.write_text(daily_lines(1)[0], encoding="utf-8")
    stamp = datetime.fromtimestamp(short.stat().st_mtime).isoformat(timespec="seconds")
    assert snapshot.mtime_key(short) == f"snapshot:{short.resolve()}:{short.stat().st_size}:{stamp}"
