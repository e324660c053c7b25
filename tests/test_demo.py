"""The quick demo end to end: the acceptance numbers of the foundation."""

import json

import numpy as np
import pandas as pd
import pytest

from aurora_sw import open_index
from aurora_sw.index.summary import nightly_summary

pytestmark = pytest.mark.slow


def test_quick_demo_recovers_the_planted_lag(demo_run):
    out, s = demo_run
    saved = json.loads((out / "summary.json").read_text())
    for key in ("planted_lag_min", "recovered_lag_min", "lag_ci_min", "classifier_accuracy", "n_frames_scored"):
        assert key in saved
    assert abs(s["recovered_lag_min"] - s["planted_lag_min"]) <= 5
    lo, hi = s["lag_ci_min"]
    assert lo <= s["planted_lag_min"] <= hi
    assert s["peak_p_value"] > s["peak_p_value_naive"]  # autocorrelation makes the evidence weaker


def test_quick_demo_classifier_generalises_to_held_out_nights(demo_run):
    """Held-out accuracy of the quick demo's classifier (chance: ~0.6, the share of the larger class).
    Measured (2026-12-04, the sky with corona, pulsating patches and camera looks): seed 0, the one
    this test runs, 0.937 on 2 threads and 0.961 on 1 (as `make test` runs it, two workers); seeds
    1-4 on 2 threads 0.924/0.977/0.991/0.861. The 16-epoch, 800-label training is chaotic, and a
    different summation order moves it by several points, as another CPU does; before the new sky
    seed 0 gave 0.971 (2 threads) and 0.897 (1 thread). 0.85 holds for seed 0 under all of them."""
    _, s = demo_run
    assert s["classifier_accuracy"] >= 0.85
    assert s["classifier_metrics"]["n"] > 500  # every frame of the held-out night, not a sample


def test_quick_demo_classifier_tells_both_classes_apart_on_the_held_out_night(demo_run):
    """Seed 1 once called every held-out frame aurora (684 false positives, no true negative) and
    still reported a lag: the model kept was a constant predictor chosen by validation loss."""
    from aurora_sw.model import load_checkpoint

    out, s = demo_run
    c = s["classifier_metrics"]["confusion"]
    assert c["tp"] / (c["tp"] + c["fn"]) > 0.8 and c["tn"] / (c["tn"] + c["fp"]) > 0.8
    check = load_checkpoint(out / "model" / "best.pt").metrics["validation_check"]
    assert not check["degenerate"] and check["balanced_accuracy"] > 0.8
    assert s["classifier_validation_check"] == check


def test_index_is_regular_labelled_and_complete(demo_run):
    out, s = demo_run
    ds = open_index(out / "index.zarr").load()
    t = ds.time.values
    assert np.all(np.diff(t) == np.timedelta64(1, "m"))
    assert int(ds.p_aurora.notnull().sum()) == s["n_frames_scored"]
    for name in ds.data_vars:
        assert "long_name" in ds[name].attrs, name
    assert ds.attrs["model_sha256"]
    summ = nightly_summary(ds)
    assert list(summ.index) == s["nights"]
    # The index must track the truth: more aurora on nights the truth says had more.
    assert 0 < summ.aurora_fraction.mean() < 1


