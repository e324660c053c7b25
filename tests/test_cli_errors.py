"""A hostile user at the `aurora-sw` prompt: every bad option is one line naming it, exit 1.

Found by typing these commands: each ended in a pandas/torch/pyarrow traceback, or was
accepted and did something else than asked (`ingest --every 0s`, `--every 60` read as 60 ns,
`query` with the end before the start printing nothing, `evaluate` on a label store scoring
frames the model was trained on without a word).
"""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from aurora_sw.errors import AuroraSWError


def aurora_sw(*args, cwd):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "aurora_sw", *map(str, args)], capture_output=True, text=True, timeout=120, cwd=cwd, env=env)


def assert_one_line_error(res, *expected):
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.returncode == 1, (res.returncode, res.stderr)
    assert len(lines) == 1 and lines[0].startswith("aurora-sw: error: "), res.stderr
    for text in expected:
        assert text in lines[0], (text, lines[0])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A label store without a split column, a file that is not Parquet, and a plain file."""
    root = tmp_path_factory.mktemp("cli_errors")
    pd.DataFrame({"path": ["a.jpg", "b.jpg"], "label": ["yes", "no"], "night": ["2024-02-05", "2024-02-06"],
                  "time_utc": pd.to_datetime(["2024-02-06T06:00", "2024-02-07T06:00"], utc=True)}).to_parquet(root / "labels.parquet")
    (root / "labels.csv").write_text("path,label\na.jpg,yes\n")
    (root / "a_file").write_text("not a folder")
    pd.read_parquet(root / "labels.parquet").assign(split=["train", "val"]).to_parquet(root / "split.parquet")
    from aurora_sw.model import Checkpoint, create_model, save_checkpoint

    save_checkpoint(Checkpoint("efficientnet_b0", create_model("efficientnet_b0").state_dict(), 32), root / "model.pt")
    return root


CASES = [
    (["catalog", "check", "--catalog", "."], ["not a readable YAML catalog file"]),
    (["gradcam", "a_file", "--model", "model.pt", "--out", "a_file"], ["cannot make this output folder"]),
    (["train", "--labels", "labels.parquet", "--from-scratch", "--out", "fresh_model", "--resume"], ["nothing to resume", "no last.pt"]),
    # (arguments, texts the one line must hold)
    (["query", "--index", "index.zarr", "--start", "notadate"], ["start 'notadate'", "not a date"]),
    (["query", "--index", "index.zarr", "--start", "2024-02-06", "--end", "2024-02-05"], ["not after start"]),
    (["keogram", "--night", "2024-13-01", "--index", "index.zarr"], ["night '2024-13-01'", "YYYY-MM-DD"]),
    (["evaluate", "--model", "best.pt", "--labels", "missing.parquet"], ["missing.parquet", "no label file"]),
    (["evaluate", "--model", "best.pt", "--labels", "labels.csv"], ["labels.csv", "not a Parquet label file"]),
    (["evaluate", "--model", "best.pt", "--labels", "labels.parquet"], ["labels.parquet", "no split column", "--split all"]),
    (["evaluate", "--model", "best.pt", "--labels", "labels.parquet", "--split", "bogus"], ["--split 'bogus'"]),
    (["ingest", "frames", "--out", "arch", "--every", "0s"], ["--every '0s'", "positive"]),
    (["ingest", "frames", "--out", "arch", "--every", "-60s"], ["--every '-60s'", "positive"]),
    (["ingest", "frames", "--out", "arch", "--every", "60"], ["--every '60'", "unit"]),
    (["label", "suggest", "--archive", "arch", "--model", "model.pt", "--strategy", "bogus"], ["--strategy 'bogus'", "uncertainty, diversity, random"]),
    (["label", "suggest", "--archive", "arch", "--model", "model.pt", "--out", "s.txt"], ["--out s.txt", "write a .csv file"]),
    (["label", "suggest", "--archive", "arch", "--model", "model.pt", "--labels", "nope.parquet"], ["--labels nope.parquet", "no such label store"]),
    (["ingest", "frames", "--out", "arch", "--scheduler", "nonsense"], ["--scheduler nonsense", "cannot reach the Dask scheduler"]),
    (["ingest", "frames", "--out", "arch", "--scheduler", ""], ["--scheduler ''", "give the scheduler's address"]),
    (["ingest", "frames", "--out", "arch", "--workers", "0"], ["--workers 0", "1 (one movie at a time) or more"]),
    (["ingest", "frames", "--out", "arch", "--ocr-every", "0"], ["--ocr-every 0", "1 (read every kept frame's time) or more"]),
    (["solarwind", "fetch", "--start", "notadate", "--end", "2024-02-06", "--offline"], ["start 'notadate'"]),
    (["solarwind", "fetch", "--start", "2024-02-06", "--end", "2024-02-05", "--offline"], ["not after start"]),
    (["solarwind", "fetch", "--start", "2024-02-05", "--end", "2024-02-06", "--vars", "", "--offline"], ["no solar-wind variables"]),
    (["solarwind", "events", "flares", "--start", "2024-02-06", "--end", "2024-02-01", "--offline"], ["not after start"]),
    (["train", "--labels", "missing.parquet", "--from-scratch"], ["missing.parquet", "no label file"]),
    (["train", "--labels", "labels.parquet", "--from-scratch", "--batch-size", "1", "--input-size", "0"], ["batch_size=1", "input_size=0"]),
    (["train", "--labels", "labels.parquet", "--from-scratch", "--val-fraction", "1.5"], ["val_fraction 1.5"]),
    (["train", "--labels", "labels.parquet", "--from-scratch", "--out", "a_file/model"], ["a_file/model: cannot make this output folder"]),
    (["evaluate", "--model", "model.pt", "--labels", "split.parquet", "--out", "a_file/report"], ["a_file/report: cannot make this output folder"]),
    (["fetch-movies", "--start", "2024-02-05", "--end", "2024-02-01"], ["--end 2024-02-01 is before --start 2024-02-05"]),
    (["fetch-movies", "--start", "2024-02-05", "--resolution", "4k"], ["--resolution '4k'"]),
    (["synth", "--out", "synth", "--nights", "0"], ["nights 0"]),
    (["synth", "--out", "synth", "--start", "notadate"], ["night 'notadate'"]),
    (["recurrence", "--index", "index.zarr", "--rotation", "bogus"], ["--rotation 'bogus'"]),
    (["score", "--archive", "arch", "--model", "model.pt", "--out", "idx.zarr", "--batch-size", "0"], ["--batch-size 0"]),
    (["score", "--archive", "arch", "--model", "model.pt", "--out", "idx.zarr", "--workers", "-1"], ["--workers -1"]),
]


@pytest.mark.parametrize("args,expected", CASES, ids=[" ".join(a[:1] + a[-2:]) for a, _ in CASES])
def test_bad_input_is_one_line_and_exit_1(args, expected, files):
    res = aurora_sw(*args, cwd=files)
    assert_one_line_error(res, *expected)
    assert not (files / "arch").exists() and not (files / "synth").exists()  # refused before anything was written


def test_an_earlier_output_survives_a_failed_write_and_a_bad_folder_is_one_line(files, tmp_path):
    from aurora_sw.cli import _output_file

    out = tmp_path / "result.csv"
    out.write_text("earlier result")
    with pytest.raises(AuroraSWError, match="result.csv: cannot write"):
        with _output_file(out, (".csv",)) as tmp:
            tmp.write_text("half a res")
            raise OSError(28, "No space left on device")
    assert out.read_text() == "earlier result" and sorted(p.name for p in tmp_path.iterdir()) == ["result.csv"]
    with _output_file(out, (".csv",)) as tmp:
        tmp.write_text("new result")
    assert out.read_text() == "new result"
    with pytest.raises(AuroraSWError, match="cannot write"):
        with _output_file(files / "a_file" / "x.csv", (".csv",)) as tmp:
            tmp.write_text("x")


def test_times_are_utc_and_ranges_run_forward():
    from aurora_sw.times import duration_s, night_date, utc_range, utc_time

    assert utc_time("2024-02-01T00:00-07:00") == pd.Timestamp("2024-02-01T07:00")  # converted, not just stripped
    assert utc_range(None, "2024-02-01", open_ended=True) == (None, pd.Timestamp("2024-02-01"))
    assert duration_s("2min") == 120 and night_date("2024-02-05") == "2024-02-05"
    for bad in ("2024-13-01", "", "yesterday"):
        with pytest.raises(AuroraSWError):
            utc_time(bad)
    for bad in ("2024-2-5", "20240205", "2024-02-30"):
        with pytest.raises(AuroraSWError, match="YYYY-MM-DD"):
            night_date(bad)
    with pytest.raises(AuroraSWError, match="not after start"):
        utc_range("2024-02-01", "2024-02-01")


def test_library_refuses_what_the_commands_refuse():
    """The checks live in the public functions too, not only behind the CLI."""
    from aurora_sw.index.keogram import keogram
    from aurora_sw.labels import sample_for_labelling, split_by_night
    from aurora_sw.model.config import TrainConfig

    frames = pd.DataFrame({"path": ["x.jpg"], "time_utc": pd.to_datetime(["2024-02-06T06:00"], utc=True)})
    with pytest.raises(AuroraSWError, match="size 0"):
        keogram(frames, size=0)
    manifest = pd.DataFrame({"night": ["2024-02-05"] * 4, "sun_class": "Night", "moon_class": "NoMoon", "time_utc": pd.date_range("2024-02-06", periods=4, freq="min", tz="UTC")})
    with pytest.raises(AuroraSWError, match="Bogus"):
        sample_for_labelling(manifest, sun_classes=("Bogus",))
    with pytest.raises(AuroraSWError, match="per_night -1"):
        sample_for_labelling(manifest, per_night=-1)
    labels = manifest.assign(label=np.array(["yes", "no"] * 2), path=[f"{i}.jpg" for i in range(4)])
    with pytest.raises(AuroraSWError, match="val_fraction -0.5"):
        split_by_night(labels, val_fraction=-0.5)
    with pytest.raises(AuroraSWError, match="lr_full=0"):
        TrainConfig(lr_full=0)
    with pytest.raises(AuroraSWError, match="epochs_full=0"):
        TrainConfig(epochs_full=0)  # from scratch the head stage is skipped: nothing would be trained
    assert TrainConfig(epochs_full=0, pretrained=True).epochs_head == 6


def test_no_out_overwrites_an_input_of_the_project(tmp_path):
    """Found by probing: `query --out archive/manifest.parquet` replaced the manifest, `keogram --out
    solarwind.png` replaced solarwind.nc beside it, `label import --store manifest.parquet` merged
    labels into the manifest, and a plot --out ending in .nc was a matplotlib traceback."""
    (tmp_path / "archive").mkdir()
    manifest = pd.DataFrame({"path": ["a.jpg"], "time_utc": pd.to_datetime(["2024-02-06T06:00"], utc=True), "night": ["2024-02-05"], "flags": [""]})
    manifest.to_parquet(tmp_path / "archive" / "manifest.parquet")
    (tmp_path / "solarwind.nc").write_bytes(b"solar wind")
    (tmp_path / "lab.csv").write_text("path,label\n20240206T060000Z.jpg,yes\n")
    before = {p: p.read_bytes() for p in (tmp_path / "archive" / "manifest.parquet", tmp_path / "solarwind.nc")}
    cases = [
        (["query", "--index", "index.zarr", "--format", "parquet", "--out", "archive/manifest.parquet"], "input of the project"),
        (["keogram", "--night", "2024-02-05", "--index", "index.zarr", "--out", "solarwind.png"], "input of the project"),
        (["keogram", "--night", "2024-02-05", "--index", "index.zarr", "--out", "k.nc"], "write a .png or .svg file"),
        (["recurrence", "--index", "index.zarr", "--out", "r.nc"], "write a .png or .svg file"),
        (["recurrence", "--index", "index.zarr", "--solarwind", "nothere.nc"], "--solarwind nothere.nc: no such file"),
        (["query", "--index", "index.zarr", "--format", "csv", "--out", "solarwind.nc"], "write a .csv file"),
        (["label", "import", "lab.csv", "--store", "archive/manifest.parquet"], "not a label store"),
    ]
    for args, expected in cases:
        assert_one_line_error(aurora_sw(*args, cwd=tmp_path), expected)
    assert all(p.read_bytes() == b for p, b in before.items())


def test_evaluate_with_no_scorable_frame_fails_instead_of_reporting_nan(files):
    """Found by probing: frames that cannot be read gave '0 frames: accuracy nan', exit 0."""
    res = aurora_sw("evaluate", "--model", "model.pt", "--labels", "split.parquet", "--out", "report_nan", cwd=files)
    last = res.stderr.strip().splitlines()[-1]
    assert res.returncode == 1 and last == ("aurora-sw: error: none of the 1 frames could be scored (first: b.jpg); "
                                            "relative paths are read from the working directory"), res.stderr
    assert not (files / "report_nan" / "metrics.json").exists()


def test_an_unreachable_dask_scheduler_is_one_line(tmp_path):
    """`--scheduler` naming nothing: one line naming it, exit 1, within the connect timeout (never a hang)."""
    import socket
    import subprocess
    import sys

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "frames").mkdir()
    res = subprocess.run([sys.executable, "-m", "aurora_sw", "ingest", str(tmp_path / "frames"), "--out", str(tmp_path / "arch"), "--scheduler", f"tcp://127.0.0.1:{port}"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and f"--scheduler tcp://127.0.0.1:{port}: cannot reach the Dask scheduler" in lines[0], res.stderr


def test_what_the_system_refuses_mid_run_is_one_line_naming_the_file(monkeypatch, capsys, tmp_path):
    """A full disk or a folder removed while `score` writes a night (an OSError from deep in Zarr)
    ended in a traceback: it is one line naming the file and the reason, exit 1; with
    AURORA_SW_TRACEBACK=1 the traceback is shown instead."""
    import errno

    import aurora_sw.workflows.score as score_workflow
    from aurora_sw import cli

    store = tmp_path / "index.zarr.partial" / "p_aurora" / "c" / "3"

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(store))

    monkeypatch.setattr(score_workflow, "score", full_disk)
    monkeypatch.setattr(sys, "argv", ["aurora-sw", "score", "--archive", str(tmp_path), "--model", str(tmp_path / "m.pt"), "--out", str(tmp_path / "index.zarr")])
    monkeypatch.delenv("AURORA_SW_TRACEBACK", raising=False)
    with pytest.raises(SystemExit) as stop:
        cli.main()
    assert stop.value.code == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"aurora-sw: error: {store}: No space left on device;"), lines
    assert "--resume" in lines[0]
    monkeypatch.setenv("AURORA_SW_TRACEBACK", "1")
    with pytest.raises(OSError, match="No space left"):
        cli.main()
    def write_failed(*args, **kwargs):
        raise AuroraSWError("index.zarr: writing night 2024-02-06 failed (KeyError: 'sky_b')") from KeyError("sky_b")

    monkeypatch.setattr(score_workflow, "score", write_failed)
    with pytest.raises(AuroraSWError):  # its cause's traceback, on request
        cli.main()
    monkeypatch.delenv("AURORA_SW_TRACEBACK")
    with pytest.raises(SystemExit):
        cli.main()
    assert capsys.readouterr().err.strip() == "aurora-sw: error: index.zarr: writing night 2024-02-06 failed (KeyError: 'sky_b')"
    rename = OSError(errno.EXDEV, os.strerror(errno.EXDEV), "a.zarr.partial", None, "a.zarr")
    assert cli.os_error_line(rename) == f"a.zarr.partial -> a.zarr: {os.strerror(errno.EXDEV)}"
    assert cli.os_error_line(OSError("socket closed")) == "socket closed"


@pytest.mark.parametrize("earlier, resume, writes, expected", [
    (False, False, True, "{last} holds the last finished epoch: run the same command with --resume to continue from it"),
    (True, False, True, "{last} holds the last finished epoch: run the same command with --resume to continue from it"),
    (False, False, False, "no epoch had finished, so there is nothing to resume"),
    (True, False, False, "no epoch had finished, so there is nothing to resume ({last} is an earlier training's)"),
    (True, True, False, "no epoch finished in this run; --resume continues from {last} as before"),
])
def test_training_stopped_with_ctrl_c_says_whether_it_can_resume(files, tmp_path, monkeypatch, earlier, resume, writes, expected):
    """Ctrl-C ended `train` with exit code 130 and no word: one line now says whether --resume goes on, and
    from what (a last.pt of an earlier training in OUT is not this run's)."""
    from typer.testing import CliRunner

    from aurora_sw.cli import app

    out = tmp_path / "model"
    out.mkdir()
    if earlier:
        (out / "last.pt").write_bytes(b"an earlier training")

    def interrupted(table, out, *args, **kwargs):
        if writes:
            (out / "last.pt").write_bytes(b"an epoch of this run")
        raise KeyboardInterrupt

    monkeypatch.setattr("aurora_sw.workflows.train.train", interrupted)
    args = ["train", "--labels", str(files / "labels.parquet"), "--from-scratch", "--out", str(out)] + (["--resume"] if resume else [])
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 130, res.output
    assert res.stderr.strip() == "aurora-sw: interrupted; " + expected.format(last=out / "last.pt")


def test_the_objects_left_at_the_end_of_a_command_are_frozen_out_of_the_collector(monkeypatch, files):
    """The collector's passes at exit walked everything torch, xarray and dask left (~0.8 s of each
    `score`); main() freezes what is alive once the command is done, however it ends (the exit time
    itself is measured in benchmarks/score_end_to_end.py)."""
    import gc

    from aurora_sw.cli import main

    gc.unfreeze()
    try:
        for argv, code in ((["aurora-sw", "--help"], 0), (["aurora-sw", "train", "--labels", str(files / "nope.parquet"), "--from-scratch"], 1)):
            monkeypatch.setattr(sys, "argv", argv)
            with pytest.raises(SystemExit) as stop:
                main()
            assert stop.value.code == code and gc.get_freeze_count() > 0
            gc.unfreeze()
    finally:
        gc.unfreeze()


@pytest.mark.parametrize("written", [False, True])
def test_ingest_stopped_with_ctrl_c_says_what_was_written_and_how_to_go_on(files, tmp_path, monkeypatch, written):
    """Ctrl-C in `ingest`: one line, exit code 130, true whether or not the manifest was written by then
    (tests/test_video.py: the rerun decodes only the movies not done)."""
    from typer.testing import CliRunner

    from aurora_sw.cli import app

    manifest = tmp_path / "archive" / "manifest.parquet"

    def interrupted(*args, **kwargs):
        if written:
            manifest.parent.mkdir()
            manifest.write_bytes(b"the manifest")
        raise KeyboardInterrupt

    monkeypatch.setattr("aurora_sw.ingest.ingest", interrupted)
    res = CliRunner().invoke(app, ["ingest", str(files), "--out", str(tmp_path / "archive")])
    assert res.exit_code == 130, res.output
    expected = (f"{manifest} was written; run the same command again to finish (nothing is decoded again)" if written else
                f"nothing was added to {manifest} (it is written at the end); the movies decoded completely are kept and the same command "
                "decodes only the rest")
    assert res.stderr.strip() == f"aurora-sw: interrupted; {expected}"
