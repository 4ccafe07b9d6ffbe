"""How paperwire's log lines look and which reach stderr: one logging configuration for
the CLI, `paperwire serve` and uvicorn (handed to it as its log_config, so its worker
processes use it too). Every line has a time, a level and the logger's name."""

from __future__ import annotations

import logging
import logging.config
import sys
from typing import Any

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LEVELS = ("debug", "info", "warning", "error")


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to sys.stderr as it is when a line is written (a test runner may swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def log_config(level: str, web: bool = False) -> dict[str, Any]:
    """A logging.config.dictConfig for paperwire.* at `level`, and with `web` for uvicorn's
    loggers too (what `serve` hands uvicorn).

    paperwire's loggers still propagate (the root logger is left alone); the sign-in
    tokens of access lines are redacted (web/app.py's RedactTokens)."""
    upper = level.upper()
    handler = {"()": StderrHandler, "formatter": "paperwire"}
    config: dict[str, Any] = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"paperwire": {"format": FORMAT}},
        "handlers": {"stderr": handler},
        "loggers": {
            "paperwire": {"handlers": ["stderr"], "level": upper},
            # psycopg warns "error ignored terminating <Pipeline>: the connection is lost"
            # after the failure it ignored was raised (and reported once, store/outage.py)
            "psycopg": {"level": "ERROR"},
        },
    }
    if web:
        quiet = {"handlers": ["stderr"], "level": upper, "propagate": False}
        config["filters"] = {"redact": {"()": "paperwire.web.app.RedactTokens"}}
        config["handlers"]["access"] = {**handler, "filters": ["redact"]}
        config["loggers"].update(
            {
                "uvicorn": quiet,
                "uvicorn.error": {"level": upper},
                "uvicorn.access": {**quiet, "handlers": ["access"]},
            }
        )
    return config


def configure_logging(level: str, web: bool = False) -> None:
    logging.config.dictConfig(log_config(level, web))
