"""Extraction and grid search on a local Dask cluster give the numbers of a local run."""

import logging

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from dermfeat.cli import main
from dermfeat.extraction import dask_client, dask_parallel, extract_features, output_paths, read_features
from dermfeat.features import QualityFeatures

distributed = pytest.importorskip("distributed")
pytest.importorskip("pyarrow")


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes on the loopback interface, no dashboard; closed after the module."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, silence_logs=logging.ERROR,
    ) as local:
        yield local


@pytest.fixture(scope="module")
def client(cluster):
    with distributed.Client(cluster, set_as_default=False) as c:
        c.wait_for_workers(2, timeout=60)
        yield c


@pytest.mark.filterwarnings("ignore::dermfeat.SkippedImagesWarning")
def test_distributed_extraction_equals_local(images_with_bad, tmp_path, cluster, client):
    files, labels, groups, bad = images_with_bad
    kw = dict(labels=labels, groups=groups, batch_size=4, progress=False)
    local = extract_features(QualityFeatures(n_jobs=2), files, tmp_path / "local.parquet", **kw)
    assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
    with distributed.get_task_stream(client) as stream:
        remote = extract_features(QualityFeatures(n_jobs=2), files, tmp_path / "dask.parquet",
                                  scheduler=cluster.scheduler_address, **kw)
    workers = {t["worker"] for t in stream.data if str(t.get("key", "")).find("dermfeat-extract") >= 0}
    assert len(workers) == 2  # both workers took batches
    a, b = read_features(local.output), read_features(remote.output)
    assert a.frame.equals(b.frame) and a.errors == b.errors and {f for f, _ in b.errors} == bad
    np.testing.assert_array_equal(a.X, b.X)


def test_crash_locally_finish_on_the_cluster(images, tmp_path, client):
    files, labels, _ = images
    out = tmp_path / "f.parquet"
    # a partial local run: stop after the first two batches
    done = []

    class Stop(Exception):
        pass

    class Partial(QualityFeatures):
        pass

    def stop_after_two(*args, **kwargs):
        if len(done) == 2:
            raise Stop
        done.append(1)
        return original(*args, **kwargs)

    from dermfeat.extraction import _extract

    original = _extract._extract_batch
    _extract._extract_batch = stop_after_two
    try:
        with pytest.raises(Stop):
            extract_features(QualityFeatures(), files, out, labels=labels, batch_size=8, progress=False)
    finally:
        _extract._extract_batch = original
    assert len(list(output_paths(out).parts.glob("part-*.json"))) == 2
    result = extract_features(QualityFeatures(), files, out, labels=labels, batch_size=8, progress=False,
                              scheduler=client)
    assert (result.n_computed, result.n_resumed) == (24, 16)
    expected = QualityFeatures().fit().transform(files)
    np.testing.assert_array_equal(read_features(out).X, expected)
    assert client.status == "running"  # a client passed in is not closed


def test_distributed_grid_search_equals_local(images, client):
    files, labels, _ = images
    X, y = np.asarray(files, dtype=object), (labels == "atopic_dermatitis").astype(int)
    pipe = Pipeline([("features", QualityFeatures()), ("scale", StandardScaler()),
                     ("clf", LogisticRegression(max_iter=2000))])
    grid = {"clf__C": [0.01, 1.0, 100.0], "clf__class_weight": [None, "balanced"]}
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    local = GridSearchCV(pipe, grid, cv=cv, scoring="roc_auc", n_jobs=1).fit(X, y)
    with distributed.get_task_stream(client) as stream, dask_parallel(client):
        remote = GridSearchCV(pipe, grid, cv=cv, scoring="roc_auc", n_jobs=-1).fit(X, y)
    assert len({t["worker"] for t in stream.data}) == 2
    for key in ("mean_test_score", *(f"split{i}_test_score" for i in range(3))):
        np.testing.assert_array_equal(local.cv_results_[key], remote.cv_results_[key])
    assert local.best_params_ == remote.best_params_
    np.testing.assert_array_equal(local.predict_proba(X), remote.predict_proba(X))


def test_dask_client_accepts_addresses_and_clusters(cluster):
    with dask_client(cluster.scheduler_address) as c:
        assert sum(c.nthreads().values()) == 2
    assert c.status == "closed"  # a client made here is closed again
    with dask_client(cluster) as c2:
        assert c2.scheduler.address == cluster.scheduler_address
    with pytest.raises(TypeError, match="scheduler must be"):
        with dask_client(42):
            pass


def test_cli_extract_on_the_cluster(images, tmp_path, cluster, capsys):
    files, _, _ = images
    folder = str(tmp_path / "images")
    out = tmp_path / "f.parquet"
    assert main(["extract", folder, "-o", str(out), "--features", "quality", "--batch-size", "8",
                 "--scheduler", cluster.scheduler_address, "--no-progress"]) == 0
    assert f"extracted 40 on {cluster.scheduler_address}" in capsys.readouterr().out
    assert sorted(read_features(out).filenames) == sorted(files)


def test_onnx_embedder_and_shared_cache_on_the_cluster(images, tmp_path, client):
    """Workers open the ONNX model at the client's path and fill the shared feature cache."""
    pytest.importorskip("onnx")
    from dermfeat.features import OnnxEmbedder
    from dermfeat.features._onnx_tiny import write_tiny_onnx_model

    files, labels, _ = images
    model = write_tiny_onnx_model(tmp_path / "tiny.onnx")
    cache = tmp_path / "cache"
    embedder = OnnxEmbedder(model, center_crop=32, memory=cache)
    remote = extract_features(embedder, files, tmp_path / "e.parquet", labels=labels, batch_size=8,
                              progress=False, scheduler=client)
    local = OnnxEmbedder(model, center_crop=32).fit().transform(files)
    np.testing.assert_allclose(read_features(remote.output).X, local, rtol=1e-6)
    assert len(embedder.fit()._feature_cache()) == len(files)
