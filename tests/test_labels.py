import numpy as np
import pandas as pd
import pytest

from aurora_sw.errors import AuroraSWError
from aurora_sw.labels import LabelStore, sample_for_labelling, split_by_night


def fake_manifest(nights=6, per_night=100, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for n in range(nights):
        night = f"2024-02-{n + 1:02d}"
        for i in range(per_night):
            rows.append(
                dict(path=f"/f/{night}/{i}.jpg", time_utc=pd.Timestamp(night, tz="UTC") + pd.Timedelta(minutes=i), night=night,
                     sun_class="Night" if i % 5 else "Astro", moon_class="NoMoon" if i % 7 else "Moon_Full", flags="",
                     label="yes" if rng.random() < 0.3 else "no")
            )
    return pd.DataFrame(rows)


def test_sample_is_date_aware_and_reproducible():
    m = fake_manifest()
    s = sample_for_labelling(m, per_night=20, seed=1)
    assert s.groupby("night").size().max() <= 20
    assert set(s.sun_class) == {"Night"} and set(s.moon_class) == {"NoMoon"}
    assert s.night.nunique() == 6
    first = s[s.night == "2024-02-01"]
    minutes = (first.time_utc - pd.Timestamp("2024-02-01", tz="UTC")).dt.total_seconds() / 60
    assert minutes.min() < 20 and minutes.max() > 80  # spread over the night, not bunched
    assert s.equals(sample_for_labelling(m, per_night=20, seed=1))


def test_sample_takes_at_most_half_a_night():
    m = fake_manifest(nights=2, per_night=10)
    s = sample_for_labelling(m, per_night=20, sun_classes=("Night", "Astro"), moon_classes=("NoMoon", "Moon_Full"))
    assert s.groupby("night").size().max() <= 5


def test_no_night_in_two_splits_and_balanced():
    sp = split_by_night(fake_manifest(), val_fraction=0.34, test_fraction=0.17, seed=3)
    owners = sp.groupby("night")["split"].nunique()
    assert owners.max() == 1
    assert set(sp.split) == {"train", "val", "test"}
    for _, part in sp.groupby("split"):
        counts = part.label.value_counts()
        assert counts["yes"] == counts["no"]


def test_split_needs_two_nights():
    with pytest.raises(AuroraSWError, match="at least 2 nights"):
        split_by_night(fake_manifest(nights=1))


def test_label_store_latest_label_wins_and_persists(tmp_path):
    m = fake_manifest(nights=1, per_night=3)
    store = LabelStore(tmp_path / "labels.parquet")
    store.add(m, labeller="ana")
    m2 = m.iloc[:1].assign(label="unsure")
    store.add(m2, labeller="ben")
    again = LabelStore(tmp_path / "labels.parquet")
    assert len(again) == 3
    assert again.df.set_index("path").loc[m.path.iloc[0], "label"] == "unsure"
    with pytest.raises(AuroraSWError, match="labels must be one of"):
        store.add(m.assign(label="maybe"))
