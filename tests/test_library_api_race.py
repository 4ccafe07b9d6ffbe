"""PUT of a collection item through a real running server, on SQLite and PostgreSQL, while
DELETEs of the same item run at the same time: every PUT answers 200 with the item."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest

from paperwire.config import Settings
from paperwire.service import Service
from webkit import Live, listed_paper, live_server, signed_in

DAY = date(2025, 6, 2)


@pytest.fixture
def live(settings: Settings) -> Iterator[Live]:
    with Service(settings) as service:
        service.store.upsert_papers([listed_paper(1, "Racing notes", ["Ann Lee"], DAY, "Text.")])
    with live_server(settings) as running:
        yield running


def test_put_item_is_idempotent_while_the_item_is_deleted(live: Live) -> None:
    client, csrf, _ = signed_in(live, "race@example.org")
    headers = {"x-csrf-token": csrf}
    made = client.post("/api/v1/collections", json={"name": "Race"}, headers=headers)
    path = f"/api/v1/collections/{made.json()['id']}/items/2506.00001"

    def put(_: int) -> tuple[int, str | None]:
        answer = client.put(path, json={"note": "x"}, headers=headers)
        return answer.status_code, answer.json().get("note")

    def delete(_: int) -> int:
        return client.delete(path, headers=headers).status_code

    with ThreadPoolExecutor(8) as pool:
        deletes = [pool.submit(delete, i) for i in range(150)]
        puts = Counter(pool.map(put, range(150)))
    assert puts == Counter({(200, "x"): 150})
    assert {d.result() for d in deletes} <= {204, 404}
