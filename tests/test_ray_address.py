"""`paperwire embed --ray ADDRESS` where nothing listens: a clear error within seconds
(ray.init retried for minutes, printing its retry logs), through the real CLI."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import KAGGLE_FILE

pytest.importorskip("ray", reason="needs ray: pip install 'paperwire[ray]'")


def test_an_unreachable_ray_head_is_reported_at_once(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PAPERWIRE_DATA_DIR": str(tmp_path / "data")}
    base = [sys.executable, "-m", "paperwire"]
    subprocess.run([*base, "import", str(KAGGLE_FILE)], env=env, check=True, capture_output=True)
    started = time.monotonic()
    done = subprocess.run(
        [*base, "embed", "--ray", f"127.0.0.1:{port}", "--limit", "5"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert f"cannot reach the Ray cluster at 127.0.0.1:{port}" in done.stderr
    assert "ray start --head" in done.stderr and "Traceback" not in done.stderr
    assert time.monotonic() - started < 60