def test_correlate_and_epochs_commands_on_the_demo(demo_run, tmp_path):
    import subprocess
    import sys

    out, s = demo_run
    syn = out / "synthetic"
    common = ["--index", str(out / "index.zarr"), "--offline", "--cache", str(syn / "omni_data"), "--kp-cache", str(syn / "kp_data"), "--out", str(tmp_path)]
    res = subprocess.run([sys.executable, "-m", "aurora_sw", "correlate", "--vars", "newell,kp", "--lags", "-60:180", "--condition", "Night", *common],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    newell = next(line for line in res.stdout.splitlines() if line.startswith("newell"))
    assert "Granger p" in newell
    lag = float(newell.split("peak lag")[1].split("min")[0])
    assert abs(lag - s["planted_lag_min"]) <= 5
    assert (tmp_path / "lag_newell_p_aurora.png").stat().st_size > 10_000
    res = subprocess.run([sys.executable, "-m", "aurora_sw", "epochs", "--events", "southward", *common], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "rises above the random-epoch band" in res.stdout
    assert (tmp_path / "epochs_southward_p_aurora.nc").exists()


def test_recurrence_command_on_the_demo(demo_run, tmp_path):
    import subprocess
    import sys

    out, _ = demo_run
    png = tmp_path / "recurrence.png"
    res = subprocess.run([sys.executable, "-m", "aurora_sw", "recurrence", "--index", str(out / "index.zarr"), "--var", "newell", "--out", str(png)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert png.stat().st_size > 20_000
    rows = int(res.stdout.split(" bartels rotations")[0].split()[-1])
    assert rows >= 3  # the synthetic solar wind spans several rotations, not just the imaged nights
    aurora = pd.read_csv(tmp_path / "recurrence_aurora.csv", index_col=0)
    assert aurora.notna().sum().sum() >= 3  # the imaged nights are filled in
    assert "27-day autocorrelation r =" in res.stdout


def test_keogram_command_reads_the_stored_keogram(demo_run, tmp_path):
    import subprocess
    import sys

    from aurora_sw import open_keogram

    out, s = demo_run
    night = s["nights"][0]
    png = tmp_path / "keo.png"
    res = subprocess.run([sys.executable, "-m", "aurora_sw", "keogram", "--index", str(out / "index.zarr"), "--night", night, "--out", str(png)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert png.stat().st_size > 10_000 and png.with_suffix(".nc").exists()
    keo = open_keogram(out / "index.zarr", night)
    ds = open_index(out / "index.zarr").sel(time=keo["time"]).load()
    dark = (ds["sun_alt"] < -18).values & keo.notnull().all(["meridian_angle", "channel"]).values
    zenith_green = (keo.sel(channel="G") - keo.sel(channel=["R", "B"]).mean("channel")).sel(meridian_angle=slice(30, 150)).mean("meridian_angle")
    # The stored meridian sees the aurora the classifier sees: greener on the dark minutes called aurora.
    assert zenith_green.values[dark & (ds["p_aurora"] > 0.5).values].mean() > zenith_green.values[dark & (ds["p_aurora"] < 0.5).values].mean() + 1.0


def test_quick_demo_forecast_beats_persistence_an_hour_ahead(demo_run):
    """The synthetic aurora follows the solar wind 45 min later: an hour ahead, the forecast must beat
    holding what the camera sees now (held-out nights)."""
    out, s = demo_run
    v = s["forecast"]["leads"]["60"]
    assert v["n_nights"] == 4 and v["model"] == "logistic"
    assert v["bss"]["persistence"] > 0.1 and v["roc_auc"] > 0.65  # seeds 0-4 here: +0.22 .. +0.52 and 0.59 .. 0.84 (seed 0: +0.33, 0.84)
    saved = json.loads((out / "forecast" / "verification.json").read_text())
    assert saved["leads"]["60"]["bss"] == v["bss"]


def test_forecast_commands_on_the_demo(demo_run, tmp_path):
    import subprocess
    import sys

    out, s = demo_run
    syn = out / "synthetic"
    sw = ["--offline", "--cache", str(syn / "omni_data"), "--kp-cache", str(syn / "kp_data")]

    def run(*args):
        return subprocess.run([sys.executable, "-m", "aurora_sw", "forecast", *map(str, args)], capture_output=True, text=True, timeout=300)

    res = run("train", "--index", out / "index.zarr", "--leads", "30", *sw, "--out", tmp_path / "fc")
    assert res.returncode == 0, res.stderr
    line = next(x for x in res.stdout.splitlines() if x.startswith("t+ 30 min"))
    assert "ROC-AUC" in line and "persistence" in line and "kp_rule" in line
    assert {"model.json", "lead_30.skops", "verification.json", "verification.png"} <= {p.name for p in (tmp_path / "fc").iterdir()}

    at = f"{s['nights'][1]}T06:00"
    res = run("predict", "--model", tmp_path / "fc", "--at", at, "--index", out / "index.zarr", *sw)
    assert res.returncode == 0, res.stderr
    p = float(res.stdout.split("p(aurora) = ")[1].split()[0])
    assert 0 <= p <= 1 and "solar wind and camera" in res.stdout

    for args, needle in [
        (("train", "--index", out / "index.zarr", "--leads", "-5", *sw), "--leads '-5'"),
        (("train", "--index", out / "index.zarr", "--vars", "nope", *sw), "--vars: 'nope'"),
        (("predict", "--model", tmp_path / "fc", *sw), "--at TIME or --now"),
        (("predict", "--model", tmp_path / "fc", "--at", "notadate", *sw), "--at 'notadate'"),
        (("predict", "--model", tmp_path / "nothing", "--at", at, *sw), "no forecast model here"),
    ]:
        res = run(*args)
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 1 and len(lines) == 1 and needle in lines[0], res.stderr


def test_the_demo_morphology_stage_trains_and_reports_each_class(demo_run, tmp_path):
    """The default demo's morphology stage on the quick demo's frames (2 epochs, so only the plumbing
    is asked of it): the sampled frames labelled with their sky class train the six-class model,
    which is evaluated on every frame of the held-out nights; or, if 2 epochs pass no validation
    check, the summary says so in one entry instead of stopping the demo."""
    from aurora_sw.catalog import load_catalog
    from aurora_sw.demo import DemoConfig, morphology_line, morphology_stage
    from aurora_sw.ingest import read_manifest
    from aurora_sw.labels import MORPHOLOGY_CLASSES, LabelStore
    from aurora_sw.layout import ProjectLayout

    out, summary = demo_run
    catalog = load_catalog()
    layout = ProjectLayout(out, catalog.outputs)
    truth = pd.read_csv(layout.synthetic / "truth" / "frames.csv")
    if "morphology" not in truth:
        pytest.skip("this demo was made before the synthetic truth had sky classes (AURORA_SW_TEST_DEMO)")
    truth["path"] = [str((layout.synthetic / p).resolve()) for p in truth["path"]]
    truth = truth.set_index("path")
    manifest = read_manifest(layout.archive)
    held = manifest[manifest["night"].isin(summary["classifier_heldout_nights"])]
    sample = LabelStore(layout.labels).df.groupby("night").head(60)  # a few labels a night: the plumbing, fast
    own = ProjectLayout(tmp_path, catalog.outputs)  # the stage writes model/morphology here, not into the shared demo
    entry = morphology_stage(own, sample, truth, held, catalog, DemoConfig.quick(morphology_epochs=2), progress=False)
    line = morphology_line(entry)
    if "problem" in entry:
        assert "gave no usable classifier" in entry["problem"] and line.startswith("no usable classifier")
        return
    assert entry["n"] == len(held) and sum(v["support"] for v in entry["per_class"].values()) == len(held)
    assert set(entry["per_class"]) == set(MORPHOLOGY_CLASSES) and entry["heldout_nights"] == summary["classifier_heldout_nights"]
    assert 0 <= entry["class_accuracy"] <= 1 and "class accuracy" in line
    assert (tmp_path / "model" / "morphology" / "heldout" / "confusion.csv").exists()
