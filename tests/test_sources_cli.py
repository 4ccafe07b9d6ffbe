"""The polite HTTP client's rules, and the harvest/fetch/hf-daily commands end to end."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from fake_arxiv import FakeRemote, Reply
from paperwire.cli import cli
from paperwire.config import Settings
from paperwire.sources.http import (
    PoliteClient,
    SourceError,
    request_delay_for,
    retry_after_seconds,
)
from paperwire.store import open_store
from test_sources_hf import HF_FILE
from test_sources_oai import serve_pages


def test_retry_after_forms() -> None:
    now = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("10", now) == 10.0
    assert retry_after_seconds("Mon, 01 Jan 2024 12:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Mon, 01 Jan 2024 11:00:00 GMT", now) == 0.0
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None


def test_arxiv_hosts_never_get_less_than_3_seconds() -> None:
    assert request_delay_for("oaipmh.arxiv.org", 0.0) == 3.0
    assert request_delay_for("export.arxiv.org:443", 1.0) == 3.0
    assert request_delay_for("arxiv.org", 5.0) == 5.0
    assert request_delay_for("127.0.0.1:8080", 0.0) == 0.0
    assert request_delay_for("huggingface.co", 0.0) == 0.0
    assert request_delay_for("notarxiv.org", 0.0) == 0.0


def test_http_date_retry_after_is_honoured(fake_remote: FakeRemote, tmp_path: Path) -> None:
    when = datetime.now(UTC) + timedelta(seconds=2)
    stamp = when.strftime("%a, %d %b %Y %H:%M:%S GMT")
    fake_remote.add("/x", {}, Reply(503, b"later", {"Retry-After": stamp}), Reply(200, b"ok"))
    settings = fake_remote.settings(Settings(data_dir=tmp_path, request_delay=0.0))
    with PoliteClient(settings) as client:
        assert client.get(f"{fake_remote.url}/x").text == "ok"
    first, second = fake_remote.log
    assert second.at - first.at >= 0.9  # up to 2 s, less the sub-second part already gone


def test_4xx_is_not_retried_and_5xx_gives_up(fake_remote: FakeRemote, tmp_path: Path) -> None:
    fake_remote.add("/gone", {}, Reply(404, b"<html>no such page</html>"))
    fake_remote.add("/down", {}, Reply(502, b"bad gateway"))
    settings = fake_remote.settings(Settings(data_dir=tmp_path, request_delay=0.0), http_retries=2)
    with PoliteClient(settings) as client:
        with pytest.raises(SourceError, match=r"HTTP 404 .*no such page"):
            client.get(f"{fake_remote.url}/gone")
        with pytest.raises(SourceError, match=r"HTTP 502 .* 3 times in a row"):
            client.get(f"{fake_remote.url}/down")
    assert [e.path for e in fake_remote.log] == ["/gone", "/down", "/down", "/down"]


def env_for(remote: FakeRemote, db_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "PAPERWIRE_DATA_DIR": str(tmp_path / "data"),
        "PAPERWIRE_DATABASE_URL": db_url,
        "PAPERWIRE_OAI_BASE_URL": f"{remote.url}/oai",
        "PAPERWIRE_ARXIV_API_URL": f"{remote.url}/api/query",
        "PAPERWIRE_HF_BASE_URL": remote.url,
        "PAPERWIRE_REQUEST_DELAY": "0",
        "PAPERWIRE_RETRY_BACKOFF": "0.01",
    }


def test_cli_harvest_and_hf_daily(fake_remote: FakeRemote, db_url: str, tmp_path: Path) -> None:
    serve_pages(fake_remote)
    fake_remote.add(
        "/api/daily_papers",
        {"date": "2024-01-16", "limit": "100", "p": "0"},
        Reply(200, HF_FILE.read_bytes()),
    )
    runner = CliRunner()
    env = env_for(fake_remote, db_url, tmp_path)
    args = ["harvest", "--since", "2024-01-15", "--until", "2024-01-17", "--set", "cs"]
    result = runner.invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    assert "harvest" in result.output and "rejected" in result.output
    result = runner.invoke(cli, ["hf-daily", "--date", "2024-01-16"], env=env)
    assert result.exit_code == 0, result.output
    store = open_store(db_url)
    try:
        paper = store.get_paper("2401.90001")
        assert paper is not None and paper.hf_upvotes == 42
        assert paper.title == "Counting Pebbles with Small Language Models (revised)"
        assert store.count_papers() == 7  # 5 harvested + 2 only on HF
    finally:
        store.close()


def test_cli_hf_daily_keeps_no_javascript_github_link(
    fake_remote: FakeRemote, db_url: str, tmp_path: Path
) -> None:
    """`paperwire hf-daily` stored githubRepo "javascript:alert(document.domain)" as the
    paper's GitHub link; an https one is kept."""
    data = json.loads(HF_FILE.read_text())
    data[0]["paper"]["githubRepo"] = "javascript:alert(document.domain)"
    data[1]["paper"]["githubRepo"] = "https://github.com/example/only-hf"
    fake_remote.add(
        "/api/daily_papers",
        {"date": "2024-01-16", "limit": "100", "p": "0"},
        Reply(200, json.dumps(data).encode()),
    )
    env = env_for(fake_remote, db_url, tmp_path)
    result = CliRunner().invoke(cli, ["hf-daily", "--date", "2024-01-16"], env=env)
    assert result.exit_code == 0, result.output
    store = open_store(db_url)
    try:
        first, second = (store.get_paper(i) for i in ("2401.90001", "2401.90010"))
        assert first is not None and first.hf_upvotes == 42 and first.hf_github is None
        assert second is not None and second.hf_github == "https://github.com/example/only-hf"
    finally:
        store.close()


