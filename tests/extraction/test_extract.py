"""extract_features: Parquet/.npy outputs, resuming, the error file, bounded memory."""

import csv
import json

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from dermfeat import InvalidImageError, SkippedImagesWarning
from dermfeat.extraction import _output, extract_features, output_paths, read_features
from dermfeat.features import ColorFeatures, QualityFeatures
from dermfeat.pipeline import make_features
from dermfeat.preprocessing import ColorConstancy

from .conftest import CountingQuality, SimulatedCrash

pq = pytest.importorskip("pyarrow.parquet")


def run(transformer, files, out, **kw):
    kw.setdefault("progress", False)
    return extract_features(transformer, files, out, **kw)


def test_parquet_columns_and_values(images, tmp_path):
    files, labels, groups = images
    out = tmp_path / "features.parquet"
    result = run(QualityFeatures(), files, out, labels=labels, groups=groups, batch_size=16)
    assert (result.n_images, result.n_rows, result.n_errors, result.n_computed) == (40, 40, 0, 40)
    table = pq.read_table(out)
    names = list(QualityFeatures().fit().get_feature_names_out())
    assert table.column_names == ["file", "label", "group", *names]
    assert table.column("file").to_pylist() == files
    assert table.column("label").to_pylist() == list(labels)
    assert table.column("group").to_pylist() == list(groups)
    data = read_features(out)
    np.testing.assert_array_equal(data.X, QualityFeatures().fit().transform(files))
    assert list(data.feature_names) == names and data.errors == []
    assert json.loads(pq.read_schema(out).metadata[b"dermfeat"])["n_rows"] == 40
    # nothing left behind but the output and its (empty) error file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["features.errors.csv", "features.parquet", "images"]
    assert (tmp_path / "features.errors.csv").read_text().strip() == "file,reason"


def test_npy_output_matches_parquet(images, tmp_path):
    files, labels, groups = images
    a = run(QualityFeatures(), files, tmp_path / "f.parquet", labels=labels, groups=groups, batch_size=16)
    b = run(QualityFeatures(), files, tmp_path / "f.npy", labels=labels, groups=groups, batch_size=16)
    assert b.format == "npy" and b.output.endswith("f.npy")
    pa_data, np_data = read_features(a.output), read_features(b.output)
    np.testing.assert_array_equal(pa_data.X, np_data.X)
    np.testing.assert_array_equal(np.load(tmp_path / "f.npy"), pa_data.X)
    assert list(np_data.filenames) == files and list(np_data.labels) == list(labels)
    np.testing.assert_array_equal(np_data.groups, groups)
    assert list(np_data.feature_names) == list(pa_data.feature_names)
    assert pa_data.frame.equals(np_data.frame)
    with open(tmp_path / "f.csv", newline="") as fh:
        assert next(csv.reader(fh)) == ["file", "label", "group"]


def test_without_pyarrow_falls_back_to_npy(images, tmp_path, monkeypatch):
    files, _, _ = images
    monkeypatch.setattr(_output, "_has_pyarrow", lambda: False)
    with pytest.warns(UserWarning, match="pyarrow is not installed"):
        result = run(QualityFeatures(), files[:8], tmp_path / "f.parquet")
    assert result.format == "npy" and (tmp_path / "f.npy").is_file() and not (tmp_path / "f.parquet").exists()
    assert read_features(tmp_path / "f.parquet").X.shape == (8, 10)


def test_resume_after_a_crash_computes_only_missing_batches(images, tmp_path, counting):
    files, labels, groups = images
    out = tmp_path / "f.parquet"
    counting.fail_after = 20  # batches of 8: two finish, the third crashes
    with pytest.raises(SimulatedCrash, match="simulated crash"):
        run(CountingQuality(), files, out, labels=labels, groups=groups, batch_size=8)
    parts = output_paths(out).parts
    assert not out.exists() and sorted(p.name for p in parts.glob("part-*.json")) == [
        "part-0000000.json", "part-0000001.json"]
    counting.fail_after, counting.computed = None, 0
    result = run(CountingQuality(), files, out, labels=labels, groups=groups, batch_size=8)
    assert counting.computed == 24 and (result.n_computed, result.n_resumed, result.n_rows) == (24, 16, 40)
    assert not parts.exists()
    # identical to a run that never crashed
    fresh = run(CountingQuality(), files, tmp_path / "fresh.parquet", labels=labels, groups=groups, batch_size=8)
    assert read_features(out).frame.equals(read_features(fresh.output).frame)
    # a finished job is not redone
    counting.computed = 0
    again = run(CountingQuality(), files, out, labels=labels, groups=groups, batch_size=8)
    assert counting.computed == 0 and (again.n_computed, again.n_resumed, again.n_rows) == (0, 40, 40)
    # resume=False starts over
    run(CountingQuality(), files, out, labels=labels, groups=groups, batch_size=8, resume=False)
    assert counting.computed == 40


