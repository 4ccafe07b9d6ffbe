"""Settings: one validated object, built once by the CLI or the web app and passed down."""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from paperwire.logs import LEVELS

ENV_PREFIX = "PAPERWIRE_"
# Settings whose values are never printed (`paperwire settings`, error messages, logs).
SECRET_SETTINGS = frozenset({"secret_key", "smtp_password", "admin_token"})
HIDDEN = "********"
# libpq connection parameters that are secrets: a database URL may carry them in its query
# string (postgresql://bob@host/db?password=…) as well as before its host.
SECRET_URL_PARAMETERS = frozenset({"password", "sslpassword", "oauth_client_secret"})


_DRIVERS = ("sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg")
_ENCODE_HINT = (
    " (an @, :, / or # in the password must be percent-encoded: @ as %40, : as %3A, "
    "/ as %2F, # as %23)"
)


class Settings(BaseSettings):
    """Every setting may come from the environment (``PAPERWIRE_<NAME>``) or a TOML file.

    Build one with :meth:`load`; nothing in paperwire reads the environment elsewhere.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    data_dir: Path = Field(
        default=Path("paperwire-data"),
        description="Directory for the SQLite database, search indexes, model cache and checkpoints.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL: sqlite:///path.db or postgresql+psycopg://user@host/db. "
        "Default: sqlite in data_dir.",
    )
    oai_base_url: str = Field(
        default="https://oaipmh.arxiv.org/oai", description="arXiv OAI-PMH endpoint."
    )
    arxiv_api_url: str = Field(
        default="https://export.arxiv.org/api/query", description="arXiv query API endpoint."
    )
    hf_base_url: str = Field(
        default="https://huggingface.co", description="Hugging Face site (daily papers API)."
    )
    request_delay: float = Field(
        default=3.0,
        ge=0.0,
        description="Seconds between requests to one arXiv host (arXiv asks for >= 3; "
        "lower only for tests against a local server).",
    )
    http_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds one HTTP request may take in all, its whole body read (a "
        "server trickling bytes is cut off too).",
    )
    http_max_body_mb: float = Field(
        default=100.0,
        gt=0,
        description="Largest HTTP response body accepted, in MB after decompression (arXiv "
        "OAI-PMH pages are a few MB); a bigger one stops the request, not retried.",
    )
    http_retries: int = Field(
        default=5, ge=0, description="Retries on 503/connection errors before giving up."
    )
    max_retry_after: float = Field(
        default=600.0, ge=0, description="Longest Retry-After (seconds) honoured before failing."
    )
    retry_backoff: float = Field(
        default=2.0,
        ge=0.0,
        description="Seconds before the first retry after a connection error or a 5xx without "
        "Retry-After; doubles on each further retry (at most 60 s).",
    )
    batch_size: int = Field(default=5000, ge=1, description="Papers per ingest transaction.")
    embed_in_background: bool = Field(
        default=True,
        description="While `paperwire serve` runs, embed new and changed papers for semantic "
        "search in a background thread (one per data directory, whatever the worker count).",
    )
    recommend_warm_up: bool = Field(
        default=True,
        description="When `paperwire serve` starts, build the recommender's corpus features "
        "in a background thread (tens of seconds on 75k papers), so the first 'For you' "
        "page or digest does not wait for them.",
    )
    recommend_corpus_papers: int = Field(
        default=100_000,
        ge=0,
        description="The recommender learns from the newest N papers (whole listing days), "
        "plus each reader's library and any older window asked for, so its memory and "
        "build time stop growing with the store; 0: every paper.",
    )
    model_dir: Path | None = Field(
        default=None,
        description="Where the embedding model, prepared once from the packaged weights, is "
        "cached. Default: data_dir/models.",
    )
    index_on_ingest: bool = Field(
        default=True,
        description="Index each ingested batch for search at once. Off: faster bulk imports; "
        "run `paperwire index rebuild` afterwards.",
    )
    secret_key: str = Field(
        default="",
        description="Key for signing tokens and cookies. Empty: a random key is generated "
        "once and kept in data_dir/secret_key.",
    )
    base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Public URL of the site, used in emails and feeds. paperwire "
        "must be served at the root of that host: a reverse proxy may not add a path "
        "prefix (/paperwire/), since pages, forms and redirects use root-relative links.",
    )
    host: str = Field(default="127.0.0.1", description="Address `paperwire serve` binds.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port `paperwire serve` binds.")
    workers: int = Field(default=1, ge=1, description="Web server worker processes.")
    log_level: str = Field(
        default="info",
        description="debug | info | warning | error — the least severe log lines `paperwire "
        "serve` and the commands write to stderr (each with time, level and logger name).",
    )
    shutdown_timeout: int = Field(
        default=10,
        ge=1,
        description="Seconds `paperwire serve` lets open requests finish after SIGTERM or "
        "Ctrl-C before it closes their connections and exits (a client that never reads its "
        "responses cannot keep it running).",
    )
    smtp_host: str = Field(default="localhost", description="SMTP server for emails.")
    smtp_port: int = Field(default=25, ge=0, le=65535, description="SMTP port.")
    smtp_security: str = Field(
        default="none", description="none | starttls | ssl — how to secure the SMTP connection."
    )
    smtp_user: str | None = Field(default=None, description="SMTP login (optional).")
    smtp_password: str | None = Field(default=None, description="SMTP password (optional).")
    mail_from: str = Field(
        default="paperwire <digest@localhost>", description="From header of every email."
    )
    # -- digest (issue 5) --
    admin_token: str = Field(
        default="",
        description="Bearer token for admin JSON endpoints (/admin/digest/status); "
        "empty disables them.",
    )
    smtp_ca_file: Path | None = Field(
        default=None,
        description="PEM file of CA certificates trusted for the SMTP server's TLS "
        "certificate (starttls/ssl). Default: the system's CAs.",
    )
    smtp_timeout: float = Field(default=30.0, gt=0, description="Seconds per SMTP operation.")
    digest_max_attempts: int = Field(
        default=8,
        ge=1,
        description="Tries of one message before it is marked failed; a try counts when the "
        "server answered it with a 4xx or the connection broke while sending it. A server that "
        "cannot be reached or refuses the connection, TLS or login counts no try: `digest run` "
        "exits non-zero and the messages stay queued for the next run.",
    )
    digest_retry_base: float = Field(
        default=60.0,
        ge=0,
        description="First retry delay in seconds after a 4xx or connection error; "
        "doubles per attempt (capped at 6 h).",
    )
    digest_lease_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How long a sender owns a message it is sending; after that another "
        "run treats the send as interrupted.",
    )
    digest_resend_interrupted: bool = Field(
        default=True,
        description="After a crash between SMTP acceptance and recording it, re-send with the "
        "same Message-ID (at-least-once; receivers dedupe by Message-ID) instead of marking "
        "it failed (at-most-once).",
    )
    digest_send_workers: int = Field(
        default=4,
        ge=1,
        le=32,
        description="Parallel SMTP connections (threads) used to drain the digest outbox.",
    )
    digest_search_min_score: float = Field(
        default=0.0, ge=0, description="Lowest search score a saved-search match needs."
    )
    digest_search_min_relative: float = Field(
        default=0.25,
        ge=0,
        le=1,
        description="A saved-search match needs at least this fraction of the best hit's score.",
    )
    digest_default_max_papers: int = Field(
        default=10, ge=1, le=100, description="Papers per digest for new subscribers."
    )
    digest_scheduler: bool = Field(
        default=False,
        description="Run the digest scheduler inside `paperwire serve` (compose and send at "
        "each subscriber's local send time).",
    )
    digest_scheduler_interval: float = Field(
        default=60.0, gt=0, description="Seconds between scheduler checks."
    )

    login_link_max_age: int = Field(
        default=900, ge=1, description="Seconds an emailed login link stays valid (single use)."
    )
    session_days: int = Field(default=30, ge=1, description="Days a website login lasts.")
    library_max_bytes: int = Field(
        default=5_000_000,
        ge=1,
        description="Largest library file (BibTeX, CSL-JSON, RIS, list of ids) accepted "
        "for matching, in bytes.",
    )
    library_fetch_max: int = Field(
        default=500,
        ge=0,
        description="Most papers one library import or match fetches from the arXiv API "
        "(100 per request, 3 s apart); later unknown ids are reported as not fetched.",
    )
    max_body_bytes: int = Field(
        default=1_000_000,
        ge=1024,
        description="Largest request body the site and API accept, in bytes (a bigger one "
        "gets 413 before it is read); library file uploads have library_max_bytes instead.",
    )

    # -- scale (issue 15) --
    vector_backend: str = Field(
        default="local",
        description="local | pgvector — where semantic search looks up vectors: a vector "
        "index in data_dir (local), or the database's pgvector HNSW index (needs database_url "
        "on PostgreSQL with the vector extension), shared by every `paperwire serve` host.",
    )
    lexical_catch_up_seconds: float = Field(
        default=10.0,
        ge=0,
        description="How often a running server brings its lexical index up to date with "
        "papers other processes or hosts stored (0: only when the index is opened).",
    )

    embed_device: str = Field(
        default="auto",
        description="auto | cpu | cuda — where the embedding model runs; auto picks CUDA "
        "when onnxruntime-gpu (the [gpu] extra) and a GPU are present, else the CPU.",
    )

    @field_validator("data_dir", mode="before")
    @classmethod
    def _data_dir(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():  # Path("") would be "."
            raise ValueError("data_dir is empty: give a directory (default paperwire-data)")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        """Refused before anything is made (the data dir, a SQLite file): an unreadable URL
        or one of a database paperwire does not speak."""
        if value is None or not value.strip():
            return None  # the default: SQLite in data_dir
        try:
            url = make_url(value.strip())
        except ArgumentError:
            url = None
        except ValueError:  # never the URL: it may hold a password
            raise ValueError(f"database_url's port is not a number{_ENCODE_HINT}") from None
        if url is None or url.drivername.split("+", 1)[0] not in ("sqlite", "postgresql"):
            raise ValueError(
                "database_url must be sqlite:///path.db or postgresql+psycopg://user@host/db"
            )
        if url.drivername not in _DRIVERS:
            raise ValueError(
                f"database_url's driver {url.drivername.split('+', 1)[1]!r} is not one paperwire "
                "ships: use postgresql+psycopg://user@host/db (or sqlite:///path.db)"
            )
        if url.host and "@" in url.host:  # "user:p@ss@host": the password's @ not encoded
            raise ValueError(f"database_url holds an @ after the one before its host{_ENCODE_HINT}")
        return value.strip()

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if not value.strip():  # uvicorn took "" as every address, IPv4 and IPv6
            raise ValueError(
                "host is empty: give an address to bind, e.g. 127.0.0.1 (this machine only) "
                "or 0.0.0.0 (every interface)"
            )
        return value.strip()

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "base_url must be the site's public http(s) address, e.g. "
                "https://papers.example.org"
            )
        return value.strip()

    @field_validator("mail_from")
    @classmethod
    def _mail_from(cls, value: str) -> str:
        address = parseaddr(value)[1]
        local, _, domain = address.rpartition("@")
        if not local or not domain:
            raise ValueError(
                "mail_from must be an email address, optionally with a name: "
                "'paperwire <digest@papers.example.org>'"
            )
        return value

    @field_validator("vector_backend")
    @classmethod
    def _vector_backend(cls, value: str) -> str:
        if value not in {"local", "pgvector"}:
            raise ValueError("vector_backend must be one of: local, pgvector")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.lower() not in LEVELS:
            raise ValueError(f"log_level must be one of: {', '.join(LEVELS)}")
        return value.lower()

    @field_validator("embed_device")
    @classmethod
    def _embed_device(cls, value: str) -> str:
        if value not in {"auto", "cpu", "cuda"}:
            raise ValueError("embed_device must be one of: auto, cpu, cuda")
        return value

    @model_validator(mode="after")
    def _pgvector_needs_postgres(self) -> Settings:
        if self.vector_backend == "pgvector" and not self.resolved_database_url.startswith(
            "postgresql"
        ):
            raise ValueError(
                "vector_backend = pgvector needs database_url on PostgreSQL "
                "(postgresql+psycopg://…); SQLite keeps vectors locally"
            )
        return self

    @field_validator("smtp_security")
    @classmethod
    def _security(cls, value: str) -> str:
        if value not in {"none", "starttls", "ssl"}:
            raise ValueError("smtp_security must be one of: none, starttls, ssl")
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'paperwire.db'}"

    @property
    def resolved_model_dir(self) -> Path:
        return self.model_dir if self.model_dir is not None else self.data_dir / "models"

    @classmethod
    def load(cls, config_file: Path | None = None, **overrides: Any) -> Settings:
        """Settings from (lowest to highest precedence) defaults, a TOML file, the
        environment and explicit overrides."""
        file_values: dict[str, Any] = {}
        if config_file is not None:
            try:
                with config_file.open("rb") as handle:
                    file_values = tomllib.load(handle)
            except FileNotFoundError as exc:
                raise ValueError(f"config file not found: {config_file}") from exc
            except tomllib.TOMLDecodeError as exc:
                raise ValueError(f"config file {config_file} is not valid TOML: {exc}") from exc
            file_values = file_settings(file_values, config_file)
        try:
            env_values = cls().model_dump(exclude_unset=True)
        except ValidationError as exc:
            raise ValueError(settings_problems(exc, "env")) from None
        given = {k: v for k, v in overrides.items() if v is not None}
        merged = {**file_values, **env_values, **given}
        try:
            return cls.model_validate(merged)
        except ValidationError as exc:
            where = {
                **dict.fromkeys(file_values, f"in {config_file}"),
                **dict.fromkeys(env_values, "env"),
                **dict.fromkeys(given, "option"),
            }
            raise ValueError(settings_problems(exc, where)) from None

    def shown(self) -> dict[str, str]:
        """Every setting's value as text to print: secrets hidden, and the password in
        database_url; an unset database_url or model_dir as what is used instead."""
        values = self.model_dump()
        shown = {name: shown_value(name, values[name]) for name in type(self).model_fields}
        if self.database_url is None:
            url = shown_database_url(self.resolved_database_url)
            shown["database_url"] = f"{url} (default: SQLite in data_dir)"
        if self.model_dir is None:
            shown["model_dir"] = f"{self.resolved_model_dir} (default: data_dir/models)"
        return shown

    def shown_json(self) -> dict[str, Any]:
        """Every setting's value as JSON takes it (numbers, booleans, null), secrets and
        the password in database_url hidden as in `shown`."""
        values = self.model_dump(mode="json")
        hidden = {"database_url", *SECRET_SETTINGS}
        return {
            name: shown_value(name, value) if name in hidden and value else value
            for name, value in values.items()
        }


def file_settings(document: dict[str, Any], config_file: Path) -> dict[str, Any]:
    """The settings of a parsed TOML `document`: its top-level keys, or the keys of its
    `[paperwire]` table, never both (a key beside the table was dropped without a word).
    Any other table is refused by name: no setting takes one."""
    table = document.get("paperwire")
    if isinstance(table, dict):
        values: dict[str, Any] = table
        prefix = "paperwire."
        outside = [
            f"[{key}]" if isinstance(value, dict) else key
            for key, value in document.items()
            if key != "paperwire"
        ]
        if outside:
            raise ValueError(
                f"config file {config_file} has a [paperwire] table and also "
                f"{', '.join(outside)} outside it, which would be ignored: put every "
                "setting under [paperwire], or drop the table line and keep them all "
                "at the top level"
            )
    else:
        values, prefix = document, ""
    tables = [f"[{prefix}{key}]" for key, value in values.items() if isinstance(value, dict)]
    if tables:
        raise ValueError(
            f"config file {config_file}: unknown table {', '.join(tables)}; settings are "
            "NAME = value lines, at the top level or under one [paperwire] table"
        )
    return values


def shown_value(name: str, value: Any) -> str:
    """`value` of setting `name` as it may be printed."""
    if name in SECRET_SETTINGS and value:
        return HIDDEN
    if name == "database_url" and value:
        return shown_database_url(str(value))
    return "(not set)" if value is None else str(value)


def shown_database_url(url: str) -> str:
    """Database `url` as it may be printed (settings, error messages, logs): the password
    before its host and secret query parameters (``?password=``, ``?sslpassword=``) as
    ``***``; an unreadable URL entirely hidden (it may hold a password anywhere)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return HIDDEN
    pairs = [
        (key, "***" if key.lower() in SECRET_URL_PARAMETERS else value)
        for key, values in parsed.query.items()
        for value in ((values,) if isinstance(values, str) else values)
    ]
    shown = parsed.set(query={}).render_as_string(hide_password=True)
    return shown + (f"?{urlencode(pairs, safe='/*:')}" if pairs else "")


