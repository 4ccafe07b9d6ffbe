"""`paperwire settings` and settings errors through the real CLI process: secrets never
printed (values, error messages), each problem named with where it came from and what
to do, typos of setting names caught, descriptions shown as written."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SECRETS = {
    "PAPERWIRE_ADMIN_TOKEN": "admintok999",
    "PAPERWIRE_SMTP_PASSWORD": "smtppass888",
    "PAPERWIRE_SECRET_KEY": "sitekey777",
}


def paperwire(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PAPERWIRE_")}
    return subprocess.run(
        [sys.executable, "-m", "paperwire", *args],
        capture_output=True,
        text=True,
        env={**clean, "COLUMNS": "400", **(env or {})},
        check=False,
    )


def test_settings_hide_every_secret(tmp_path: Path) -> None:
    url = "postgresql+psycopg://reader:dbpass666@127.0.0.1:5432/papers"
    env = {**SECRETS, "PAPERWIRE_DATA_DIR": str(tmp_path), "PAPERWIRE_DATABASE_URL": url}
    shown = paperwire("settings", env=env)
    assert shown.returncode == 0, shown.stderr
    for secret in [*SECRETS.values(), "dbpass666"]:
        assert secret not in shown.stdout
    assert "postgresql+psycopg://reader:***@127.0.0.1:5432/papers" in shown.stdout
    assert shown.stdout.count("********") == len(SECRETS)
    # a description is printed as written: "[gpu]" is text, not a style tag
    assert "(the [gpu] extra)" in shown.stdout


def test_a_password_in_the_database_urls_query_is_never_printed(tmp_path: Path) -> None:
    """`?password=` (and libpq's ?sslpassword=) were printed in clear by `paperwire
    settings` and in "cannot open database …" errors of every command."""
    url = "postgresql+psycopg://bob@127.0.0.1:5/db?password=QPASS777&sslpassword=SSLPW555"
    env = {"PAPERWIRE_DATA_DIR": str(tmp_path), "PAPERWIRE_DATABASE_URL": url}
    shown = paperwire("settings", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "QPASS777" not in shown.stdout and "SSLPW555" not in shown.stdout
    assert "postgresql+psycopg://bob@127.0.0.1:5/db?password=***&sslpassword=***" in shown.stdout
    stats = paperwire("stats", env=env)
    assert stats.returncode == 1 and "cannot open database" in stats.stderr, stats.stderr
    assert "QPASS777" not in stats.stderr + stats.stdout
    assert "SSLPW555" not in stats.stderr + stats.stdout


def test_settings_errors_name_the_source_and_never_the_value(tmp_path: Path) -> None:
    config = tmp_path / "pw.toml"
    config.write_text("smtp_password = 98765432\nsmtp_prot = 3\n")
    result = paperwire("--config", str(config), "stats", env={"PAPERWIRE_DATA_DIR": str(tmp_path)})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "98765432" not in result.stderr
    assert f"smtp_password in {config}: Input should be a valid string" in result.stderr
    assert "there is no setting 'smtp_prot'; did you mean 'smtp_port'?" in result.stderr
    env = paperwire("stats", env={"PAPERWIRE_PORT": "abc", "PAPERWIRE_DATA_DIR": str(tmp_path)})
    assert env.returncode == 1 and "PAPERWIRE_PORT: Input should be a valid integer" in env.stderr
    option = paperwire(
        "--database-url", "sqlite:///x.db", "stats", env={"PAPERWIRE_BATCH_SIZE": "0"}
    )
    assert option.returncode == 1 and "PAPERWIRE_BATCH_SIZE:" in option.stderr


def test_a_mistyped_setting_variable_is_pointed_out(tmp_path: Path) -> None:
    env = {"PAPERWIRE_SMTP_PASWORD": "x", "PAPERWIRE_DATA_DIR": str(tmp_path)}
    result = paperwire("stats", env=env)
    assert result.returncode == 0, result.stderr
    assert (
        "warning: PAPERWIRE_SMTP_PASWORD is not a setting and is ignored; "
        "did you mean PAPERWIRE_SMTP_PASSWORD?"
    ) in result.stderr
    far = paperwire("stats", env={"PAPERWIRE_SHARED": "/x", "PAPERWIRE_DATA_DIR": str(tmp_path)})
    assert "warning" not in far.stderr  # not a near miss: other tools' variables stay quiet


LOG_PROBE = """
import logging, sys
from paperwire.cli import cli
try:
    cli(["--data-dir", sys.argv[1], "settings"])
except SystemExit:
    pass
logging.getLogger("paperwire.probe").info("info line")
logging.getLogger("paperwire.probe").warning("warning line")
"""


@pytest.mark.parametrize(("level", "shown"), [("info", 2), ("warning", 1)])
def test_commands_configure_paperwire_logging(tmp_path: Path, level: str, shown: int) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PAPERWIRE_")}
    done = subprocess.run(
        [sys.executable, "-c", LOG_PROBE, str(tmp_path / "data")],
        capture_output=True,
        text=True,
        env={**clean, "PAPERWIRE_LOG_LEVEL": level},
        check=True,
    )
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"
    lines = re.findall(rf"^{stamp} (INFO|WARNING) paperwire.probe: (\w+) line$", done.stderr, re.M)
    assert len(lines) == shown, done.stderr
    assert ("WARNING", "warning") in lines


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("PAPERWIRE_HOST", "", "host is empty: give an address to bind"),
        ("PAPERWIRE_DATA_DIR", " ", "data_dir is empty"),
        ("PAPERWIRE_BASE_URL", "not a url", "base_url must be the site's public http(s)"),
        ("PAPERWIRE_MAIL_FROM", "not an address", "mail_from must be an email address"),
    ],
)
def test_settings_that_cannot_work_are_refused(
    tmp_path: Path, variable: str, value: str, said: str
) -> None:
    """These passed before: an empty host bound every address ("serving on http://:8000/"),
    an empty data_dir became ".", and a base_url or mail_from that is none made broken
    links and From headers in every email."""
    env = {"PAPERWIRE_DATA_DIR": str(tmp_path), variable: value}
    result = paperwire("settings", env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{variable}: {said}" in " ".join(result.stderr.split())


def test_a_short_sign_in_link_says_seconds() -> None:
    from paperwire.config import Settings
    from paperwire.web.auth import login_message

    def text(seconds: int) -> str:
        message = login_message(Settings(login_link_max_age=seconds), "a@example.org", "L")
        return str(message.get_payload(decode=True), "utf-8")

    assert "valid for 3 seconds," in text(3) and "valid for 1 second," in text(1)
    assert "valid for 15 minutes," in text(900)


def test_a_config_file_is_top_level_keys_or_one_paperwire_table(tmp_path: Path) -> None:
    """A [paperwire] table made every top-level key vanish without a word (data_dir stayed
    the default), and any other table was dropped beside it."""
    from paperwire.config import Settings

    config = tmp_path / "pw.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n[paperwire]\nport = 18503\n')
    both = paperwire("--config", str(config), "settings")
    assert both.returncode == 1 and "Traceback" not in both.stderr
    said = " ".join(both.stderr.split())
    assert f"config file {config} has a [paperwire] table and also data_dir outside it" in said
    for text, refused in [
        ("[paperwire]\nport = 18503\n[other]\na = 1\n", "also [other] outside it"),
        ("[foo]\nport = 1\n", "unknown table [foo]"),
        ("[paperwire]\nport = 1\n[paperwire.x]\na = 1\n", "unknown table [paperwire.x]"),
    ]:
        config.write_text(text)
        with pytest.raises(ValueError, match=re.escape(refused)):
            Settings.load(config)
    config.write_text(f'[paperwire]\nport = 18503\ndata_dir = "{tmp_path}"\n')
    assert Settings.load(config).data_dir == tmp_path
    config.write_text(f'port = 18503\ndata_dir = "{tmp_path}"\n')
    assert Settings.load(config).port == 18503


def test_settings_print_every_value_whole_piped_on_a_narrow_terminal_and_as_json(
    tmp_path: Path,
) -> None:
    """Piped or at 80 columns the table cut values with "…" (`oai_base_url` showed
    `https://oaipmh.arxiv.or…`)."""
    from paperwire.config import Settings

    url = "postgresql+psycopg://reader:dbpass666@127.0.0.1:5432/papers"
    env = {**SECRETS, "PAPERWIRE_DATA_DIR": str(tmp_path), "PAPERWIRE_DATABASE_URL": url}
    env["PAPERWIRE_OAI_BASE_URL"] = "https://oai.example.org/a/long/path/to/the/oai-pmh/endpoint"
    piped = paperwire("settings", env={**env, "COLUMNS": "80"})
    assert piped.returncode == 0, piped.stderr
    lines = piped.stdout.splitlines()
    assert len(lines) == len(Settings.model_fields) and "…" not in piped.stdout
    for line, (name, field) in zip(lines, Settings.model_fields.items(), strict=True):
        assert line.startswith(f"{name} = ") and line.endswith(f"  # {field.description}")
    assert f"oai_base_url = {env['PAPERWIRE_OAI_BASE_URL']}  # " in piped.stdout
    assert "database_url = postgresql+psycopg://reader:***@127.0.0.1:5432/papers  # " in lines[1]
    terminal = paperwire("settings", env={**env, "COLUMNS": "80", "FORCE_COLOR": "1"})
    plain = re.sub(r"\x1b\[[0-9;]*m", "", terminal.stdout)
    assert "┃ name" in plain and "…" not in plain
    assert all(len(line) <= 80 for line in plain.splitlines())
    folded = "".join(line.split("│")[2].strip() for line in plain.splitlines() if "│" in line)
    assert "https://oai.example.org/a/long/path/to/the/oai-pmh/endpoint" in folded
    as_json = paperwire("settings", "--json", env=env)
    values = json.loads(as_json.stdout)
    assert values["database_url"] == "postgresql+psycopg://reader:***@127.0.0.1:5432/papers"
    assert all(values[k[10:].lower()] == "********" for k in SECRETS)
    assert values["port"] == 8000 and values["embed_in_background"] is True
    assert values["smtp_user"] is None and list(values) == list(Settings.model_fields)


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("postgresql+psycopg://u:pw5551@127.0.0.1:notaport/db", "port is not a number"),
        ("postgresql+psycopg://u:pw5551@1@127.0.0.1:5432/db", "must be percent-encoded: @ as %40"),
        ("postgresql+psycopg2://u:pw5551@127.0.0.1/db", "use postgresql+psycopg://"),
        ("postgresql+asyncpg://u:pw5551@127.0.0.1/db", "use postgresql+psycopg://"),
        ("postgresql+psycopg://u:pw5551@127.0.0.1:1/db?foo=bar", 'invalid connection option "foo"'),
    ],
)
def test_a_misconfigured_database_url_is_one_line_without_the_password(
    tmp_path: Path, url: str, said: str
) -> None:
    """A port that is no number (or a password's unencoded @ that makes one) gave a
    ValueError traceback, +psycopg2/+asyncpg a ModuleNotFoundError one, or leaked the
    part of the password after the @ as the host."""
    result = paperwire("stats", env={"PAPERWIRE_DATA_DIR": str(tmp_path / "d"),
                                     "PAPERWIRE_DATABASE_URL": url})  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert said in " ".join(result.stderr.split()), result.stderr
    assert "pw5551" not in result.stderr and "5551" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    if "?" not in url:  # refused by the settings check, before anything is made
        assert not (tmp_path / "d").exists()


