"""Fuzz targets for the source parsers, shared by tests/test_parsers_fuzz.py (bounded, in
the suite) and benchmarks/fuzz_parsers.py (long runs with figures).

A target takes bytes and must end in one of two ways: a result whose every record is a
valid Paper or a Rejected with a reason, or one of the parser's documented rejections
(an exception class with a message). Anything else, or taking longer than HANG_SECONDS,
is a failure.
"""

from __future__ import annotations

import json
import lzma
import random
import tempfile
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import orjson

from paperwire.models import InvalidRecord, Paper, Rejected, split_arxiv_id
from paperwire.sources import arxiv_api, arxiv_oai, hf_daily, snapshot

SHARED_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "data" / "fixtures"
LOCAL_DATA = Path(__file__).parent / "data"
HANG_SECONDS = 2.0  # one input may take this long at most

Rejection = tuple[type[BaseException], ...]


@dataclass(frozen=True)
class Target:
    name: str
    parse: Callable[[bytes], Iterable[Paper | Rejected]]
    rejections: Rejection  # exceptions that are a reasoned refusal of the whole input
    seeds: tuple[bytes, ...]


def check_items(items: Iterable[Paper | Rejected]) -> int:
    """Every item is a valid Paper or a Rejected with a reason; returns how many."""
    count = 0
    for item in items:
        count += 1
        if isinstance(item, Rejected):
            assert item.reason.strip(), f"rejected without a reason: {item!r}"
            continue
        assert isinstance(item, Paper), f"neither Paper nor Rejected: {item!r}"
        assert split_arxiv_id(item.arxiv_id) == (item.arxiv_id, None)
        if not item.deleted:
            item.validate()
    return count


def _xml_strings(value: object) -> Iterable[bytes]:
    """XML documents anywhere inside a recorded exchange (JSON)."""
    if isinstance(value, str) and value.lstrip().startswith("<"):
        yield value.encode()
    elif isinstance(value, dict):
        for item in value.values():
            yield from _xml_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _xml_strings(item)


def _recorded_bodies(folder: Path, suffix: str) -> list[bytes]:
    bodies = [p.read_bytes() for p in sorted(folder.glob(f"*{suffix}"))]
    for path in sorted(folder.glob("*.json")):
        bodies.extend(_xml_strings(orjson.loads(path.read_bytes())))
    return bodies


def _oai(body: bytes) -> list[Paper | Rejected]:
    return arxiv_oai.parse_list_records(body).items


def _atom(body: bytes) -> list[Paper | Rejected]:
    return arxiv_api.parse_feed(body).items


def _snapshot_line(body: bytes) -> list[Paper | Rejected]:
    return [snapshot.parse_snapshot_line(body)]