def test_another_job_does_not_reuse_parts(images, tmp_path, counting):
    files, _, _ = images
    out = tmp_path / "f.parquet"
    counting.fail_after = 10
    with pytest.raises(SimulatedCrash):
        run(CountingQuality(), files, out, batch_size=8)
    counting.fail_after, counting.computed = None, 0
    # other parameters: the old parts are discarded, everything is computed
    run(CountingQuality(image_size=64), files, out, batch_size=8)
    assert counting.computed == 40
    counting.computed = 0
    run(CountingQuality(image_size=64), files[:-1], out, batch_size=8)  # other images: a new job
    assert counting.computed == 39


def test_feature_cache_makes_a_grown_list_cheap(images, tmp_path, counting):
    files, _, _ = images
    run(CountingQuality(memory=tmp_path / "cache"), files[:30], tmp_path / "a.parquet", batch_size=8)
    counting.computed = 0
    result = run(CountingQuality(memory=tmp_path / "cache"), files, tmp_path / "a.parquet", batch_size=8)
    assert result.n_rows == 40 and counting.computed == 10


def test_bad_files_go_to_the_error_file(images_with_bad, tmp_path):
    files, labels, groups, bad = images_with_bad
    out = tmp_path / "f.parquet"
    with pytest.warns(SkippedImagesWarning, match=r"3 of 33 images.*f\.errors\.csv"):
        result = run(QualityFeatures(), files, out, labels=labels, groups=groups, batch_size=8)
    assert (result.n_rows, result.n_errors) == (30, 3)
    with open(tmp_path / "f.errors.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["file"] for r in rows} == bad
    reasons = {r["file"].rsplit("/", 1)[-1]: r["reason"] for r in rows}
    assert "not a recognised image format" in reasons["junk.jpg"]
    assert "empty" in reasons["empty.jpg"] and reasons["missing.jpg"]
    data = read_features(out)
    assert not bad & set(data.filenames) and len(data.filenames) == 30
    assert set(data.labels) <= {"atopic_dermatitis", "eczema"} and -1 not in set(data.groups)
    assert sorted(data.errors) == sorted((r["file"], r["reason"]) for r in rows)
    # files the loader rejected come first
    with pytest.warns(SkippedImagesWarning, match="4 of 34"):
        again = run(QualityFeatures(), files, tmp_path / "g.parquet", skipped=[("notes.txt", "not an image")])
    assert again.errors[0] == ("notes.txt", "not an image") and again.n_errors == 4


def test_on_error_raise_keeps_finished_batches(images_with_bad, tmp_path):
    files, _, _, _ = images_with_bad
    out = tmp_path / "f.parquet"
    with pytest.raises(InvalidImageError, match="junk.jpg"):
        run(QualityFeatures(), files, out, batch_size=2, on_error="raise")
    assert (output_paths(out).parts / "part-0000000.json").is_file()


def test_any_transformer_pipeline_and_union(images_with_bad, tmp_path):
    files, _, _, bad = images_with_bad
    pipe = Pipeline([("cc", ColorConstancy()), ("q", QualityFeatures())])  # no transform_with_errors
    with pytest.warns(SkippedImagesWarning):
        result = run(pipe, files, tmp_path / "p.parquet", batch_size=8)
    assert result.n_rows == 30 and {f for f, _ in result.errors} == bad
    good = [f for f in files if f not in bad]
    np.testing.assert_allclose(read_features(result.output).X, pipe.fit(good[:8]).transform(good))
    assert list(result.feature_names) == list(pipe[-1].get_feature_names_out())
    union = make_features("quality+skin_tone")
    with pytest.warns(SkippedImagesWarning):
        result = run(union, files, tmp_path / "u.parquet", batch_size=8)
    assert result.n_rows == 30 and result.feature_names[0] == "qualityfeatures__blur_laplacian_var"


def test_arrays_unfitted_and_untouched(tmp_path, lesion_data):
    est = QualityFeatures()
    result = run(est, lesion_data.images[:10], tmp_path / "a.parquet", labels=lesion_data.target[:10], batch_size=4)
    assert not hasattr(est, "feature_names_out_")  # the user's estimator is cloned, not fitted in place
    data = read_features(result.output)
    assert data.filenames[0] == "<array #0>" and data.labels.dtype.kind == "i"
    np.testing.assert_array_equal(data.X, QualityFeatures().fit().transform(lesion_data.images[:10]))


def test_memory_is_bounded_by_the_batch(images, tmp_path, monkeypatch):
    """Structurally: the transformer and the writer only ever see one batch."""
    files, labels, _ = images
    seen, written = [], []

    class Spy(QualityFeatures):
        def transform_with_errors(self, X):
            seen.append(len(X))
            return super().transform_with_errors(X)

    for sink in (_output._ParquetSink, _output._NpySink):
        original = sink.write

        def spy(self, files_, rows, features, _original=original):
            written.append(len(features))
            return _original(self, files_, rows, features)

        monkeypatch.setattr(sink, "write", spy)
    run(Spy(), files, tmp_path / "f.parquet", labels=labels, batch_size=7)
    assert seen == [7] * 5 + [5] and written == seen
    meta = pq.ParquetFile(tmp_path / "f.parquet").metadata
    assert meta.num_row_groups == 6 and max(meta.row_group(i).num_rows for i in range(6)) == 7
    written.clear()
    run(Spy(), files, tmp_path / "f.npy", batch_size=16)
    assert written == [16, 16, 8]


def test_parameter_checks(images, tmp_path):
    files, labels, _ = images
    with pytest.raises(ValueError, match="batch_size"):
        run(QualityFeatures(), files, tmp_path / "f.parquet", batch_size=0)
    with pytest.raises(ValueError, match="one entry per image"):
        run(QualityFeatures(), files, tmp_path / "f.parquet", labels=labels[:3])
    with pytest.raises(ValueError, match="on_error"):
        run(QualityFeatures(), files, tmp_path / "f.parquet", on_error="nan")
    (tmp_path / "g.parquet.parts").mkdir()
    with pytest.raises(FileExistsError, match="not a dermfeat parts folder"):
        run(QualityFeatures(), files, tmp_path / "g.parquet")


def test_empty_input(tmp_path):
    result = run(ColorFeatures(spaces=["rgb"]), [], tmp_path / "e.parquet")
    assert result.n_rows == 0 and read_features(result.output).X.shape == (0, len(result.feature_names))


# ------------------------------------------------- names that are not UTF-8
def _non_utf8_images(tmp_path, n=10):
    """Copies of synthetic JPEGs under names with bytes that are not UTF-8, plus one bad file."""
    import os

    from .conftest import write_images

    files, labels, _ = write_images(tmp_path / "src", n=n)
    folder = os.fsencode(tmp_path / "raw")
    os.mkdir(folder)
    names = []
    for i, f in enumerate(files):
        raw = folder + b"/caf\xe9-\xff%d.jpg" % i
        with open(f, "rb") as src, open(raw, "wb") as dst:
            dst.write(src.read())
        names.append(os.fsdecode(raw))
    bad = os.fsdecode(folder + b"/broken-\xe9.jpg")
    with open(bad, "wb") as fh:
        fh.write(b"\xff\xd8\xff not a photo")
    return names, labels, bad


@pytest.mark.parametrize("suffix", [".parquet", ".npy"])
def test_names_that_are_not_utf8_are_written_losslessly_and_resume(tmp_path, counting, suffix):
    import os

    names, labels, bad = _non_utf8_images(tmp_path)
    files = names[:5] + [bad] + names[5:]
    out = tmp_path / f"f{suffix}"
    counting.fail_after = 6  # batches of 4: one finishes, the second crashes
    with pytest.raises(SimulatedCrash, match="simulated crash"):
        run(CountingQuality(), files, out, labels=[*labels[:5], "x", *labels[5:]], batch_size=4)
    counting.fail_after, counting.computed = None, 0
    with pytest.warns(SkippedImagesWarning):
        result = run(CountingQuality(), files, out, labels=[*labels[:5], "x", *labels[5:]], batch_size=4)
    assert (result.n_resumed, result.n_rows, result.n_errors) == (4, 10, 1) and counting.computed == 6
    data = read_features(out)
    assert [os.fsencode(f) for f in data.filenames] == [os.fsencode(f) for f in names]
    assert list(data.frame["file"]) == names and list(data.labels) == list(labels)
    np.testing.assert_array_equal(data.X, QualityFeatures().fit().transform(names))
    assert data.errors[0][0] == bad and os.fsencode(bad) in (tmp_path / f"f.errors.csv").read_bytes()
    # a rerun of the finished job does nothing and reads the same names back
    counting.computed = 0
    again = run(CountingQuality(), files, out, labels=[*labels[:5], "x", *labels[5:]], batch_size=4)
    assert counting.computed == 0 and again.n_resumed == 11 and again.errors == result.errors


def test_rerun_refreshes_the_files_rejected_before_extraction(images, tmp_path, counting):
    files, _, _ = images
    out = tmp_path / "f.parquet"
    with pytest.warns(SkippedImagesWarning):
        run(CountingQuality(), files[:8], out, skipped=[("a.txt", "not an image")])
    counting.computed = 0
    again = run(CountingQuality(), files[:8], out, skipped=[("a.txt", "not an image"), ("b.md", "not an image")])
    assert counting.computed == 0 and again.errors == [("a.txt", "not an image"), ("b.md", "not an image")]
    assert read_features(out).errors == again.errors
