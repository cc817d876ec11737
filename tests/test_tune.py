"""`make tune` (tools/tune.py) fits the shipped weights reproducibly, from the training and dev questions only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import tools.tune as tune
from bot.rerank import Reranker
from bot.scoring import Weights


def test_tune_is_reproducible_and_never_reads_the_holdout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("EVAL_LARGE_ARCHIVE", str(tmp_path / "no-archive.tar.gz"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    read: list[str] = []
    original = tune.load_questions

    def spy(path: Path):
        read.append(path.name)
        return original(path)

    monkeypatch.setattr(tune, "load_questions", spy)
    outputs = []
    for run in ("a", "b"):
        out = tmp_path / run
        assert tune.main(["--sizes", "1", "--passes", "1", "--cache", str(tmp_path / "cache"), "--out", str(out)]) == 0
        outputs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert set(read) == {"train.jsonl", "dev.jsonl"}
    assert outputs[0].keys() == outputs[1].keys() and "first_stage.json" in outputs[0]
    first = json.loads(outputs[0]["first_stage.json"])
    assert set(first["weights"]) == set(tune.TUNED) and "hit@1" in first["dev"]["first stage, tuned"]
    # the same weights again: the JSON record, and the adapter's arrays when a second stage won on dev
    assert outputs[0]["first_stage.json"] == outputs[1]["first_stage.json"]
    if "second_stage.json" in outputs[0]:
        assert outputs[0]["second_stage.json"] == outputs[1]["second_stage.json"]
        a, b = Reranker.load(tmp_path / "a"), Reranker.load(tmp_path / "b")
        assert isinstance(a, Reranker) and isinstance(b, Reranker)
        assert np.array_equal(a.down, b.down) and np.array_equal(a.up, b.up)


def test_shipped_weights_are_the_tuned_ones():
    shipped = Weights.shipped()
    record = json.loads((Path(tune.TUNED_DIR) / "first_stage.json").read_text(encoding="utf-8"))
    for name, value in record["weights"].items():
        assert getattr(shipped, name) == pytest.approx(value)
