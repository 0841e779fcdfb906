import json

from dermfeat import __version__
from dermfeat.cli import main


def test_version(capsys):
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert __version__ in capsys.readouterr().out


def test_describe_table_and_json(lesion_folder, capsys):
    assert main(["describe", str(lesion_folder)]) == 0
    out = capsys.readouterr().out
    assert "atopic_dermatitis" in out and "near-duplicate groups:" in out and "mean RGB" in out
    assert main(["describe", str(lesion_folder), "--json", "--no-duplicates"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_images"] == 24


def test_describe_missing_folder(capsys, tmp_path):
    assert main(["describe", str(tmp_path / "nope")]) == 1
    assert "no such folder" in capsys.readouterr().err


def test_describe_real_data(dermnet_dir, capsys):
    assert main(["describe", str(dermnet_dir), "--n-jobs", "2"]) == 0
    out = capsys.readouterr().out
    assert "596 readable" in out and "near-duplicate groups:" in out
