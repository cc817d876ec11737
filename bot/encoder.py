"""A light runtime for questions: the same model, exported once to ONNX and run with ONNX Runtime.

Serving only embeds short questions. With torch and sentence-transformers that costs seconds of imports, hundreds of
megabytes and about 15 ms a question on two cores; the exported model needs none of the heavy imports and answers in a
few milliseconds. The export is made from the installed model, checked against it (every probe text's vector must
match with cosine ≥ 0.999, else the export is refused and torch keeps serving), and cached in ENCODER_DIR (default
embeddings/encoder/), keyed by the model's fingerprint. Index builds embed passages with it too, so passages
and questions come from one runtime.

Two precisions (ENCODER_PRECISION): `fp32`, the export as it is, and `int8`, the same export with its weights
quantised to 8 bits (ONNX Runtime's dynamic quantisation, one scale per output channel): a quarter of the size and
about twice as fast. It is checked against the model the same way, with a looser bound (`MIN_COSINE`). Vectors of the
two differ a little, so an index records which one built it (the runtime in its manifest: `onnxruntime-int8` for
int8) and is served only by the same precision.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
import uuid
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bot.embedding import Embedder, ModelError, ProgressFn
from bot.index import file_sha256, fsync_path

log = logging.getLogger(__name__)

EXPORT_VERSION = 2  # 2: verified.json records the export's sha256
STALE_STAGING_SECONDS = 3600
PRECISIONS = ("fp32", "int8")
# the least cosine between a probe text's vector from the export and from the model itself. The float export computes
# what the model does (measured 1.000); 8-bit weights round every matrix product (measured 0.988-0.996 on the probes,
# 0.982 at worst on the dev questions, against the float export)
MIN_COSINE = {"fp32": 0.999, "int8": 0.98}
TOKEN_BUDGET = 2048  # padded tokens per model run (e.g. 32 texts of 64 tokens, or 8 of 256)
PROBES = (
    "How do I start contributing?",
    "I don't write code, can I still help?",
    "k8s",
    "Curiosity is the door that everyone can open, but sadly don't.",
    "What is the best way to find a mentor in a large open-source community, and how do I ask for help "
    "without feeling like I am wasting people's time? " * 3,
)


def runtime_of(precision: str) -> str:
    """The runtime an index records for vectors of this precision (`onnxruntime`, `onnxruntime-int8`)."""
    return "onnxruntime" if precision == "fp32" else f"onnxruntime-{precision}"


class OnnxEmbedder:
    """Embeds text like `Embedder` (mean pooling, unit length) with ONNX Runtime; same interface for queries."""

    runtime = "onnxruntime"

    def __init__(
        self, model_dir: Path, onnx_path: Path, name: str, fingerprint: str, max_tokens: int, precision: str = "fp32"
    ) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.model_dir = model_dir
        self.name = name
        self.fingerprint = fingerprint
        self.onnx_path = onnx_path
        self.precision = precision
        self.runtime = runtime_of(precision)
        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        tokenizer.enable_truncation(max_tokens)
        tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]") or 0)
        self._tokenizer = tokenizer
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = min(os.cpu_count() or 1, 4)
        # no busy-waiting between runs: spinning threads take the cores that numpy's scoring needs next
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._lock = threading.Lock()  # the tokenizer's padding state is shared

    @property
    def dimension(self) -> int:
        return self._dimension()

    def _dimension(self) -> int:
        shape = self._session.get_outputs()[0].shape
        return int(shape[-1]) if isinstance(shape[-1], int) else int(self.encode(["dimension"]).shape[1])

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: ProgressFn | None = None) -> np.ndarray:
        out = []
        for start in range(0, len(texts), batch_size):
            batch = list(texts[start : start + batch_size])
            with self._lock:
                encoded = self._tokenizer.encode_batch(batch)
            # a batch of long texts is split so that no run holds more than TOKEN_BUDGET padded tokens: the
            # runtime keeps the memory of its largest run, and attention over long texts grows with its square
            width = len(encoded[0].ids) if encoded else 0
            step = max(1, min(len(encoded), TOKEN_BUDGET // max(width, 1)))
            for first in range(0, len(encoded), step):
                part = encoded[first : first + step]
                ids = np.array([e.ids for e in part], dtype=np.int64)
                mask = np.array([e.attention_mask for e in part], dtype=np.int64)
                keep = int(mask.sum(axis=1).max())  # padding beyond the longest text of this run is cut
                ids, mask = ids[:, :keep], mask[:, :keep]
                feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
                hidden = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
                summed = (hidden * mask[..., None]).sum(axis=1)
                vectors = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
                out.append(vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12))
            if progress:
                progress(len(batch))
        if not out:
            return np.zeros((0, self._dimension()), dtype=np.float32)
        return np.concatenate(out).astype(np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


def export_dir(cache_dir: Path, embedder: Embedder, precision: str = "fp32") -> Path:
    suffix = "" if precision == "fp32" else f"-{precision}"
    return cache_dir / f"{embedder.fingerprint}-v{EXPORT_VERSION}{suffix}"


def _max_tokens(model_dir: Path) -> int:
    try:
        return int(json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"])
    except (OSError, ValueError, KeyError):
        return 256


def load_onnx(cache_dir: Path, embedder: Embedder, precision: str = "fp32") -> OnnxEmbedder | None:
    """The verified export for this model and precision, or None when there is none, or when it is damaged (then it
    is removed, so the next call exports afresh)."""
    folder = export_dir(cache_dir, embedder, precision)
    try:
        record = json.loads((folder / "verified.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    try:
        if record.get("sha256") != file_sha256(folder / "model.onnx"):
            raise ModelError("model.onnx does not match its checksum")
        return _open(folder, embedder, precision)
    except Exception as exc:  # a truncated or unreadable file: drop it rather than fail every start
        log.warning("the cached ONNX export in %s is damaged (%s); exporting it again", folder, exc)
        shutil.rmtree(folder, ignore_errors=True)
        return None


def _open(folder: Path, embedder: Embedder, precision: str = "fp32") -> OnnxEmbedder:
    max_tokens = _max_tokens(embedder.model_dir)
    return OnnxEmbedder(
        embedder.model_dir, folder / "model.onnx", embedder.name, embedder.fingerprint, max_tokens, precision
    )


def export_onnx(cache_dir: Path, embedder: Embedder, precision: str = "fp32") -> OnnxEmbedder:
    """Export the model to ONNX (for int8, quantise the float export, made first when missing), verify it against
    sentence-transformers and cache it. Raises ModelError when the export cannot be made or does not match (a model
    whose pooling is not mean pooling, for instance)."""
    if precision not in PRECISIONS:
        raise ModelError(f"unknown encoder precision {precision!r} (one of {', '.join(PRECISIONS)})")
    source = None
    if precision != "fp32":
        source = load_onnx(cache_dir, embedder) or export_onnx(cache_dir, embedder)
    folder = export_dir(cache_dir, embedder, precision)
    folder.parent.mkdir(parents=True, exist_ok=True)
    for old in folder.parent.glob(".staging-*"):  # left by a process killed mid-export
        if time.time() - old.stat().st_mtime > STALE_STAGING_SECONDS:
            shutil.rmtree(old, ignore_errors=True)
    staging = folder.parent / f".staging-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        if source is None:
            _export_float(embedder, staging / "model.onnx")
        else:
            _quantise(source.onnx_path, staging / "model.onnx")
        light = _open(staging, embedder, precision)
        cosines = (light.encode(PROBES) * embedder.encode(PROBES)).sum(axis=1)
        if float(cosines.min()) < MIN_COSINE[precision]:
            raise ModelError(
                f"the {precision} ONNX export of {embedder.name} differs from the model (cosine {cosines.min():.4f}, "
                f"below {MIN_COSINE[precision]})"
            )
        record = {
            "model": embedder.name,
            "fingerprint": embedder.fingerprint,
            "precision": precision,
            "min_cosine": float(cosines.min()),
            "bound": MIN_COSINE[precision],
            "sha256": file_sha256(staging / "model.onnx"),
        }
        (staging / "verified.json").write_text(json.dumps(record), encoding="utf-8")
        for path in (staging / "model.onnx", staging / "verified.json", staging):
            fsync_path(path)  # durable before it becomes visible under its final name
        try:
            staging.rename(folder)
        except OSError:  # another process exported meanwhile: use theirs
            if not (folder / "verified.json").is_file():
                raise
        fsync_path(folder.parent)
    except ModelError:
        raise
    except Exception as exc:  # any exporter failure: say so, keep serving with torch
        raise ModelError(f"could not export {embedder.name} to ONNX ({exc.__class__.__name__}: {exc})") from exc
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    loaded = load_onnx(cache_dir, embedder, precision)
    if loaded is None:
        raise ModelError(f"the ONNX export of {embedder.name} could not be read back")
    return loaded


def _quantise(source: Path, target: Path) -> None:
    """8-bit weights, one scale per output channel; activations quantised on the fly (dynamic quantisation)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    def advice(record: logging.LogRecord) -> bool:  # its advice to pre-process the model (which fails on this one)
        return "quantization" not in record.pathname

    logging.root.addFilter(advice)
    try:
        quantize_dynamic(str(source), str(target), per_channel=True, weight_type=QuantType.QInt8)
    finally:
        logging.root.removeFilter(advice)