def _snapshot_file(body: bytes) -> list[Paper | Rejected]:
    """A whole file of these bytes through read_snapshot: never raises, damage is noted."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.jsonl"
        path.write_bytes(body)
        position = snapshot.ReadPosition()
        items = [item for _, item in snapshot.read_snapshot(path, position=position)]
        assert position.damage is None or position.damage.strip()
        return items


def _seed_lines() -> list[bytes]:
    from tests.conftest import DAILY_FILE, KAGGLE_FILE

    lines = KAGGLE_FILE.read_bytes().splitlines()[:20]
    with lzma.open(DAILY_FILE) as handle:
        lines += [handle.readline().rstrip(b"\n") for _ in range(20)]
    return lines


def targets() -> dict[str, Target]:
    oai_seeds = _recorded_bodies(SHARED_FIXTURES / "arxiv_oai_pmh", ".xml")
    oai_seeds += _recorded_bodies(SHARED_FIXTURES / "arxiv_oai_pmh" / "paperhive_body_xml", ".xml")
    oai_seeds += [p.read_bytes() for p in sorted(LOCAL_DATA.glob("oai_*.xml"))]
    atom_seeds = _recorded_bodies(SHARED_FIXTURES / "arxiv_api_atom" / "body_xml", ".xml")
    hf_seeds = [p.read_bytes() for p in sorted(LOCAL_DATA.glob("hf_daily_*.json"))]
    lines = _seed_lines()
    files = [b"\n".join(lines[:8]), lzma.compress(b"\n".join(lines[20:28]))]
    oai_errors = (arxiv_oai.MalformedResponse, arxiv_oai.OaiError)
    atom_errors = (arxiv_api.MalformedFeed, arxiv_api.ArxivApiError)
    return {
        t.name: t
        for t in (
            Target("oai", _oai, oai_errors, tuple(oai_seeds)),
            Target("atom", _atom, atom_errors, tuple(atom_seeds)),
            Target(
                "hf", hf_daily.parse_daily_papers, (hf_daily.MalformedDailyPapers,), tuple(hf_seeds)
            ),
            Target("snapshot_line", _snapshot_line, (InvalidRecord,), tuple(lines)),
            Target("snapshot_file", _snapshot_file, (), tuple(files)),
        )
    }


# Fragments that have broken parsers before: markup, entities, DTDs, numbers, encodings.
TOKENS = [
    b"<",
    b">",
    b"</",
    b"&amp;",
    b"&lol;",
    b"<![CDATA[",
    b"]]>",
    b'<!DOCTYPE r [<!ENTITY e "x">]>',
    b'<!DOCTYPE r SYSTEM "file:///etc/passwd">',
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b'"',
    b"{",
    b"}",
    b"[",
    b"]",
    b"null",
    b"-1",
    b"1e309",
    b"99999999999999999999999",
    b"\xc2\xb2",  # a superscript digit: str.isdigit() but not int()
    b"\xd9\xa3",  # an Arabic-Indic digit
    b'"versions": [1]',
    b'"authors_parsed": [[1, 2]]',
    b'"title": 5',
    b'"categories": 7',
    b'"paper": {"id": []}',
    b'completeListSize="\xc2\xb2"',
    b"oai:arXiv.org:2401.00001",
    b"<OAI-PMH xmlns='http://www.openarchives.org/OAI/2.0/'>",
    b"\xfd7zXZ\x00",
    b"\x1f\x8b\x08",
]


def mutate(seed: bytes, rng: random.Random, steps: int) -> bytes:
    """A few random edits of `seed`: flip, delete, duplicate, splice in a token, truncate."""
    data = bytearray(seed)
    for _ in range(steps):
        where = rng.randrange(len(data) + 1)
        kind = rng.randrange(6)
        if kind == 0 and data:
            data[min(where, len(data) - 1)] ^= 1 << rng.randrange(8)
        elif kind == 1:
            del data[where : where + rng.randrange(1, 64)]
        elif kind == 2:
            piece = data[where : where + rng.randrange(1, 256)]
            data[where:where] = piece * rng.randrange(1, 4)
        elif kind == 3:
            data[where:where] = rng.choice(TOKENS)
        elif kind == 4:
            del data[where:]
        else:
            data[where:where] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))
    return bytes(data)


ODD_VALUES: list[object] = [
    None, True, 0, -1, 2**70, 1.5, 1e308, "", " ", "x" * 3000, "²", "v", "v99999999999999999999",
    "2401.00001", "Thu, 99 Xyz 99999 99:99:99 GMT", [], [1], [[1, 2]], [None], {}, {"a": 1},
]  # fmt: skip


def _json_nodes(value: object, path: tuple[object, ...] = ()) -> Iterable[tuple[object, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _json_nodes(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:20]):
            yield from _json_nodes(item, (*path, index))


def _replace(value: object, path: tuple[object, ...], new: object) -> object:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {k: (_replace(v, rest, new) if k == head else v) for k, v in value.items()}
    assert isinstance(value, list) and isinstance(head, int)
    return [_replace(v, rest, new) if i == head else v for i, v in enumerate(value)]


def mutate_json(seed: bytes, rng: random.Random, steps: int) -> bytes:
    """Well-formed JSON with some values swapped for values of the wrong type or range,
    or with keys dropped: what a changed upstream API or a hand-edited file looks like."""
    try:
        value: object = orjson.loads(seed)
    except orjson.JSONDecodeError:
        return mutate(seed, rng, steps)
    for _ in range(steps):
        path = rng.choice(list(_json_nodes(value)))
        value = _replace(value, path, rng.choice(ODD_VALUES))
    return json.dumps(value).encode()  # (orjson refuses integers past 64 bits)


def run_one(target: Target, data: bytes) -> str | None:
    """None when `data` parsed or was refused with a reason; else what went wrong."""
    try:
        check_items(target.parse(data))
    except target.rejections as exc:
        if not str(exc).strip():
            return f"{type(exc).__name__} without a message"
    except AssertionError as exc:
        return f"bad result: {exc}"
    except Exception as exc:  # the failures this harness exists to find
        return f"{type(exc).__name__} at {_where(exc)}: {exc}"[:300]
    return None


def _where(exc: BaseException) -> str:
    """file:line of the innermost frame in paperwire's code (the place to fix)."""
    place = "?"
    for frame in traceback.extract_tb(exc.__traceback__):
        if "paperwire" in frame.filename:
            place = f"{Path(frame.filename).name}:{frame.lineno}"
    return place


def signature(failure: str) -> str:
    """A failure without its input-specific message: one line per distinct bug."""
    return failure.split(": ", 1)[0]
