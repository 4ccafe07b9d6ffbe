"""`paperwire match-library` through the real CLI: the report, --json, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import KAGGLE_FILE
from tests.test_cli import run_cli


def test_match_library_reports_matched_unmatched_and_malformed(tmp_path: Path) -> None:
    assert run_cli("import", str(KAGGLE_FILE), data_dir=tmp_path).returncode == 0
    ids = tmp_path / "reading-list.txt"
    ids.write_text(
        "https://doi.org/10.1103/PhysRevD.76.013009\narXiv:0704.0002v1\n"
        "2501.99999\nnot an identifier\n"
    )
    done = run_cli("match-library", str(ids), "--json", data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["format"] == "idlist" and report["entries"] == 4  # the malformed line too
    assert report["matched"] == [
        {"arxiv_id": "0704.0001", "by": "DOI"},
        {"arxiv_id": "0704.0002", "by": "arXiv id"},
    ]
    assert [e["arxiv_id"] for e in report["unmatched"]] == ["2501.99999"]
    assert report["malformed"] == [
        {"key": "line 4", "reason": "not an arXiv id, arXiv URL or DOI: 'not an identifier'"}
    ]
    text = run_cli("match-library", str(ids), data_dir=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "4 entries · 2 matched (0 fetched from arXiv)" in text.stdout
    assert "line 4" in text.stdout and "2501.99999" in text.stdout


def test_match_library_refuses_files_over_the_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.bib"
    big.write_text("@misc{x, title={y}}\n" * 100)
    env_limit = run_cli(
        "--config", str(_config(tmp_path)), "match-library", str(big), data_dir=tmp_path
    )
    assert env_limit.returncode == 1
    assert "the limit is 1,000 bytes" in env_limit.stderr and "Traceback" not in env_limit.stderr


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "pw.toml"
    config.write_text("library_max_bytes = 1000\n")
    return config


def test_a_file_name_with_brackets_is_printed_as_it_is(tmp_path: Path) -> None:
    """QA: `match-library 'lib[red].txt'` printed "lib.txt": the name went into rich markup."""
    ids = tmp_path / "lib[red].txt"
    ids.write_text("2501.99999\n")
    done = run_cli("match-library", str(ids), data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "lib[red].txt (idlist): 1 entries" in done.stdout


def test_an_id_list_named_bib_is_matched_as_an_id_list(tmp_path: Path) -> None:
    """QA: `ids_as.bib` printed "(bibtex): 0 entries · 0 matched", rc 0."""
    assert run_cli("import", str(KAGGLE_FILE), data_dir=tmp_path).returncode == 0
    ids = tmp_path / "ids_as.bib"
    ids.write_text("arXiv:0704.0002v1\nhttps://doi.org/10.1103/PhysRevD.76.013009\n")
    done = run_cli("match-library", str(ids), data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "ids_as.bib (idlist): 2 entries · 2 matched" in done.stdout
    prose = tmp_path / "notes.json"
    prose.write_text("nothing to match here\n")
    refused = run_cli("match-library", str(prose), data_dir=tmp_path)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "no entries found in notes.json: read as CSL-JSON for its name, but" in refused.stderr
