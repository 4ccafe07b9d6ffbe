"""Property-based API fuzzing with schemathesis over our OpenAPI document, against a real
running server: whatever it sends, the API answers without a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from paperwire.config import Settings
from paperwire.service import Service
from webkit import Live, live_server


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, web_subset: Path) -> Iterator[Live]:
    data = tmp_path_factory.mktemp("fuzz")
    cfg = Settings(data_dir=data, database_url=f"sqlite:///{data / 'pw.db'}")
    with Service(cfg) as service:
        service.import_snapshot(web_subset)
    with live_server(cfg) as running:
        yield running


def test_api_never_answers_5xx(live: Live) -> None:
    """Every operation, a dozen generated requests each (deterministic), no 5xx answers."""
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9
    seen: list[int] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=12,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def call(case: Any) -> None:
            response = case.call()
            seen.append(response.status_code)
            assert response.status_code < 500, (case.method, case.formatted_path, case.query)

        call()
    assert len(seen) >= 5 * len(operations)
    assert {200, 400} <= set(seen)  # valid and invalid requests were both generated
