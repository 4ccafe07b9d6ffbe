"""The source parsers under hostile input: arbitrary bytes and mutated real recordings end
in records or a reasoned rejection, never a crash or a hang; XML entities are never
expanded and nothing is fetched. Bounded (seconds); benchmarks/fuzz_parsers.py runs long."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperwire.models import Paper
from paperwire.sources import arxiv_api, arxiv_oai, hf_daily, snapshot
from tests.parser_fuzz import HANG_SECONDS, Target, mutate, mutate_json, run_one, targets

TARGETS = targets()
FUZZ = settings(
    max_examples=120,
    deadline=HANG_SECONDS * 1000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,  # the same inputs on every run: a failure here reproduces
    derandomize=True,
)


def assert_handled(target: Target, data: bytes) -> None:
    started = time.perf_counter()
    failure = run_one(target, data)
    assert failure is None, f"{target.name}: {failure}\ninput: {data[:500]!r}"
    assert time.perf_counter() - started < HANG_SECONDS


def test_every_target_has_real_seeds_that_parse() -> None:
    for target in TARGETS.values():
        assert len(target.seeds) >= 1, target.name
        for seed in target.seeds:
            assert_handled(target, seed)
    assert len(TARGETS["oai"].seeds) >= 10 and len(TARGETS["atom"].seeds) >= 10
    assert any(
        isinstance(i, Paper) for i in arxiv_oai.parse_list_records(TARGETS["oai"].seeds[-1]).items
    )


@pytest.mark.parametrize("name", sorted(TARGETS))
@FUZZ
@given(data=st.binary(max_size=4000))
def test_arbitrary_bytes(name: str, data: bytes) -> None:
    assert_handled(TARGETS[name], data)


@pytest.mark.parametrize("name", sorted(TARGETS))
@FUZZ
@given(
    choice=st.integers(min_value=0), steps=st.integers(1, 8), rng=st.randoms(use_true_random=False)
)
def test_mutated_recordings(name: str, choice: int, steps: int, rng: random.Random) -> None:
    target = TARGETS[name]
    seed = target.seeds[choice % len(target.seeds)]
    assert_handled(target, mutate(seed, rng, steps))


@pytest.mark.parametrize("name", ["hf", "snapshot_line"])
@FUZZ
@given(
    choice=st.integers(min_value=0), steps=st.integers(1, 4), rng=st.randoms(use_true_random=False)
)
def test_json_of_the_wrong_shape(name: str, choice: int, steps: int, rng: random.Random) -> None:
    target = TARGETS[name]
    seed = target.seeds[choice % len(target.seeds)]
    assert_handled(target, mutate_json(seed, rng, steps))


@pytest.mark.parametrize(
    "line",
    [
        b'{"id": "0704.0001", "title": "t", "abstract": "a", "versions": [{"version": "v\xc2\xb2"}]}',
        b'{"id": "0704.0001", "title": "t", "abstract": "a", "versions": ["v1"]}',
        b'{"id": "0704.0001", "title": 5, "abstract": "a"}',
        b'{"id": "0704.0001", "title": "t", "abstract": "a", "categories": 7}',
        b'{"id": "0704.0001", "title": "t", "abstract": "a", "authors_parsed": [[1, 2]]}',
        b'{"id": ["0704.0001"], "title": "t", "abstract": "a"}',
        b'{"id": "2503.00001", "title": "t", "summary": "s", "authors": [5]}',
        b'{"id": "0704.0001", "title": "t", "abstract": "a",'
        b' "versions": [{"version": "v1", "created": "Mon, 2 Apr 99999999 19:18:42 GMT"}]}',
    ],
)
def test_found_by_fuzzing_snapshot_lines_are_rejected_with_a_reason(line: bytes) -> None:
    """Each of these crashed the importer (AttributeError, ValueError, OverflowError)."""
    assert_handled(TARGETS["snapshot_line"], line)


def test_found_by_fuzzing_deep_json_is_refused() -> None:
    with pytest.raises(hf_daily.MalformedDailyPapers, match="nested too deeply"):
        hf_daily.parse_daily_papers(b"[" * 100_000)
    assert_handled(TARGETS["hf"], b"[" * 950 + b"]" * 950)
    assert_handled(TARGETS["snapshot_line"], b"[" * 100_000)


# -- XML: entities, DTDs, network --------------------------------------------------------


class Recorder(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Recorder.hits.append(self.path)
        body = b'<!ENTITY leak "FETCHED-OVER-HTTP">'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    Recorder.hits = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def oai_record(doctype: str, abstract: str) -> bytes:
    return f"""<?xml version="1.0"?>
{doctype}
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords><record>
<header><identifier>oai:arXiv.org:2401.00001</identifier><datestamp>2024-01-02</datestamp></header>
<metadata><arXiv xmlns="http://arxiv.org/OAI/arXiv/"><id>2401.00001</id><created>2024-01-01</created>
<authors><author><keyname>Doe</keyname><forenames>Jane</forenames></author></authors>
<title>A title</title><categories>cs.CL</categories><abstract>{abstract}</abstract>
</arXiv></metadata></record></ListRecords></OAI-PMH>""".encode()


def atom_entry(doctype: str, abstract: str) -> bytes:
    return f"""<?xml version="1.0"?>
{doctype}
<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/abs/2401.00001v1</id>
<published>2024-01-01T00:00:00Z</published><title>A title</title><summary>{abstract}</summary>
<author><name>Jane Doe</name></author><category term="cs.CL"/></entry></feed>""".encode()


def laughs(levels: int = 10) -> str:
    lines = ['<!ENTITY lol0 "lol">']
    lines += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels)]
    return "<!DOCTYPE OAI-PMH [" + "".join(lines) + "]>"


def parsed_text(body: bytes, kind: str) -> str:
    items = (
        arxiv_oai.parse_list_records(body) if kind == "oai" else arxiv_api.parse_feed(body)
    ).items
    return " ".join(f"{i.title} {i.abstract}" if isinstance(i, Paper) else i.raw for i in items)


@pytest.mark.parametrize("kind", ["oai", "atom"])
def test_billion_laughs_is_not_expanded(kind: str) -> None:
    build = oai_record if kind == "oai" else atom_entry
    started = time.perf_counter()
    with pytest.raises((arxiv_oai.MalformedResponse, arxiv_api.MalformedFeed), match="ampl"):
        parsed_text(build(laughs(10), "Start &lol9; end"), kind)  # 10^9 lols: refused
    text = parsed_text(build(laughs(4), "Start &lol3; end"), kind)  # 10^3: kept unexpanded
    assert time.perf_counter() - started < 1.0
    assert "Start" in text and text.count("lol") < 50


def test_the_laughs_test_would_see_expansion() -> None:
    """The same payload through a parser that does expand entities: the check above bites."""
    from lxml import etree

    root = etree.fromstring(oai_record(laughs(4), "&lol3;"), etree.XMLParser())
    assert etree.tostring(root).count(b"lol") >= 1000


@pytest.mark.parametrize("kind", ["oai", "atom"])
def test_external_entities_and_dtds_are_never_read_or_fetched(
    kind: str, recorder: str, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-FILE-CONTENT")
    build = oai_record if kind == "oai" else atom_entry
    doctypes = {
        f'<!DOCTYPE r [<!ENTITY file SYSTEM "file://{secret}">]>': "&file;",
        f'<!DOCTYPE r [<!ENTITY web SYSTEM "{recorder}/entity">]>': "&web;",
        f'<!DOCTYPE r SYSTEM "{recorder}/external.dtd">': "&leak;",
        f'<!DOCTYPE r [<!ENTITY % remote SYSTEM "{recorder}/param.dtd"> %remote;]>': "&leak;",
        f'<!DOCTYPE r PUBLIC "-//X//Y" "{recorder}/public.dtd">': "&leak;",
    }
    parsed = 0
    for doctype, reference in doctypes.items():
        body = build(doctype, f"before {reference} after")
        try:
            text = parsed_text(body, kind)
        except (arxiv_oai.MalformedResponse, arxiv_api.MalformedFeed):
            continue  # refused outright (an undeclared entity) is fine too
        parsed += 1
        assert "before" in text and "after" in text
        assert "SECRET-FILE-CONTENT" not in text and "FETCHED-OVER-HTTP" not in text
    assert parsed >= 2  # the declared external entities parse, unexpanded
    xinclude = f'<x:include xmlns:x="http://www.w3.org/2001/XInclude" href="{recorder}/xi"/>'
    parsed_text(build("", xinclude), kind)
    time.sleep(0.2)
    assert Recorder.hits == []


@pytest.mark.parametrize("kind", ["oai", "atom"])
def test_libxml2_limits_stay_on(kind: str) -> None:
    """huge_tree is off: a 1,000-deep tree (fine for huge_tree) is refused as malformed."""
    build = oai_record if kind == "oai" else atom_entry
    started = time.perf_counter()
    refused = (arxiv_oai.MalformedResponse, arxiv_api.MalformedFeed)
    with pytest.raises(refused, match=r"(?i)depth|nesting|huge"):
        parsed_text(build("", "<a>" * 1000 + "</a>" * 1000), kind)
    assert time.perf_counter() - started < 1.0


def test_snapshot_files_of_garbage_never_raise(tmp_path: Path) -> None:
    """Compressed magic followed by junk is a damaged file, reported, not raised."""
    for name, data in {
        "xz.jsonl": b"\xfd7zXZ\x00" + bytes(range(256)) * 4,
        "gz.jsonl": b"\x1f\x8b\x08" + bytes(range(256)) * 4,
        "gz2.jsonl": b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\x00" * 100,
    }.items():
        path = tmp_path / name
        path.write_bytes(data)
        position = snapshot.ReadPosition()
        assert list(snapshot.read_snapshot(path, position=position)) == []
        assert any(word in str(position.damage) for word in ("damaged", "cut off"))
