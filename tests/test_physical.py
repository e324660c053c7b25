"""Physical indices separate aurora from clear, cloudy and moonlit skies without aurora."""

import numpy as np
import pandas as pd
import pytest

from aurora_sw.camera import read_square_frame
from aurora_sw.index.background import area_above_night_background, green_excess_map
from aurora_sw.index.physical import frame_indices
from aurora_sw.index.schema import INDEX_NAMES
from aurora_sw.model.evaluate import roc_auc


@pytest.fixture(scope="module")
def skies(tmp_path_factory, catalog):
    """A new-Moon night (clear and cloudy skies) and a full-Moon night (moonlit), 256 px frames."""
    from aurora_sw.synthetic import generate_archive

    new = generate_archive(tmp_path_factory.mktemp("new"), "2024-02-07", n_nights=1, seed=4, size=256, catalog=catalog, progress=False)
    full = generate_archive(tmp_path_factory.mktemp("full"), "2024-02-23", n_nights=1, seed=4, size=256, catalog=catalog, progress=False)
    parts, X = [], []
    for a in (new, full):  # one night each: the background model is fitted per night
        t = pd.read_csv(a.truth_csv)
        frames = [read_square_frame(f"{a.root}/{p}", 180) for p in t["path"]]
        night_area = area_above_night_background(np.array([green_excess_map(f) for f in frames]))
        X.append(np.column_stack([np.array([frame_indices(f) for f in frames]), night_area]))
        parts.append(t)
    return pd.concat(parts, ignore_index=True), np.concatenate(X)


COLUMNS = [*INDEX_NAMES, "aurora_area_night"]


def aucs(t, X):
    y = t["aurora_visible"].to_numpy()
    no = ~y
    groups = {
        "clear": no & (t["cloud_cover"] < 0.1).to_numpy() & (t["moon_alt"] < 0).to_numpy(),
        "cloudy": no & (t["cloud_cover"] > 0.3).to_numpy(),
        "moonlit": no & (t["moon_alt"] > 10).to_numpy(),
    }
    out = {}
    for sky, negatives in groups.items():
        assert negatives.sum() >= 20, sky
        sel = y | negatives
        out[sky] = {name: roc_auc(y[sel], X[sel, COLUMNS.index(name)]) for name in ("green_excess", "aurora_area", "aurora_area_night")}
    return out


def test_green_excess_and_area_separate_aurora_in_every_sky(skies):
    result = aucs(*skies)
    print(result)
    for sky, by_index in result.items():
        assert by_index["green_excess"] >= 0.9, (sky, by_index)
        assert by_index["aurora_area_night"] >= 0.9, (sky, by_index)  # measured 0.94-0.99
        # the single-frame area (fixed 6 DN threshold) measured 0.90-0.94; the night model beats it
        assert by_index["aurora_area_night"] > by_index["aurora_area"], (sky, by_index)


def test_median_and_p99_from_histograms_equal_numpy_bit_for_bit():
    """frame_indices takes the excess's median and 99th percentile from a histogram; numpy's
    np.median / np.percentile (linear) on the same float32 values are the reference, exactly."""
    from aurora_sw.index.physical import median_and_p99

    rng = np.random.default_rng(3)
    for trial in range(400):
        n = int(rng.integers(1, 4000))  # odd and even counts, tiny ones included
        rgb = rng.integers(0, 256, (n, 3)) if trial % 2 else np.clip(rng.normal(30, 1 + trial % 40, (n, 3)), 0, 255)
        px = rgb.astype(np.uint8).astype(np.float32)
        for excess in (px[:, 1] - 0.5 * (px[:, 0] + px[:, 2]), px[:, 0] - 0.5 * (px[:, 1] + px[:, 2])):
            median, p99 = median_and_p99(excess)
            assert (median, p99) == (np.median(excess), np.percentile(excess, 99)), n
            assert median.dtype == p99.dtype == np.float32
