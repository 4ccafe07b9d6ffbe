"""The CLI shell: documented commands and settings, readable output, clear errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from paperwire.cli import cli
from paperwire.config import Settings
from tests.conftest import KAGGLE_FILE, ROOT


def all_commands() -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []

    def walk(group: click.Group, prefix: tuple[str, ...]) -> None:
        for name, command in group.commands.items():
            found.append((*prefix, name))
            if isinstance(command, click.Group):
                walk(command, (*prefix, name))

    walk(cli, ())
    return found


@pytest.mark.parametrize("path", all_commands(), ids=" ".join)
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    assert command.help and len(command.help.strip()) > 20, f"{path} needs a real --help text"


def test_every_option_of_a_command_in_the_readme_table_is_in_its_row() -> None:
    """The table left out options that exist (`search --per-page`, `stats --json`,
    `rejects --limit`, `digest status --limit/--json`, `subscribers list --status/--json`)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    checked = []
    for line in readme.splitlines():
        found = re.match(r"\| `paperwire ([a-z-]+)(?: ([a-z-]+))?", line)
        if found is None:
            continue
        command: click.Command = cli
        for name in filter(None, found.groups()):
            if isinstance(command, click.Group) and name in command.commands:
                command = command.commands[name]
        cell = re.split(r"(?<!\\)\|", line)[1]
        options = [o for p in command.params if isinstance(p, click.Option) for o in p.opts]
        missing = [o for o in options if o.startswith("--") and o not in cell]
        assert not missing, f"README's row of {command.name} lacks {missing}"
        checked.append(command.name)
    assert {"daily", "stats", "rejects", "status", "list", "serve"} <= set(checked)
    search = next(line for line in readme.splitlines() if "paperwire search '" in line)
    assert all(o in search for p in cli.commands["search"].params for o in p.opts if "--" in o)


def test_every_setting_is_described_and_in_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "paperwire settings" in readme
    for name, field in Settings.model_fields.items():
        assert field.description, f"setting {name} has no description"
        assert f"| `{name}` |" in readme, f"setting {name} is missing from the README's table"
        (row,) = [line for line in readme.splitlines() if line.startswith(f"| `{name}` |")]
        meaning = field.description.replace("|", "\\|")
        assert row.endswith(f" | {meaning} |"), f"README's meaning of {name} differs"


def test_settings_precedence_toml_env_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "pw.toml"
    config.write_text("[paperwire]\nbatch_size = 77\nrequest_delay = 5.0\nport = 9000\n")
    monkeypatch.setenv("PAPERWIRE_REQUEST_DELAY", "4")
    settings = Settings.load(config, port=9100)
    assert (settings.batch_size, settings.request_delay, settings.port) == (77, 4.0, 9100)
    with pytest.raises(ValueError, match="not valid TOML"):
        bad = tmp_path / "bad.toml"
        bad.write_text("batch_size = = 3")
        Settings.load(bad)
    monkeypatch.setenv("PAPERWIRE_BATCH_SIZE", "0")
    with pytest.raises(ValueError, match="PAPERWIRE_BATCH_SIZE: Input should be greater"):
        Settings.load()


def run_cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paperwire", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        check=False,
    )


