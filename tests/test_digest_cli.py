"""`paperwire subscribers …` and `paperwire digest …` through the real CLI."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import DAILY_FILE
from digest_support import SmtpServer, daily_subset, free_port
from paperwire.cli import cli
from paperwire.config import Settings


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def test_subscribers_and_digest_commands(
    settings: Settings, smtp: SmtpServer, tmp_path: Path
) -> None:
    runner = CliRunner(
        env={
            "PAPERWIRE_SMTP_HOST": "127.0.0.1",
            "PAPERWIRE_SMTP_PORT": str(smtp.port),
            "PAPERWIRE_SECRET_KEY": "cli-key",
        }
    )
    base = ["--data-dir", str(settings.data_dir), "--database-url", settings.resolved_database_url]

    def run(*args: str) -> str:
        result = runner.invoke(cli, [*base, *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    run("import", str(daily_subset(DAILY_FILE, tmp_path / "subset.jsonl", 600)))
    run("subscribers", "add", "a@example.com", "--category", "cs.LG", "--max-papers", "3")
    run(
        "subscribers",
        "add",
        "b@example.com",
        "--frequency",
        "weekly",
        "--weekday",
        "3",
        "--timezone",
        "Asia/Tokyo",
    )
    bad = runner.invoke(
        cli, [*base, "subscribers", "add", "c@example.com", "--timezone", "Mars/Base"]
    )
    assert bad.exit_code != 0 and "IANA" in bad.output
    for spelling in ("(x)a@example.com", "g:a@example.com;", "A <a@example.com>"):
        refused = runner.invoke(cli, [*base, "subscribers", "add", spelling])
        assert refused.exit_code != 0 and "not an email address" in refused.output
    listed = json.loads(run("subscribers", "list", "--json"))
    assert [(s["email"], s["status"], s["frequency"]) for s in listed] == [
        ("a@example.com", "active", "daily"),
        ("b@example.com", "active", "weekly"),
    ]
    dry = run("digest", "run", "--date", "2025-03-20", "--dry-run")  # a Thursday
    assert re.search(
        r"a@example.com\s+daily:2025-03-20\s+composed\s+3 papers\s+listed\s+2025-03-19..2025-03-20",
        dry,
    )
    assert re.search(r"b@example.com\s+weekly:2025-03-20\s+composed", dry)
    assert smtp.handler.received == []
    assert "composed" in run("digest", "run", "--date", "2025-03-20")
    assert len(smtp.handler.received) == 2
    status = json.loads(run("digest", "status", "--json"))
    assert status["counts"] == {"sent": 2}
    run("digest", "run", "--date", "2025-03-20")
    assert len(smtp.handler.received) == 2  # idempotent
    assert "removed" in run("subscribers", "remove", "b@example.com")
    gone = runner.invoke(cli, [*base, "subscribers", "remove", "b@example.com"])
    assert gone.exit_code != 0 and "no subscriber" in gone.output
    assert "sent" in run("digest", "status")


def test_a_subscriber_is_removed_by_any_spelling_add_takes(settings: Settings) -> None:
    """`add 'x@bücher.de'` stored x@xn--bcher-kva.de, and `remove 'x@bücher.de'` said
    "no subscriber": remove looked the raw spelling up."""
    base = ["--data-dir", str(settings.data_dir), "--database-url", settings.resolved_database_url]
    runner = CliRunner()
    for spelling in ("x@bücher.de", " Ada@Example.org"):
        added = runner.invoke(cli, [*base, "subscribers", "add", spelling])
        assert added.exit_code == 0, added.output
    for spelling, stored in [
        ("X@Bücher.DE ", "x@xn--bcher-kva.de"),
        (" ada@example.org", "ada@example.org"),
    ]:
        removed = runner.invoke(cli, [*base, "subscribers", "remove", spelling])
        assert removed.exit_code == 0, removed.output
        assert removed.output == f"removed {stored}\n"
    listed = runner.invoke(cli, [*base, "subscribers", "list", "--json"])
    assert json.loads(listed.output) == []
    gone = runner.invoke(cli, [*base, "subscribers", "remove", "x@bücher.de"])
    assert gone.exit_code == 1 and "no subscriber x@bücher.de" in gone.output


@pytest.mark.parametrize("trouble", ["unreachable", "no STARTTLS"])
def test_digest_run_that_cannot_use_the_smtp_server_exits_non_zero(
    settings: Settings, smtp: SmtpServer, tmp_path: Path, trouble: str
) -> None:
    """Every run of a cron job with a wrong SMTP setting must fail visibly, while the
    messages wait, with no attempt used up, until the setting is fixed."""
    good = {"PAPERWIRE_SMTP_HOST": "127.0.0.1", "PAPERWIRE_SMTP_PORT": str(smtp.port)}
    good |= {"PAPERWIRE_SECRET_KEY": "cli-key", "PAPERWIRE_DIGEST_RETRY_BASE": "2"}
    bad = dict(good)
    if trouble == "unreachable":
        bad["PAPERWIRE_SMTP_PORT"] = str(free_port())
    else:
        bad["PAPERWIRE_SMTP_SECURITY"] = "starttls"  # the loopback server offers no STARTTLS
    base = ["--data-dir", str(settings.data_dir), "--database-url", settings.resolved_database_url]
    fixed = CliRunner(env=good)
    for args in (
        ["import", str(daily_subset(DAILY_FILE, tmp_path / "subset.jsonl", 600))],
        ["subscribers", "add", "a@example.com", "--category", "cs.LG"],
        ["subscribers", "add", "b@example.com", "--category", "cs.CL"],
    ):
        assert fixed.invoke(cli, [*base, *args]).exit_code == 0
    for _ in range(2):  # every run says so: also one with nothing due (retried in 2 s)
        failed = CliRunner(env=bad).invoke(cli, [*base, "digest", "run", "--date", "2025-03-20"])
        assert failed.exit_code == 1, failed.output
        (reason,) = [line for line in failed.output.splitlines() if line.startswith("Error:")]
        assert "2 message(s) stay queued" in reason and "smtp_* settings" in reason
        assert "digest_retry_base (2.0 s)" in reason
        assert ("STARTTLS" in reason) == (trouble == "no STARTTLS")
    assert smtp.handler.received == []
    status = fixed.invoke(cli, [*base, "digest", "status", "--json"])
    assert all(p["attempts"] == 0 for p in json.loads(status.output)["problems"])
    time.sleep(2.1)
    sent = fixed.invoke(cli, [*base, "digest", "run", "--date", "2025-03-20"])
    assert sent.exit_code == 0, sent.output
    assert len(smtp.handler.received) == 2


def test_subscriber_categories_are_checked_and_add_help_names_the_defaults(
    settings: Settings,
) -> None:
    base = ["--data-dir", str(settings.data_dir), "--database-url", settings.resolved_database_url]
    runner = CliRunner()
    for bad in ("notacat", "cs.C_L", "CS.CL"):
        refused = runner.invoke(
            cli, [*base, "subscribers", "add", "z@example.org", "--category", bad]
        )
        assert refused.exit_code == 1, refused.output
        assert f"{bad!r} is not an arXiv category: write a class like cs.CL" in refused.output
    args = ["--category", "cs.CL,hep-th", "--category", "astro-ph.CO"]
    added = runner.invoke(cli, [*base, "subscribers", "add", "z@example.org", *args])
    assert added.exit_code == 0, added.output
    listed = json.loads(runner.invoke(cli, [*base, "subscribers", "list", "--json"]).output)
    assert [s["categories"] for s in listed] == [["cs.CL", "hep-th", "astro-ph.CO"]]
    assert listed[0]["send_time"] == "08:00" and listed[0]["max_papers"] == 10
    helped = runner.invoke(cli, ["subscribers", "add", "--help"]).output
    for default in ("daily.", "08:00.", "UTC.", "0 (Monday).", "(10 unless"):
        assert f"New subscribers: {default}" in " ".join(helped.split()) or default in helped


def test_digest_status_counts_messages_and_subscribers_not_papers(settings: Settings) -> None:
    base = ["--data-dir", str(settings.data_dir), "--database-url", settings.resolved_database_url]
    runner = CliRunner()
    assert runner.invoke(cli, [*base, "subscribers", "add", "a@example.org"]).exit_code == 0
    status = runner.invoke(cli, [*base, "digest", "status"])
    assert status.exit_code == 0, status.output
    headers = [line for line in status.output.splitlines() if line.startswith("┃")]
    assert [[cell.strip() for cell in h.split("┃")[1:3]] for h in headers[:2]] == [
        ["status", "messages"],
        ["status", "subscribers"],
    ]
    assert "papers" not in status.output
    assert re.search(r"│ active\s+│\s+1 │", status.output)
