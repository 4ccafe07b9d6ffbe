"""The embedding model is built from the packaged float32 weights without torch: the fused
onnxruntime graph must compute what the plain-ONNX reference graph computes, quantisation
must keep the vectors close, and the prepared file is cached and rebuilt only when needed."""

from __future__ import annotations

import itertools
import json
import lzma
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import DAILY_FILE
from paperwire.search import model_build
from paperwire.search.embed import Embedder, ModelFiles, model_installed, weights_dir

pytestmark = pytest.mark.skipif(not model_installed(), reason="paperwire[semantic] + weights")


def abstracts(count: int) -> list[str]:
    with lzma.open(DAILY_FILE, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in itertools.islice(handle, count)]
    return [f"{r['title']}. {r['summary']}" for r in rows]


@pytest.fixture(scope="module")
def graphs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import onnx

    folder = weights_dir()
    weights = model_build.read_safetensors(folder / "model.safetensors")
    shape = model_build.BertShape.from_config(json.loads((folder / "config.json").read_text()))
    out = tmp_path_factory.mktemp("graphs")
    paths = {}
    for name, fused in (("plain", False), ("fused", True)):
        model = model_build.build_encoder(weights, shape, fused=fused)
        if not fused:
            onnx.checker.check_model(model, full_check=True)  # standard ONNX only
        paths[name] = out / f"{name}.onnx"
        onnx.save(model, str(paths[name]))
    return paths


def embed_with(path: Path, texts: list[str]) -> np.ndarray[Any, Any]:
    files = ModelFiles("test", path, weights_dir() / "tokenizer.json")
    return Embedder(files, batch_size=4).embed(texts)


def test_fused_graph_computes_the_reference_graph(graphs: dict[str, Path]) -> None:
    texts = [*abstracts(8), "", "a", "Graph neural networks"]  # padding in every batch
    plain = embed_with(graphs["plain"], texts)
    fused = embed_with(graphs["fused"], texts)
    np.testing.assert_allclose(fused, plain, atol=2e-4)


def test_int8_per_channel_vectors_stay_close_to_float(
    graphs: dict[str, Path], model_dir: Path
) -> None:
    texts = abstracts(24)
    reference = embed_with(graphs["plain"], texts)
    quantised = embed_with(model_build.prepare_quantized(weights_dir(), model_dir), texts)
    cosines = (reference * quantised).sum(axis=1)
    assert cosines.min() > 0.98, cosines
    # The similarity structure survives: pairwise cosines move little and keep their order.
    upper = np.triu_indices(len(texts), 1)
    before, after = (reference @ reference.T)[upper], (quantised @ quantised.T)[upper]
    assert np.abs(before - after).mean() < 0.02
    ranks = [np.argsort(np.argsort(v)) for v in (before, after)]
    assert np.corrcoef(ranks[0], ranks[1])[0, 1] > 0.98  # Spearman's rho


def test_prepared_model_is_cached_and_keyed_by_weights(tmp_path: Path) -> None:
    folder = weights_dir()
    first = model_build.prepare_quantized(folder, tmp_path / "cache")
    stamp = first.stat().st_mtime_ns
    again = model_build.prepare_quantized(folder, tmp_path / "cache")
    assert again == first and again.stat().st_mtime_ns == stamp  # reused, not rebuilt
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [first.name]  # no leftovers
    # Other weights (here: the same tensors, one bias nudged) get a model of their own.
    copy = tmp_path / "weights"
    copy.mkdir()
    for name in ("config.json", "tokenizer.json"):
        os.symlink(folder / name, copy / name)
    raw = bytearray((folder / "model.safetensors").read_bytes())
    raw[-1] ^= 1
    (copy / "model.safetensors").write_bytes(bytes(raw))
    other = model_build.prepare_quantized(copy, tmp_path / "cache")
    assert other != first and other.is_file()


def test_malformed_weights_are_reported(tmp_path: Path) -> None:
    short = tmp_path / "short.safetensors"
    short.write_bytes(b"\x01")
    with pytest.raises(ValueError, match="not a safetensors file"):
        model_build.read_safetensors(short)
    odd = tmp_path / "odd.safetensors"
    header = json.dumps({"x": {"dtype": "BF16", "shape": [1], "data_offsets": [0, 2]}}).encode()
    odd.write_bytes(len(header).to_bytes(8, "little") + header + b"\0\0")
    with pytest.raises(ValueError, match="unsupported dtype BF16"):
        model_build.read_safetensors(odd)
    with pytest.raises(ValueError, match="activation"):
        model_build.BertShape.from_config({"hidden_act": "relu"})
