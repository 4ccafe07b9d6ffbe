"""Upstreams that misbehave on purpose or by accident, through a real loopback server: a
gzip bomb, redirects to other hosts (SSRF), redirect loops, bodies trickled byte by byte.
Every network source goes through the one polite client, so each case is checked where
it shows: the harvest, the API fetch and Hugging Face daily papers."""

from __future__ import annotations

import gzip
import itertools
import time
from pathlib import Path

import pytest

from fake_arxiv import FakeRemote, Reply, xml_reply
from paperwire.config import Settings
from paperwire.service import Service
from paperwire.sources.http import (
    MAX_REDIRECTS,
    PoliteClient,
    RedirectRefused,
    ResponseTooLarge,
    SourceError,
)
from test_sources_hf import DAY, HF_PAGE0
from test_sources_oai import EXPECTED, FIRST, PAGES, SINCE, UNTIL, harvest, serve_pages

SECRET = b"INTERNAL-ONLY admin page: db_password=hunter2"


def gzip_bomb(megabytes: int) -> Reply:
    """A small gzip body that inflates to `megabytes` MB of zeros."""
    body = gzip.compress(b"\0" * (megabytes * 1_000_000), compresslevel=9)
    return Reply(200, body, {"Content-Encoding": "gzip", "Content-Type": "text/xml"})


def test_gzip_bomb_stops_at_the_limit_and_is_not_fetched_again(
    fake_remote: FakeRemote, settings: Settings
) -> None:
    bomb = gzip_bomb(60)
    assert len(bomb.body) < 100_000
    fake_remote.add("/oai", FIRST, bomb)
    fake_remote.add("/api/daily_papers", HF_PAGE0, bomb)
    remote_settings = fake_remote.settings(settings, http_max_body_mb=5)
    with Service(remote_settings) as service:
        with pytest.raises(ResponseTooLarge, match=r"http_max_body_mb=5 MB"):
            service.harvest_oai(SINCE, UNTIL, "cs")
        with pytest.raises(ResponseTooLarge, match="PAPERWIRE_HTTP_MAX_BODY_MB"):
            service.hf_daily(DAY)
        runs = service.stats()["runs"]
        assert [r["status"] for r in runs] == ["failed", "failed"]
        assert service.store.count_papers() == 0
    assert [e.path for e in fake_remote.log] == ["/oai", "/api/daily_papers"]  # no retries


def test_a_gzipped_page_under_the_limit_is_read(
    fake_remote: FakeRemote, settings: Settings
) -> None:
    serve_pages(fake_remote)
    zipped = Reply(200, gzip.compress(PAGES[0]), {"Content-Encoding": "gzip"})
    fake_remote.add("/oai", FIRST, zipped)
    _, (papers, _), _ = harvest(fake_remote.settings(settings, http_max_body_mb=1))
    assert papers == EXPECTED


def test_redirect_to_another_host_is_not_followed_nor_its_body_shown(
    fake_remote: FakeRemote, settings: Settings
) -> None:
    with FakeRemote() as internal:
        internal.add("/internal-admin", {"secret": "1"}, Reply(403, SECRET))
        elsewhere = f"{internal.url}/internal-admin?secret=1"
        fake_remote.add("/oai", FIRST, Reply(302, b"", {"Location": elsewhere}))
        with Service(fake_remote.settings(settings)) as service:
            with pytest.raises(RedirectRefused) as caught:
                service.harvest_oai(SINCE, UNTIL, "cs")
            run = service.stats()["runs"][0]
            assert service.store.count_papers() == 0
        assert internal.log == []
    message = str(caught.value)
    assert f"redirected (HTTP 302) to another host, {internal.url}; not followed" in message
    assert fake_remote.url in message
    for text in (message, run["error"]):
        assert "hunter2" not in text and "secret=1" not in text
    assert run["status"] == "failed"
    assert len(fake_remote.log) == 1  # refused at once, not retried


def test_redirect_within_the_host_is_followed_and_paced(
    fake_remote: FakeRemote, tmp_path: Path
) -> None:
    serve_pages(fake_remote)
    moved = "&".join(f"{k}={v}" for k, v in FIRST.items())
    fake_remote.add("/oai", FIRST, Reply(301, b"", {"Location": f"/moved?{moved}"}))
    fake_remote.add("/moved", FIRST, xml_reply(PAGES[0]))
    base = Settings(data_dir=tmp_path, request_delay=0.3)
    _, (papers, _), _ = harvest(fake_remote.settings(base))
    assert papers == EXPECTED
    assert [e.path for e in fake_remote.log] == ["/oai", "/moved", "/oai", "/oai"]
    gaps = [b.at - a.at for a, b in itertools.pairwise(fake_remote.log)]
    assert min(gaps) >= 0.3  # the redirect hop waited its turn like any request


def test_redirect_loop_is_capped_paced_and_clear(fake_remote: FakeRemote, tmp_path: Path) -> None:
    fake_remote.add("/loop", {}, Reply(302, b"", {"Location": "/loop"}))
    settings = fake_remote.settings(Settings(data_dir=tmp_path, request_delay=0.1))
    with (
        PoliteClient(settings) as client,
        pytest.raises(RedirectRefused, match=f"redirected more than {MAX_REDIRECTS} times"),
    ):
        client.get(f"{fake_remote.url}/loop")
    assert len(fake_remote.log) == MAX_REDIRECTS + 1
    gaps = [b.at - a.at for a, b in itertools.pairwise(fake_remote.log)]
    assert min(gaps) >= 0.1


def test_redirect_rules() -> None:
    import httpx

    from paperwire.sources.http import same_host

    def ok(origin: str, target: str) -> bool:
        return same_host(httpx.URL(origin), httpx.URL(target))

    assert ok("http://export.arxiv.org/api", "https://export.arxiv.org/api")
    assert ok("https://Arxiv.org/x", "https://arxiv.org/y")
    assert not ok("https://arxiv.org/x", "http://arxiv.org/x")  # no downgrade
    assert not ok("https://arxiv.org/x", "https://arxiv.org.evil.example/x")
    assert not ok("http://127.0.0.1:8000/x", "http://127.0.0.1:8001/x")
    assert not ok("http://127.0.0.1:8000/x", "http://localhost:8000/x")


def test_a_trickling_body_times_out_as_a_whole(fake_remote: FakeRemote, tmp_path: Path) -> None:
    fake_remote.add("/drip", {}, Reply(200, b"x" * 1000, drip=0.4))  # 4 s in all
    base = Settings(data_dir=tmp_path, request_delay=0.0)
    settings = fake_remote.settings(base, http_timeout=1.0, http_retries=0)
    started = time.monotonic()
    with (
        PoliteClient(settings) as client,
        pytest.raises(SourceError, match=r"longer than http_timeout=1 s in all"),
    ):
        client.get(f"{fake_remote.url}/drip")
    assert time.monotonic() - started < 2.5


def test_fetch_query_through_a_bomb_fails_clearly(
    fake_remote: FakeRemote, settings: Settings
) -> None:
    params = {"search_query": "testing", "id_list": "", "start": "0", "max_results": "10"}
    fake_remote.add("/api/query", params, gzip_bomb(20))
    with (
        Service(fake_remote.settings(settings, http_max_body_mb=2)) as service,
        pytest.raises(ResponseTooLarge, match="http_max_body_mb=2 MB"),
    ):
        service.search_arxiv("testing", max_results=10)
    assert len(fake_remote.log) == 1