def _export_float(embedder: Embedder, target: Path) -> None:
    """The model's transformer, exported to ONNX as it is (its last hidden state; pooling is done in numpy)."""
    import torch

    model = embedder._load()
    transformer = model[0].auto_model.eval()
    pooling = model[1].get_config_dict() if len(model) > 1 else {}
    if pooling.get("pooling_mode") != "mean" and not pooling.get("pooling_mode_mean_tokens", False):
        raise ModelError(f"{embedder.name} does not use mean pooling; its questions stay on sentence-transformers")

    class Hidden(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            output = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return output.last_hidden_state

    examples = ["a short example", "another, slightly longer example"]
    sample = model.tokenizer(examples, padding=True, return_tensors="pt")
    inputs = (sample["input_ids"], sample["attention_mask"], torch.zeros_like(sample["input_ids"]))
    axes = {"batch": 0, "tokens": 1}
    names = ["input_ids", "attention_mask", "token_type_ids"]
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on constant shapes; the export is verified below
        torch.onnx.export(
            Hidden(transformer),
            inputs,
            str(target),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={name: {i: axis for axis, i in axes.items()} for name in [*names, "last_hidden_state"]},
            opset_version=17,
            dynamo=False,
        )


def query_embedder(cache_dir: Path, embedder: Embedder, precision: str = "fp32") -> OnnxEmbedder | Embedder:
    """What builds and serving embed with: the verified ONNX export of this precision (made now if missing); when the
    int8 one cannot be made, the float one; when no export can be made, the model itself (each logged)."""
    if precision != "fp32":
        try:
            return load_onnx(cache_dir, embedder, precision) or export_onnx(cache_dir, embedder, precision)
        except (ModelError, OSError) as exc:
            log.warning("texts will be embedded with the fp32 export instead of %s: %s", precision, exc)
    try:
        return load_onnx(cache_dir, embedder) or export_onnx(cache_dir, embedder)
    except (ModelError, OSError) as exc:
        log.warning("questions will be embedded with sentence-transformers: %s", exc)
        return embedder