def test_import_and_stats_through_the_real_cli(tmp_path: Path) -> None:
    first = run_cli("import", str(KAGGLE_FILE), data_dir=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "200" in first.stdout and "new" in first.stdout
    stats = run_cli("stats", data_dir=tmp_path)
    assert stats.returncode == 0, stats.stderr
    assert "200 papers" in stats.stdout
    assert "snapshot" in stats.stdout


def stats_with_one_run(tmp_path: Path, columns: int, detail: str) -> list[list[str]]:
    """`paperwire stats` at `columns` over one recorded run; the lines of the run table's
    one row, each as its cells (stripped)."""
    from paperwire.models import IngestReport
    from paperwire.store import open_store

    tmp_path.mkdir(exist_ok=True)
    store = open_store(f"sqlite:///{tmp_path / 'paperwire.db'}")
    run = store.start_run("arxiv_oai", detail)
    store.finish_run(run, IngestReport(new=12, updated=3, unchanged=4000, rejected=1, deleted=7))
    store.engine.dispose()
    done = subprocess.run(
        [*PAPERWIRE, "--data-dir", str(tmp_path), "stats"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": str(columns)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    table = done.stdout.split("recent ingest runs", 1)[1]
    assert all(len(line) <= columns for line in table.splitlines())
    return [
        [c.strip() for c in line.split("│")[1:-1]] for line in table.splitlines() if "│" in line
    ]


def test_stats_at_80_columns_keeps_every_run_cell_readable(tmp_path: Path) -> None:
    """At 80 columns the run table folded its text columns to four letters ("arxi/v_oa/i")
    to make room for the five count columns: there each run's counts are stacked in one
    cell (zeros left out, "new" always), and every text cell reads whole."""
    detail = "from=2025-03-01 until=2025-03-02 set=cs"
    lines = stats_with_one_run(tmp_path, 80, detail)
    columns = [[line[i] for line in lines if line[i]] for i in range(len(lines[0]))]
    assert columns[1:3] == [["arxiv_oai"], ["ok"]]  # whole, on one line
    assert columns[3] == ["12 new", "3 updated", "4,000 unchanged", "7 deleted", "1 rejected"]
    assert " ".join(columns[4]) == detail  # folded at most between its words
    assert len(columns[0]) == 2 and columns[0][0].startswith("20")  # date, then time


def test_stats_on_a_wide_console_has_a_column_per_count(tmp_path: Path) -> None:
    """The run table had no `deleted` column (only --json had it); every count whole."""
    lines = stats_with_one_run(tmp_path, 200, "2025-03-01..2025-03-02 cs")
    assert len(lines) == 1 and lines[0][1:] == [
        *("arxiv_oai", "ok", "12", "3", "4,000", "7", "1"),
        "2025-03-01..2025-03-02 cs",
    ]


PAPERWIRE = (sys.executable, "-m", "paperwire")


def test_bad_input_gives_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    missing = run_cli("import", str(tmp_path / "nope.jsonl"), data_dir=tmp_path)
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr
    data_dir = tmp_path / "never-made"
    for url in ("mysql://bob:hunter2@db.example.org/papers", "not a url"):
        bad_db = subprocess.run(
            [*PAPERWIRE, "--data-dir", str(data_dir), "--database-url", url, "stats"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert bad_db.returncode == 1
        assert "--database-url: database_url must be sqlite:///" in bad_db.stderr
        assert "Traceback" not in bad_db.stderr and "hunter2" not in bad_db.stderr
        assert not data_dir.exists()  # refused before anything was made


@pytest.mark.parametrize("given_by", ["env", "toml", "option"])
@pytest.mark.parametrize("where", ["a file", "under /proc"])
def test_a_data_dir_that_cannot_be_created_is_one_clear_error(
    tmp_path: Path, given_by: str, where: str
) -> None:
    in_the_way = tmp_path / "a-file"
    in_the_way.write_text("not a directory")
    path = in_the_way if where == "a file" else Path("/proc/paperwire-no-such-dir")
    unset = ("PAPERWIRE_DATA_DIR", "PAPERWIRE_CONFIG", "PAPERWIRE_DATABASE_URL")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    args = [sys.executable, "-m", "paperwire"]
    if given_by == "env":
        env["PAPERWIRE_DATA_DIR"] = str(path)
    elif given_by == "toml":
        config = tmp_path / "pw.toml"
        config.write_text(f'data_dir = "{path}"\n')
        args += ["--config", str(config)]
    else:
        args += ["--data-dir", str(path)]
    done = subprocess.run(
        [*args, "import", str(KAGGLE_FILE)], env=env, capture_output=True, text=True
    )
    assert "Traceback" not in done.stderr
    if given_by == "option" and where == "a file":  # click's own check of the option
        assert done.returncode == 2 and "is a file" in done.stderr
        return
    assert done.returncode == 1, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert f"data_dir {path}" in line and "PAPERWIRE_DATA_DIR" in line


READING_COMMANDS = [
    ("stats",),
    ("rejects",),
    ("search", "graph"),
    ("daily",),
    ("embed",),
    ("index", "rebuild"),
    ("subscribers", "list"),
    ("subscribers", "remove", "ada@example.org"),
    ("digest", "status"),
    ("digest", "run"),
    ("match-library", str(KAGGLE_FILE)),
]


@pytest.mark.parametrize("command", READING_COMMANDS, ids=" ".join)
def test_a_command_over_stored_data_refuses_a_missing_data_dir(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    """A mistyped --data-dir made the directory and an empty database, and the command
    answered over nothing (0 papers, no results) without a word."""
    typo = tmp_path / "paperwire-dat"
    done = run_cli(*command, data_dir=typo)
    assert done.returncode == 1, done.stdout + done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert f"no database at {typo / 'paperwire.db'} (data_dir {typo}, which does not exist)" in line
    assert "--data-dir" in line and "paperwire import FILE" in line
    assert not typo.exists()


def test_serve_on_a_fresh_machine_says_it_makes_a_new_installation(tmp_path: Path) -> None:
    """`make serve` on a fresh machine still serves (the data dir is made), and says so:
    a mistyped data_dir is not silent there either."""
    fresh = tmp_path / "paperwire-data"
    env = {**os.environ, "PAPERWIRE_EMBED_IN_BACKGROUND": "0", "PAPERWIRE_RECOMMEND_WARM_UP": "0"}
    command = [*PAPERWIRE, "--data-dir", str(fresh), "serve", "--port", "0"]
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert proc.stdout is not None
        said = [proc.stdout.readline() for _ in range(2)]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert said[0].startswith(f"note: there is no database at {fresh / 'paperwire.db'}"), said
    assert "serving a new, empty installation" in said[0]
    assert said[1].startswith("paperwire serving on http://"), said
    assert (fresh / "paperwire.db").exists()


def daily_record(arxiv_id: str, title: str) -> str:
    record = {
        "id": arxiv_id,
        "title": title,
        "authors": ["Ada Lovelace"],
        "categories": ["cs.CL"],
        "summary": "We study things.",
        "listing_date": "2025-03-18",
    }
    return json.dumps(record)


def test_row_limits_are_at_least_one(settings: Settings, tmp_path: Path) -> None:
    records = tmp_path / "some-bad.jsonl"
    lines = [daily_record(f"2503.0000{n}", "" if n < 4 else "Fine") for n in range(1, 5)]
    records.write_text("\n".join(lines) + "\n")
    base = ["--data-dir", str(settings.data_dir), "--database-url", settings.resolved_database_url]
    runner = CliRunner()
    assert runner.invoke(cli, [*base, "import", str(records)]).exit_code == 0

    def rows(output: str) -> int:
        return output.count("empty title")

    assert rows(runner.invoke(cli, [*base, "rejects"]).output) == 3
    assert rows(runner.invoke(cli, [*base, "rejects", "--limit", "2"]).output) == 2
    for command in (["rejects"], ["digest", "status"]):
        for limit in ("0", "-5", "100001"):
            refused = runner.invoke(cli, [*base, *command, "--limit", limit])
            assert refused.exit_code == 2, (command, limit, refused.output)
            assert "Invalid value for '--limit'" in refused.output
            assert "1<=x<=100000" in refused.output
    bad = runner.invoke(cli, [*base, "subscribers", "add", "a@example.org", "--max-papers", "0"])
    assert bad.exit_code == 2 and "1<=x<=50" in bad.output


def test_main_turns_ctrl_c_anywhere_into_one_line_and_130(tmp_path: Path) -> None:
    """click alone prints 'Aborted!' and exits 1 for a Ctrl-C outside an ingest batch."""
    script = (
        "import click, sys\n"
        "from paperwire.cli import cli, main\n"
        "@cli.command('sleepy')\n"
        "def sleepy():\n"
        "    raise KeyboardInterrupt\n"
        "@cli.command('fails')\n"
        "def fails():\n"
        "    raise click.ClickException('it failed')\n"
        "sys.argv = ['paperwire', '--data-dir', sys.argv[1], sys.argv[2]]\n"
        "main()\n"
    )

    def run(command: str) -> subprocess.CompletedProcess[str]:
        args = [sys.executable, "-c", script, str(tmp_path), command]
        return subprocess.run(args, capture_output=True, text=True, check=False)

    interrupted = run("sleepy")
    assert interrupted.returncode == 130, interrupted.stderr
    assert "interrupted" in interrupted.stderr and "Aborted!" not in interrupted.stderr
    failed = run("fails")
    assert failed.returncode == 1 and "Error: it failed" in failed.stderr
    assert run("--help").returncode == 0 and run("nosuch").returncode == 2


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--port", "99999", "0<=x<=65535"),
        ("--port", "-1", "0<=x<=65535"),
        ("--workers", "0", "x>=1"),
    ],
)
def test_serve_checks_its_port_and_workers(
    tmp_path: Path, option: str, value: str, says: str
) -> None:
    done = run_cli("serve", option, value, data_dir=tmp_path)
    assert done.returncode == 2 and says in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_with_an_unusable_data_dir_is_one_line_for_any_worker_count(
    tmp_path: Path, workers: str
) -> None:
    in_the_way = tmp_path / "a-file"
    in_the_way.write_text("not a directory")
    env = {**os.environ, "PAPERWIRE_DATA_DIR": str(in_the_way)}
    done = subprocess.run(
        [sys.executable, "-m", "paperwire", "serve", "--workers", workers, "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert f"data_dir {in_the_way}" in line and "serving on" not in done.stdout


def test_ray_workers_without_ray_is_refused(tmp_path: Path) -> None:
    """`embed --ray-workers 2` without --ray was silently ignored (and embedded locally),
    while --processes with --ray is refused: both say what goes with what, before work."""
    data = ["--data-dir", str(tmp_path / "data")]
    alone = CliRunner().invoke(cli, [*data, "embed", "--ray-workers", "2"])
    assert alone.exit_code == 2 and "--ray-workers needs --ray ADDRESS" in alone.output
    both = CliRunner().invoke(cli, [*data, "embed", "--ray", "auto", "--processes", "2"])
    assert both.exit_code == 2 and "give one of them" in both.output
    assert not (tmp_path / "data").exists()
