"""Cut-off, corrupt and empty snapshot files through the real CLI: the import says what
happened, keeps every complete record before the break, and a re-run is safe."""

from __future__ import annotations

import gzip
import lzma
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from paperwire import ingest
from paperwire.cli import cli
from tests.conftest import DAILY_FILE, KAGGLE_FILE


def complete_lines(prefix: bytes) -> list[bytes]:
    """The complete lines in what a decompressor makes of a cut-off prefix."""
    if prefix.startswith(b"\xfd7zXZ"):
        text = lzma.LZMADecompressor().decompress(prefix)
    elif prefix.startswith(b"\x1f\x8b"):
        text = zlib.decompressobj(wbits=31).decompress(prefix)
    else:
        text = prefix
    return [line for line in text.split(b"\n")[:-1] if line.strip()]


def flat(text: str) -> str:
    return " ".join(text.split())


def run(data_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--data-dir", str(data_dir), *args])


def stored(data_dir: Path) -> tuple[int, list[tuple[str, int, str | None]]]:
    engine = sa.create_engine(f"sqlite:///{data_dir / 'paperwire.db'}")
    with engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM papers")).scalar_one()
        runs = conn.execute(sa.text("SELECT status, new, error FROM ingest_runs ORDER BY id"))
        rows = [tuple(r) for r in runs]
    engine.dispose()
    return int(count), rows  # type: ignore[return-value]


def test_truncated_xz_through_the_real_cli_says_what_was_kept(tmp_path: Path) -> None:
    """The reported reproduction: `head -c 200000 FILE.jsonl.xz > t.xz; paperwire import`."""
    prefix = DAILY_FILE.read_bytes()[:200_000]
    cut = tmp_path / "t.xz"
    cut.write_bytes(prefix)
    kept = complete_lines(prefix)
    proc = subprocess.run(
        [sys.executable, "-m", "paperwire", "--data-dir", str(tmp_path / "d"), "import", str(cut)],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        check=False,
    )
    message = flat(proc.stderr)
    assert proc.returncode == 1
    assert "Aborted" not in message and "Traceback" not in message
    assert "t.xz is cut off after 200,000 of 200,000 bytes" in message
    assert f"Kept the {len(kept):,} complete record(s)" in message
    assert f"line {len(kept) + 1:,} was cut off and not imported" in message
    assert "Re-running the import with the complete file is safe" in message
    count, runs = stored(tmp_path / "d")
    assert count == len(kept) > 100
    assert runs[-1][:2] == ("failed", len(kept)) and "cut off" in str(runs[-1][2])
    # the complete file (here: the cut records plus the next one, whole) merges in
    with lzma.open(DAILY_FILE) as handle:
        whole = [handle.readline() for _ in range(len(kept) + 1)]
    complete = tmp_path / "complete.jsonl"
    complete.write_bytes(b"".join(whole))
    again = run(tmp_path / "d", "import", str(complete))
    assert again.exit_code == 0, again.output
    count, runs = stored(tmp_path / "d")
    assert count == len(kept) + 1 and runs[-1][:2] == ("ok", 1)


@pytest.mark.parametrize("parallel", [False, True], ids=["in-process", "parser-process"])
def test_truncated_gzip_keeps_complete_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parallel: bool
) -> None:
    if parallel:
        monkeypatch.setattr(ingest, "PARALLEL_MIN_BYTES", 0)
    packed = gzip.compress(KAGGLE_FILE.read_bytes())
    prefix = packed[: len(packed) // 2]
    cut = tmp_path / "half.json.gz"
    cut.write_bytes(prefix)
    kept = complete_lines(prefix)
    result = run(tmp_path / "d", "import", str(cut))
    message = flat(result.output)
    assert result.exit_code == 1
    assert "half.json.gz is cut off" in message and "Compressed file ended" in message
    assert f"Kept the {len(kept):,} complete record(s)" in message
    assert stored(tmp_path / "d")[0] == len(kept) > 10
    rerun = run(tmp_path / "d", "import", str(KAGGLE_FILE))
    assert rerun.exit_code == 0
    count, runs = stored(tmp_path / "d")
    assert count == 200 and runs[-1][:2] == ("ok", 200 - len(kept))


def test_corrupt_xz_in_the_middle_is_damaged_not_cut(tmp_path: Path) -> None:
    data = bytearray(DAILY_FILE.read_bytes()[:400_000])
    data[150_000:150_064] = bytes(64)  # zeros inside the first block
    bad = tmp_path / "bad.jsonl.xz"
    bad.write_bytes(bytes(data))
    result = run(tmp_path / "d", "import", str(bad))
    message = flat(result.output)
    assert result.exit_code == 1 and "Traceback" not in message
    assert "bad.jsonl.xz is damaged after" in message
    count = stored(tmp_path / "d")[0]
    assert f"Kept the {count:,} complete record(s)" in message
    assert 0 < count < len(complete_lines(bytes(data[:150_000]))) + 1


def test_plain_json_cut_mid_record(tmp_path: Path) -> None:
    text = KAGGLE_FILE.read_bytes()
    cut_at = text.index(b"\n", len(text) // 3) + 50  # 50 bytes into a record
    cut = tmp_path / "cut.json"
    cut.write_bytes(text[:cut_at])
    kept = complete_lines(text[:cut_at])
    result = run(tmp_path / "d", "import", str(cut))
    message = flat(result.output)
    assert result.exit_code == 1
    assert f"cut.json is cut off in line {len(kept) + 1:,}" in message
    assert f"Kept the {len(kept):,} complete record(s)" in message
    assert stored(tmp_path / "d")[0] == len(kept)
    rejects = run(tmp_path / "d", "rejects")
    assert "no rejected records" in rejects.output  # the cut line is not a bad record


def test_plain_file_whose_last_line_is_bad_but_whole_is_a_reject(tmp_path: Path) -> None:
    """A final line that is not a JSON object at all is an ordinary bad record."""
    path = tmp_path / "tail.json"
    path.write_bytes(KAGGLE_FILE.read_bytes() + b"not json at all")
    result = run(tmp_path / "d", "import", str(path))
    assert result.exit_code == 0, result.output
    assert "1 record(s) rejected" in flat(result.output)


@pytest.mark.parametrize("kind", ["empty.jsonl", "empty.jsonl.gz", "empty.jsonl.xz", "blank.json"])
def test_empty_file_warns(tmp_path: Path, kind: str) -> None:
    path = tmp_path / kind
    content = {"empty.jsonl": b"", "empty.jsonl.gz": gzip.compress(b"")}
    content |= {"empty.jsonl.xz": lzma.compress(b""), "blank.json": b"\n  \n\n"}
    path.write_bytes(content[kind])
    result = run(tmp_path / "d", "import", str(path))
    assert result.exit_code == 0, result.output
    assert f"warning: {kind} has no records (it is empty); nothing was imported" in flat(
        result.output
    )
    full = run(tmp_path / "d", "import", str(KAGGLE_FILE))
    assert "warning" not in full.output
