"""kill -9 a real `python -m paperwire harvest` mid-harvest, re-run it, compare end states."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from fake_arxiv import FakeRemote, Reply
from paperwire.store import open_store
from test_sources_oai import (
    EXPECTED,
    EXPECTED_REJECTS,
    FIRST_TWO_PAGES,
    PAGES,
    TOKEN2,
    TOKEN3,
    serve_pages,
    state,
)


def harvest_command(
    remote: FakeRemote, db_url: str, data_dir: Path
) -> tuple[list[str], dict[str, str]]:
    env = {
        **os.environ,
        "PAPERWIRE_OAI_BASE_URL": f"{remote.url}/oai",
        "PAPERWIRE_DATABASE_URL": db_url,
        "PAPERWIRE_REQUEST_DELAY": "0",
        "PAPERWIRE_RETRY_BACKOFF": "0.01",
        "PAPERWIRE_HTTP_TIMEOUT": "60",
    }
    args = [sys.executable, "-m", "paperwire", "--data-dir", str(data_dir), "harvest"]
    args += ["--since", "2024-01-15", "--until", "2024-01-17", "--set", "cs"]
    return args, env


def wait_for_request(remote: FakeRemote, params: dict[str, str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while params not in remote.requests("/oai"):
        assert time.monotonic() < deadline, f"harvest never asked for {params}"
        time.sleep(0.05)


def slow_third_page(
    fake_remote: FakeRemote, db_url: str, tmp_path: Path
) -> tuple[list[str], dict[str, str]]:
    """The recorded pages, the third answered only after a minute the first time (so a
    harvest can be stopped there), and the harvest command over them."""
    serve_pages(fake_remote)
    slow_page3 = Reply(200, PAGES[2], {"Content-Type": "text/xml"}, delay=60)
    fake_remote.add("/oai", TOKEN3, slow_page3, Reply(200, PAGES[2], {"Content-Type": "text/xml"}))
    return harvest_command(fake_remote, db_url, tmp_path / "data")


def test_sigkill_mid_harvest_then_rerun_reaches_same_state(
    fake_remote: FakeRemote, db_url: str, tmp_path: Path
) -> None:
    args, env = slow_third_page(fake_remote, db_url, tmp_path)
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_request(fake_remote, TOKEN3)  # pages 1 and 2 are committed by now
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    store = open_store(db_url)
    try:
        papers, rejects = state(store)
        assert sorted(papers) == FIRST_TWO_PAGES
        assert rejects == EXPECTED_REJECTS[:1]
    finally:
        store.close()

    fake_remote.log.clear()
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert fake_remote.requests("/oai") == [TOKEN3]  # resumed at the saved token
    assert TOKEN2 not in fake_remote.requests("/oai")
    store = open_store(db_url)
    try:
        papers, rejects = state(store)
        assert papers == EXPECTED  # the state of an uninterrupted harvest
        assert rejects == EXPECTED_REJECTS  # no duplicate rejects either
        assert store.count_papers(include_deleted=True) == len(EXPECTED)
    finally:
        store.close()
    assert "new" in done.stdout  # the run report table


def test_ctrl_c_mid_harvest_records_committed_pages_and_exits_130(
    fake_remote: FakeRemote, db_url: str, tmp_path: Path
) -> None:
    args, env = slow_third_page(fake_remote, db_url, tmp_path)
    proc = subprocess.Popen(
        args,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        wait_for_request(fake_remote, TOKEN3)  # pages 1 and 2 are committed by now
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stdout + stderr
    message = [line for line in stderr.splitlines() if "interrupted" in line]
    assert len(message) == 1 and "resumes" in message[0], stderr
    store = open_store(db_url)
    try:
        papers, _ = state(store)
        assert len(papers) == 5  # pages 1 and 2
        (run,) = store.stats()["runs"]
        assert (run["status"], run["new"], run["updated"]) == ("interrupted", 4, 0), run
        assert f"committed {run['new']:,} new, {run['updated']:,} updated" in message[0]
    finally:
        store.close()


def test_an_identical_harvest_while_one_runs_refuses_before_any_request(
    fake_remote: FakeRemote, db_url: str, tmp_path: Path
) -> None:
    """Two harvests with the same parameters shared one resume point: the second fetched
    the pages the first was fetching, each saving its token over the other's. Now the
    second stops at once and names the first; one with other parameters is not held."""
    args, env = slow_third_page(fake_remote, db_url, tmp_path)
    first = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_request(fake_remote, TOKEN3)  # the first is waiting for page 3
        asked = len(fake_remote.requests("/oai"))
        second = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
        assert len(fake_remote.requests("/oai")) == asked  # it sent nothing
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert second.returncode == 1, second.stdout
    said = " ".join(second.stderr.split())
    assert "an identical harvest (from=2024-01-15 until=2024-01-17 set=cs) is running" in said
    assert f"by pid {first.pid} on host" in said and "Traceback" not in said
    store = open_store(db_url)
    try:
        # the killed first one only: the refused one left no failed run
        assert [r["status"] for r in store.stats()["runs"]] == ["interrupted"]
    finally:
        store.close()
    # its process gone, the first no longer holds the resume point: the harvest resumes
    fake_remote.log.clear()
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert fake_remote.requests("/oai") == [TOKEN3]
    store = open_store(db_url)
    try:
        assert state(store)[0] == EXPECTED
    finally:
        store.close()


def big_page(records: int, token: str) -> bytes:
    """An OAI-PMH page of `records` records with long abstracts, then `token`."""
    words = " ".join(f"word{i}" for i in range(300))
    body = "".join(
        f"<record><header><identifier>oai:arXiv.org:2401.{50000 + i:05d}</identifier>"
        "<datestamp>2024-01-16</datestamp></header><metadata>"
        '<arXiv xmlns="http://arxiv.org/OAI/arXiv/">'
        f"<id>2401.{50000 + i:05d}</id><created>2024-01-16</created><authors><author>"
        f"<keyname>Smith</keyname></author></authors><title>Paper {i}</title>"
        f"<categories>cs.CL</categories><abstract>{i} {words}</abstract></arXiv></metadata>"
        "</record>"
        for i in range(records)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords>'
        f"{body}<resumptionToken>{token}</resumptionToken></ListRecords></OAI-PMH>"
    ).encode()


def full_disk() -> None:
    """In the child: no file may grow past 3 MB (writes fail with EFBIG, as on a full
    disk; SIGXFSZ ignored so the write fails instead of killing the process)."""
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (3_000_000, 3_000_000))


def test_a_full_disk_mid_harvest_is_one_line_a_finished_run_and_resumable(
    fake_remote: FakeRemote, tmp_path: Path
) -> None:
    db_url = f"sqlite:///{tmp_path / 'full.db'}"
    serve_pages(fake_remote)
    fake_remote.add("/oai", TOKEN2, Reply(200, big_page(2500, "tok-3|page 3")))
    command, env = harvest_command(fake_remote, db_url, tmp_path / "data")
    full = subprocess.run(command, env=env, capture_output=True, text=True, preexec_fn=full_disk)
    assert full.returncode == 1, full.stdout + full.stderr
    assert "Traceback" not in full.stderr and len(full.stderr.strip().splitlines()) == 1
    assert "the database refused the write" in full.stderr
    assert "run the same command again, it resumes" in full.stderr
    store = open_store(db_url)
    try:
        (run,) = store.stats()["runs"]
        assert run["status"] in ("failed", "interrupted")  # never 'running' once it is gone
        papers, _ = state(store)
        assert sorted(papers) == ["2401.90001", "2401.90002"]  # page 1, committed
    finally:
        store.close()
    fake_remote.log.clear()
    again = subprocess.run(command, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert fake_remote.requests("/oai") == [TOKEN2, TOKEN3]  # resumed after page 1