def test_a_role_without_privileges_is_told_which_grant_is_missing(
    postgres_server: str, tmp_path: Path
) -> None:
    """A role that may not read paperwire's tables: a ProgrammingError (InsufficientPrivilege)
    traceback, opening the store or in the middle of a command."""
    import sqlalchemy as sa

    from conftest import new_postgres_url
    from paperwire.store import open_store

    owner_url = new_postgres_url(postgres_server)
    open_store(owner_url).close()  # migrated by its owner
    admin = sa.create_engine(owner_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("DROP ROLE IF EXISTS pw_reader"))
        conn.execute(sa.text("CREATE ROLE pw_reader LOGIN"))
    url = owner_url.replace("postgres:@", "pw_reader:@", 1)
    env = {"PAPERWIRE_DATA_DIR": str(tmp_path / "d"), "PAPERWIRE_DATABASE_URL": url}
    opening = paperwire("stats", env=env)
    assert opening.returncode == 1 and "Traceback" not in opening.stderr, opening.stderr
    said = " ".join(opening.stderr.split())
    assert "missing grant GRANT SELECT ON TABLE alembic_version TO pw_reader" in said, said
    with admin.connect() as conn:  # it may read the schema version, nothing else
        conn.execute(sa.text("GRANT SELECT ON alembic_version TO pw_reader"))
    admin.dispose()
    midway = paperwire("stats", env=env)
    assert midway.returncode == 1 and "Traceback" not in midway.stderr, midway.stderr
    said = " ".join(midway.stderr.split())
    assert "permission denied for table" in said and "missing grant GRANT SELECT ON TABLE" in said
    assert len(midway.stderr.strip().splitlines()) == 1, midway.stderr


def test_settings_show_what_an_unset_path_setting_stands_for(tmp_path: Path) -> None:
    """Unset, database_url and model_dir were shown as "None", though paperwire uses a
    SQLite file and a folder under data_dir; an unset optional setting said "None" too."""
    shown = paperwire("settings", env={"PAPERWIRE_DATA_DIR": str(tmp_path)})
    assert shown.returncode == 0, shown.stderr
    values = dict(line.split("  # ", 1)[0].split(" = ", 1) for line in shown.stdout.splitlines())
    db = tmp_path / "paperwire.db"
    assert values["database_url"] == f"sqlite:///{db} (default: SQLite in data_dir)"
    assert values["model_dir"] == f"{tmp_path / 'models'} (default: data_dir/models)"
    assert values["smtp_user"] == values["smtp_ca_file"] == "(not set)"
    assert "None" not in values.values()
    as_json = json.loads(
        paperwire("settings", "--json", env={"PAPERWIRE_DATA_DIR": str(tmp_path)}).stdout
    )
    assert as_json["database_url"] is None and as_json["model_dir"] is None  # what was given