def test_cli_without_network_says_to_import(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        "PAPERWIRE_DATA_DIR": str(tmp_path / "data"),
        "PAPERWIRE_OAI_BASE_URL": f"http://127.0.0.1:{port}/oai",
        "PAPERWIRE_ARXIV_API_URL": f"http://127.0.0.1:{port}/api/query",
        "PAPERWIRE_HTTP_RETRIES": "0",
    }
    runner = CliRunner()
    for args in (["harvest", "--since", "2024-01-01"], ["fetch", "2401.00001"]):
        result = runner.invoke(cli, args, env=env)
        assert result.exit_code == 1
        assert "cannot reach 127.0.0.1" in result.output
        assert "no network? import a snapshot instead: paperwire import FILE" in result.output


def test_cli_fetch_error_feed_and_usage(fake_remote: FakeRemote, tmp_path: Path) -> None:
    from test_sources_api import serve_recorded

    serve_recorded(fake_remote)
    runner = CliRunner()
    env = env_for(fake_remote, f"sqlite:///{tmp_path / 'cli.db'}", tmp_path)
    result = runner.invoke(cli, ["fetch", "2401.00001", "abc"], env=env)
    assert (
        result.exit_code == 2 and "Invalid value for IDS: not an arXiv id: 'abc'" in result.output
    )
    assert fake_remote.requests() == []  # nothing is sent for a list with a non-id in it
    result = runner.invoke(cli, ["fetch"], env=env)
    assert result.exit_code == 2 and "give arXiv IDs or --query" in result.output
    result = runner.invoke(cli, ["fetch", "astro-ph/0601001"], env=env)
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output


def test_cli_fetch_takes_urls_and_names_ids_arxiv_does_not_know(
    fake_remote: FakeRemote, tmp_path: Path
) -> None:
    from test_sources_api import serve_recorded

    serve_recorded(fake_remote)
    env = env_for(fake_remote, f"sqlite:///{tmp_path / 'cli.db'}", tmp_path)
    args = ["fetch", "arXiv:0808.05394", "https://arxiv.org/abs/1707.08567"]
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    assert "warning: arXiv returned nothing for 0808.05394" in result.output
    assert fake_remote.requests("/api/query")[0]["id_list"] == "0808.05394,1707.08567"
    stats = CliRunner().invoke(cli, ["stats"], env=env)
    assert "1 papers" in stats.output


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("harvest", ["--since", "--until", "--set", "--restart", "resumes"]),
        ("fetch", ["--query", "--max-results", "2104.12255v1"]),
        ("hf-daily", ["--date", "upvotes", "Default: today"]),
    ],
)
def test_help(command: str, words: list[str]) -> None:
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    for word in words:
        assert word in result.output


def test_cli_rejects_bad_dates_and_urls(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"PAPERWIRE_DATA_DIR": str(tmp_path / "data")}
    result = runner.invoke(
        cli, ["harvest", "--since", "2024-02-01", "--until", "2024-01-01"], env=env
    )
    assert result.exit_code == 2 and "--until is before --since" in result.output
    result = runner.invoke(cli, ["hf-daily", "--date", "yesterday"], env=env)
    said = "date must be a date like 2025-06-30, not 'yesterday'"  # the web's words
    assert result.exit_code == 2 and said in result.output
    env["PAPERWIRE_HF_BASE_URL"] = "ftp://127.0.0.1:9"
    result = runner.invoke(cli, ["hf-daily", "--date", "2024-01-16"], env=env)
    assert result.exit_code == 1 and "bad source URL" in result.output


def test_timeout_is_retried(fake_remote: FakeRemote, tmp_path: Path) -> None:
    fake_remote.add("/slow", {}, Reply(200, b"late", delay=3), Reply(200, b"on time"))
    base = Settings(data_dir=tmp_path, request_delay=0.0)
    settings = fake_remote.settings(base, http_timeout=0.5)
    with PoliteClient(settings) as client:
        assert client.get(f"{fake_remote.url}/slow").text == "on time"
    assert len(fake_remote.log) == 2