def _source(name: str, where: str) -> str:
    if where == "env":
        return f"{ENV_PREFIX}{name.upper()}"
    if where == "option":
        return f"--{name.replace('_', '-')}"
    return f"{name} {where}"


def settings_problems(exc: ValidationError, where: str | Mapping[str, str]) -> str:
    """One line per problem of `exc`, naming where each bad setting came from (`where`:
    "env", "option", "in FILE", or a map of setting names to those) and what to do, never
    the value given (it may be a secret)."""
    names = list(Settings.model_fields)
    lines = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        origin = where if isinstance(where, str) else where.get(name, "in the config file")
        source = _source(name, origin) if name else "settings"
        if error["type"] == "extra_forbidden":
            close = difflib.get_close_matches(name, names, n=1)
            hint = (
                f"; did you mean {close[0]!r}?" if close else " (`paperwire settings` lists them)"
            )
            lines.append(f"{source}: there is no setting {name!r}{hint}")
            continue
        message = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"{source}: {message}")
    return "; ".join(lines) or "invalid settings"


def unknown_environment(environ: Mapping[str, str] | None = None) -> list[str]:
    """Warnings for PAPERWIRE_* variables that are no setting but nearly spell one (a
    typo that would otherwise be ignored without a word)."""
    fields = {f"{ENV_PREFIX}{name.upper()}": name for name in Settings.model_fields}
    out = []
    for var in sorted(environ if environ is not None else os.environ):
        if var.startswith(ENV_PREFIX) and var not in fields:
            close = difflib.get_close_matches(var, list(fields), n=1, cutoff=0.85)
            if close:
                out.append(f"{var} is not a setting and is ignored; did you mean {close[0]}?")
    return out
