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


ADD_ONE_BY_ONE = """
import pathlib, sys, time
import pandas as pd
from aurora_sw.labels import LabelStore
store_path, who, go = sys.argv[1:4]
store = LabelStore(store_path)  # read before the other process writes: a stale copy
while not pathlib.Path(go).exists():
    time.sleep(0.01)
for i in range(40):
    t = pd.Timestamp("2024-02-06T05:00Z") + pd.Timedelta(minutes=i)
    row = pd.DataFrame({"path": [f"/f/{who}/{i}.jpg"], "time_utc": [t], "night": ["2024-02-05"], "label": ["yes"]})
    store.add(row, labeller=who)
"""


def test_two_labelling_processes_keep_every_label(tmp_path):
    """Two real processes (an Explorer tab and an import) adding labels at once: none lost."""
    import subprocess
    import sys

    store = tmp_path / "labels.parquet"
    procs = [
        subprocess.Popen([sys.executable, "-c", ADD_ONE_BY_ONE, str(store), who, str(tmp_path / "go")], stderr=subprocess.PIPE, text=True)
        for who in ("ana", "ben")
    ]
    (tmp_path / "go").touch()
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()
    df = LabelStore(store).df
    assert len(df) == 80 and df.groupby("labeller").size().to_dict() == {"ana": 40, "ben": 40}


def test_a_label_store_held_by_another_writer_is_refused_in_one_line(tmp_path):
    from aurora_sw.locking import LockedError, writer_lock

    store = LabelStore(tmp_path / "labels.parquet", lock_timeout_s=0)
    store.add(fake_manifest(nights=1, per_night=2), labeller="ana")
    with writer_lock(tmp_path / "labels.parquet"):
        with pytest.raises(LockedError, match=r"labels.parquet: being written by pid \d+ on .* since "):
            store.add(fake_manifest(nights=1, per_night=3), labeller="ben")
    assert len(LabelStore(tmp_path / "labels.parquet")) == 2
