"""Where the embedding model runs (issue 15): CPU by default and on machines without a GPU,
a clear error when CUDA is asked for and cannot be had, and `paperwire embed` reporting its
rate and time left in logs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from paperwire.cli.render import rate_lines
from paperwire.search.embed import CUDA_HINT, DeviceUnavailable, Embedder, model_installed

pytestmark = pytest.mark.skipif(not model_installed(), reason="needs paperwire[semantic]")


def cuda_usable() -> bool:
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()


TEXTS = ["Sparse attention for long documents.", "A survey of protein folding with deep nets."]


def test_auto_and_cpu_give_the_same_vectors_here(model_dir: Path) -> None:
    cpu = Embedder(cache_dir=model_dir, device="cpu")
    auto = Embedder(cache_dir=model_dir, device="auto")
    assert cpu.device == "cpu"
    if not cuda_usable():
        assert auto.device == "cpu"
    cosines = np.einsum("ij,ij->i", cpu.embed(TEXTS), auto.embed(TEXTS))
    assert cosines.min() > 0.999


@pytest.mark.skipif(cuda_usable(), reason="this machine has a CUDA provider")
def test_cuda_without_a_gpu_says_what_to_install(model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(DeviceUnavailable, match="onnxruntime-gpu"):
        Embedder(cache_dir=model_dir, device="cuda")
    done = subprocess.run(
        [sys.executable, "-m", "paperwire", "--data-dir", str(tmp_path), "embed", "--device",
         "cuda"],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 1 and CUDA_HINT.split(" (")[0] in done.stderr
    assert "Traceback" not in done.stderr


def test_rate_lines_report_rate_and_time_left(capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[int] = []
    step = rate_lines("embed", 1000, seen.append, every=0.0)
    for _ in range(4):
        step(100)
    assert seen == [100] * 4
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("embed:")]
    assert lines[-1].startswith("embed: 400/1,000 (") and "/s, ETA " in lines[-1]
