"""Values that do not fit PostgreSQL's columns, on SQLite and PostgreSQL alike: a record
with an over-long DOI, license or category is a rejected record and the rest of its batch
is stored (PostgreSQL refused the whole batch, on every re-run); an id holding NUL finds
no paper (PostgreSQL refused the query: a 500 from /papers/x%00y); names whose stored key
outgrows its column (casefold, accent folding) are refused with a reason (a 500 before)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from paperwire.config import Settings
from paperwire.library import LibraryError
from paperwire.models import Paper, Rejected
from paperwire.service import Service
from paperwire.sources import hf_daily
from tests.conftest import KAGGLE_FILE
from webkit import Live, live_server, signed_in


def _records() -> list[dict[str, object]]:
    with KAGGLE_FILE.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def test_over_long_fields_reject_their_record_and_nothing_else(
    settings: Settings, tmp_path: Path
) -> None:
    records = _records()
    records[1]["doi"] = "10.1000/" + "x" * 300
    records[2]["license"] = "http://example.org/" + "l" * 300
    records[3]["categories"] = "averyveryveryverylongarchivename.x cs.CL"  # dropped: no class
    records[4]["categories"] = "a" * 40  # nothing left but an over-long 'class'
    records[5]["versions"] = [
        {"version": "v" + "9" * 12, "created": "Mon, 2 Apr 2007 19:18:42 GMT"}
    ]
    path = tmp_path / "long.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    with Service(settings) as service:
        report = service.import_snapshot(path)
        reasons = [r.reason for r in service.rejects()]
        third = service.store.get_paper(str(records[3]["id"]))
        fourth = service.store.get_paper(str(records[4]["id"]))
    assert report.new == len(records) - 3 and report.rejected == 3
    assert sorted(reasons)[:2] == [
        f"{records[1]['id']}: doi is 308 characters, at most 256",
        f"{records[2]['id']}: license is 319 characters, at most 256",
    ]
    assert "version" in sorted(reasons)[2]
    assert third is not None and third.categories == ["cs.CL"]
    assert fourth is not None and fourth.categories == []


def _unchanged() -> list[object]:
    body = (Path(__file__).parent / "data" / "hf_daily_2024-01-16.json").read_bytes()
    return list(hf_daily.parse_daily_papers(body))


def test_counts_past_an_integer_column_reject_their_item() -> None:
    """Hugging Face upvotes past 64 bits stopped the whole day's merge in encode_paper
    (orjson), and past 31 bits PostgreSQL's integer column refused the batch."""
    items = json.loads((Path(__file__).parent / "data" / "hf_daily_2024-01-16.json").read_text())
    items[0]["paper"]["upvotes"] = 2**70
    items[1]["paper"]["upvotes"] = 2**31
    parsed = hf_daily.parse_daily_papers(json.dumps(items).encode())
    rejected = [item.reason for item in parsed if isinstance(item, Rejected)]
    upvotes = [r for r in rejected if "upvotes" in r]
    assert len(upvotes) == 2 and all("is not 0 to 2,147,483,647" in r for r in upvotes)
    papers = sum(isinstance(item, Paper) for item in parsed)
    assert papers == sum(isinstance(item, Paper) for item in _unchanged()) - 2


@pytest.fixture
def live(settings: Settings) -> Iterator[Live]:
    with Service(settings) as service:
        service.import_snapshot(KAGGLE_FILE)
    with live_server(settings) as running:
        yield running


def test_ids_holding_nul_find_no_paper(live: Live) -> None:
    assert live.service.store.get_papers(["0704.0001", "07\x0004.0001"]).keys() == {"0704.0001"}
    client, csrf, _ = signed_in(live, "nul@example.org")
    try:
        for path in (
            "/papers/x%00y",
            "/papers/x%00y.bib",
            "/api/papers/x%00y",
            "/api/v1/papers/x%00y",
            "/api/v1/papers/x%00y/similar",
        ):
            assert client.get(path).status_code == 404, path
        vote = client.put("/api/v1/votes/0704%00.0001", headers={"x-csrf-token": csrf})
        assert vote.status_code == 404
        assert client.get("/papers/0704.0001").status_code == 200
    finally:
        client.close()


def test_names_whose_keys_outgrow_their_column_are_refused(live: Live) -> None:
    library = live.service.library
    user = live.service.accounts.get_or_create_user("keys@example.org")
    with pytest.raises(LibraryError, match="making 112 of the 100 allowed"):
        library.create_collection(user.id, "Straße" * 16)  # 96 characters, keyed as 112
    with pytest.raises(LibraryError, match="making 360 of the 200 allowed"):
        library.follow(user.id, "Ａ" * 60 + "ﬃ" * 100)  # 160 characters, keyed as 360
    assert library.create_collection(user.id, "Straße" * 8).name == "Straße" * 8
    token, _ = library.create_token(user.id, "ß" * 90)  # not keyed: 90 characters fit
    assert token.name == "ß" * 90
    client, csrf, _ = signed_in(live, "keys@example.org")
    made = client.post(
        "/api/v1/collections", json={"name": "Straße" * 16}, headers={"x-csrf-token": csrf}
    )
    client.close()
    assert made.status_code == 400 and "96 characters" in made.json()["error"]
    assert httpx.get(f"{live.url}/").status_code == 200


def test_length_messages_state_the_real_limits_in_the_readers_terms(live: Live) -> None:
    """QA: 60 x "ﬃ" was refused as "longer than 100 characters"; a 201-character name got
    "at most 200 characters" (the limit is 100) and a 20,001-character note "at most 20000"
    (the limit is 5,000); a rename to a name in use was headed "Something went wrong"."""
    client, csrf, user_id = signed_in(live, "limits@example.org", "/library")
    try:
        wide = client.post("/library/new", data={"name": "ﬃ" * 60, "csrf_token": csrf})
        assert wide.status_code == 400
        assert "it has 60 characters" in wide.text and "making 180 of the 100 allowed" in wide.text
        long = client.post("/library/new", data={"name": "n" * 201, "csrf_token": csrf})
        assert long.status_code == 400 and "is 201 characters; the limit is 100" in long.text
        live.service.add_to_collection(user_id, "Saved", ["0704.0001"])
        saved = live.service.library.collections(user_id)[0]
        note = client.post(
            f"/library/{saved.id}/note",
            data={"arxiv_id": "0704.0001", "note": "x" * 20_001, "csrf_token": csrf},
        )
        assert note.status_code == 400 and "at most 5000 characters" in note.text
        assert "20000" not in note.text
        other = live.service.library.create_collection(user_id, "Other")
        clash = client.post(
            f"/library/{other.id}/rename", data={"name": "saved", "csrf_token": csrf}
        )
        assert clash.status_code == 409 and "That is already taken" in clash.text
        assert "Something went wrong" not in clash.text
        assert "you already have a collection called" in clash.text
    finally:
        client.close()
