"""Several app servers on one PostgreSQL + pgvector (issue 15): two real `paperwire serve`
processes, each with its own data directory and no local vector index, share papers,
vectors and votes through the database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from conftest import DAILY_FILE, new_postgres_url
from paperwire.config import Settings
from paperwire.search.embed import model_installed
from paperwire.search.semantic import COVERAGE_TTL
from paperwire.service import Service
from paperwire.store import StoreError, open_store
from paperwire.web.auth import Auth
from test_web_serve import CSRF, free_port
from webkit import write_subset

pytestmark = pytest.mark.skipif(not model_installed(), reason="needs paperwire[semantic]")


def host_env(url: str, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PAPERWIRE_DATA_DIR": str(data_dir),
        "PAPERWIRE_DATABASE_URL": url,
        "PAPERWIRE_VECTOR_BACKEND": "pgvector",
        "PAPERWIRE_EMBED_IN_BACKGROUND": "false",
        "PAPERWIRE_LEXICAL_CATCH_UP_SECONDS": "1",
        "PAPERWIRE_SECRET_KEY": "shared-by-every-host-behind-the-balancer",
    }


def start_server(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [sys.executable, "-m", "paperwire", "serve", "--port", str(port)]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            httpx.get(url + "/api/daily_papers", timeout=5)
            return proc, url
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"serve did not start:\n{log.read_text()}") from None
            time.sleep(0.3)


@pytest.fixture
def two_hosts(postgres_server: str, tmp_path: Path) -> Iterator[list[tuple[str, dict[str, str]]]]:
    url = new_postgres_url(postgres_server)
    hosts: list[tuple[subprocess.Popen[bytes], str, dict[str, str]]] = []
    try:
        for name in ("a", "b"):
            env = host_env(url, tmp_path / f"host-{name}")
            proc, base = start_server(env, tmp_path / f"serve-{name}.log")
            hosts.append((proc, base, env))
        yield [(base, env) for _, base, env in hosts]
    finally:
        for proc, _, _ in hosts:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "paperwire", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def search(base: str, q: str, mode: str) -> dict[str, Any]:
    reply = httpx.get(base + "/api/v1/search", params={"q": q, "mode": mode}, timeout=60)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def ids_of(body: dict[str, Any]) -> list[str]:
    return [hit["paper"]["arxiv_id"] for hit in body["results"]]


def first_record(path: Path, n: int) -> dict[str, Any]:
    with path.open() as lines:
        for number, line in enumerate(lines):
            if number == n:
                record: dict[str, Any] = json.loads(line)
                return record
    raise AssertionError("subset too short")


def test_two_servers_share_papers_vectors_and_votes(
    two_hosts: list[tuple[str, dict[str, str]]], tmp_path: Path
) -> None:
    (base_a, env_a), (base_b, env_b) = two_hosts
    subset = write_subset(DAILY_FILE, tmp_path / "subset.jsonl", 40)
    for base in (base_a, base_b):  # both hosts are up and their (empty) indexes in sync
        assert search(base, "tables", "lexical")["total"] == 0
    cli(env_a, "import", str(subset))  # imported through host a (its data dir, its index)
    cli(env_a, "embed")  # vectors go to the database's pgvector column

    settings_b = Settings(
        data_dir=Path(env_b["PAPERWIRE_DATA_DIR"]), database_url=env_a["PAPERWIRE_DATABASE_URL"]
    )
    store = open_store(settings_b.resolved_database_url)
    with store.engine.connect() as conn:
        filled = conn.execute(
            sa.text("SELECT count(*) FROM embeddings WHERE embedding IS NOT NULL")
        ).scalar_one()
    store.close()
    assert filled == 40

    target = first_record(subset, 17)
    title, paper_id = target["title"], target["id"]
    sentence = " ".join(target["summary"].split()[:40])
    for base in (base_a, base_b):
        deadline = time.monotonic() + 30  # host b's lexical index catches up every second
        while paper_id not in ids_of(search(base, title, "lexical")):
            assert time.monotonic() < deadline, f"{base} never found {paper_id} by words"
            time.sleep(0.5)
    semantic = [ids_of(search(base, sentence, "semantic")) for base in (base_a, base_b)]
    assert semantic[0][0] == paper_id and semantic[0] == semantic[1]
    # every search reports coverage (the lexical ones above too), counted at most every
    # COVERAGE_TTL seconds: the other host's embeddings show within that
    deadline = time.monotonic() + COVERAGE_TTL + 30
    while True:
        hybrid = [search(base, sentence, "hybrid") for base in (base_a, base_b)]
        if all(h["semantic_coverage"] == 1.0 for h in hybrid) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert all(h["semantic_coverage"] == 1.0 and ids_of(h)[0] == paper_id for h in hybrid)
    similar = [
        httpx.get(f"{base}/api/v1/papers/{paper_id}/similar", timeout=60)
        for base in (base_a, base_b)
    ]
    assert similar[0].status_code == 200 and similar[0].json() == similar[1].json()
    for env in (env_a, env_b):  # no host keeps a vector index of its own
        vectors = Path(env["PAPERWIRE_DATA_DIR"]) / "index" / "vectors"
        assert not vectors.exists() or not any(vectors.iterdir())

    settings_a = Settings(
        data_dir=Path(env_a["PAPERWIRE_DATA_DIR"]),
        database_url=env_a["PAPERWIRE_DATABASE_URL"],
        secret_key=env_a["PAPERWIRE_SECRET_KEY"],
    )
    with Service(settings_a) as service:
        auth = Auth(settings_a, service.accounts)
        cookie = auth.start_session(service.accounts.get_or_create_user("v@example.org"))[0]
    with httpx.Client(base_url=base_a, cookies={"pw_session": cookie}, timeout=30) as client:
        token = CSRF.search(client.get("/").text).group(1)  # type: ignore[union-attr]
        voted = client.put(f"/api/v1/votes/{paper_id}", headers={"x-csrf-token": token})
        assert voted.status_code == 200, voted.text
    assert httpx.get(f"{base_b}/api/v1/papers/{paper_id}").json()["upvotes"] == 1
    assert httpx.get(f"{base_a}/api/v1/papers/{paper_id}").json()["upvotes"] == 1


def test_pgvector_backend_needs_postgresql(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs database_url on PostgreSQL"):
        Settings(data_dir=tmp_path, vector_backend="pgvector")
    with pytest.raises(ValueError, match="local, pgvector"):
        Settings(data_dir=tmp_path, vector_backend="faiss")


def test_pgvector_backend_without_the_extension_says_so(
    postgres_server: str, tmp_path: Path
) -> None:
    """A role that may not create the extension: the migration leaves the column out, local
    vectors keep working, and vector_backend = pgvector refuses to start with the reason."""
    admin = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("DROP DATABASE IF EXISTS pw_no_vector"))
        conn.execute(sa.text("DROP ROLE IF EXISTS pw_plain"))
        conn.execute(sa.text("CREATE ROLE pw_plain LOGIN"))
        conn.execute(sa.text("CREATE DATABASE pw_no_vector OWNER pw_plain"))
    admin.dispose()
    url = postgres_server.replace("postgres:@", "pw_plain:@", 1).replace(
        "/postgres?", "/pw_no_vector?", 1
    )
    store = open_store(url)  # migrates as pw_plain: CREATE EXTENSION is refused, skipped
    try:
        with store.engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("embeddings")}
        assert "embedding" not in columns and "vector" in columns
    finally:
        store.close()
    with pytest.raises(StoreError, match="no usable pgvector extension"):
        Service(Settings(data_dir=tmp_path, database_url=url,
                         vector_backend="pgvector"))  # fmt: skip
