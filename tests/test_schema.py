"""The index schema is what the store holds: every variable, in order, with its dtype and attributes,
and stores written before the schema had one home still read and re-write to the same bytes."""


import numpy as np
import pandas as pd
import pytest
import xarray as xr
import zarr
from test_store import NIGHTS, scored_frames  # a store written from made-up scores, in seconds

from aurora_sw.camera import FRAME_PROBLEMS
from aurora_sw.index.schema import (
    CLASS_VARIABLES, EMBEDDING, EMBEDDING_GROUP, FLAG_BITS, KEOGRAM, KEOGRAM_GROUP, NO_FRAME, VARIABLES, class_names, flags_to_bits, night_grid, night_window,
)
from aurora_sw.index.store import build_index, init_store, open_index, write_night


def assert_matches_schema(store) -> None:
    """Every schema variable is stored with its dtype and CF attributes, and checksummed in the schema's order."""
    ds = xr.open_zarr(store, consolidated=False)
    assert sorted(v for v in ds.data_vars if ds[v].dims == ("time",)) == sorted(VARIABLES)  # Zarr lists them by name
    for name, var in VARIABLES.items():
        attrs = {k: v for k, v in ds[name].attrs.items() if k != "threshold"}
        expected = var.attrs
        if name == "flags":  # a store older than a flag knows fewer flags, never other bits for the same one
            n = len(attrs["flag_masks"])
            expected.update(flag_masks=expected["flag_masks"][:n], flag_meanings=" ".join(expected["flag_meanings"].split()[:n]))
        assert (str(ds[name].dtype), attrs) == (var.dtype, expected), name
    assert ds["aurora"].attrs["threshold"] == 0.5
    root = zarr.open_group(str(store), mode="r")
    embedded = EMBEDDING_GROUP in root  # stores scored with a checkpoint that has an embedding basis
    if "night_digest" in root:  # stores from before checksums keep none
        # one checksum each, in this order
        assert list(root["night_digest"].attrs["variables"]) == [*VARIABLES, KEOGRAM_GROUP, *([EMBEDDING_GROUP] if embedded else [])]
    keogram = root[KEOGRAM_GROUP][KEOGRAM_GROUP]
    assert (str(keogram.dtype), {k: v for k, v in keogram.attrs.items() if k in KEOGRAM.attrs}) == (KEOGRAM.dtype, KEOGRAM.attrs)
    if embedded:
        emb = root[EMBEDDING_GROUP][EMBEDDING_GROUP]
        assert (str(emb.dtype), emb.shape[1], {k: v for k, v in emb.attrs.items() if k in EMBEDDING.attrs}) == (
            EMBEDDING.dtype, int(root.attrs["embedding_dim"]), EMBEDDING.attrs)


def frames_of(store, night: str) -> pd.DataFrame:
    """The scored frames a night of ``store`` was written from, read back from what it holds."""
    ds = open_index(store).sel(time=night_window(night)).load()
    keep = ds["night"].notnull().values  # minutes with a frame (scored or flagged)
    df = pd.DataFrame({"time_utc": pd.DatetimeIndex(ds["time"].values[keep]).tz_localize("UTC")})
    for name, var in VARIABLES.items():
        if name in CLASS_VARIABLES:
            df[name] = class_names(ds[name])[keep]
        elif name == "flags":
            bits = ds[name].values[keep]
            df[name] = [",".join(f for f, bit in FLAG_BITS.items() if b & bit) for b in bits]
        elif name != "aurora":  # aurora is p_aurora >= threshold
            df[name] = ds[name].values[keep]
    keogram = xr.open_zarr(store, group=KEOGRAM_GROUP, consolidated=False)["keogram"].sel(time=night_window(night)).values
    df["meridian"] = list(keogram[keep])
    if EMBEDDING_GROUP in zarr.open_group(str(store), mode="r"):
        emb = xr.open_zarr(store, group=EMBEDDING_GROUP, consolidated=False)[EMBEDDING_GROUP].sel(time=night_window(night)).values
        df["embedding"] = list(emb[keep])
    return df


def rewrites_to_the_same_bytes(store, tmp_path) -> None:
    """Every night written again, from the values it holds, into a new store: the same stored bytes
    for every variable and the keogram, and the same checksum record where the old store keeps one."""
    old = zarr.open_group(str(store), mode="r")
    ds = xr.open_zarr(store, consolidated=False)
    nights = pd.DatetimeIndex(ds["night_slot"].values).strftime("%Y-%m-%d")
    done = ds["night_done"].values.astype(bool)
    assert done.any()
    new_path = init_store(tmp_path / "rewritten.zarr", nights[0], nights[-1], float(ds["aurora"].attrs["threshold"]),
                          {"embedding_dim": ds.attrs.get("embedding_dim", 0)})
    for night in nights[done]:
        write_night(new_path, night, frames_of(store, night))
    new = zarr.open_group(str(new_path), mode="r")
    for slot in np.flatnonzero(done):
        region = slice(slot * 1440, (slot + 1) * 1440)
        for name in VARIABLES:
            assert new[name][region].tobytes() == old[name][region].tobytes(), (nights[slot], name)
        for group in (KEOGRAM_GROUP, *([EMBEDDING_GROUP] if EMBEDDING_GROUP in old else [])):
            assert new[group][group][region].tobytes() == old[group][group][region].tobytes(), (nights[slot], group)
        if "night_digest" in old:
            assert new["night_digest"][slot].tobytes() == old["night_digest"][slot].tobytes(), nights[slot]
            assert new["night_digest"][slot].any()


def test_build_index_writes_the_schema(tmp_path):
    store = tmp_path / "index.zarr"
    init_store(store, NIGHTS[0], NIGHTS[-1], 0.5, {"model_sha256": "test"})
    frames = scored_frames(NIGHTS[0], 0, n=40)
    frames.loc[::4, "flags"] = "dark,truncated"
    frames.loc[::3, "sun_class"] = "Astro"
    frames.loc[::5, "moon_class"] = "Moon_Full"
    frames["cam_centroid_elevation"] = 45.0
    write_night(store, NIGHTS[0], frames)
    assert_matches_schema(store)
    rewrites_to_the_same_bytes(store, tmp_path)


def test_codes_and_flags_read_back_as_written():
    frames = scored_frames(NIGHTS[0], 0, n=6).assign(flags=["", "dark", "truncated,greyscale", "", "unreadable", ""])
    frames.loc[1, "sun_class"] = "Civil"
    frames.loc[2, "moon_class"] = "Moon_Quarter"
    ds = build_index(frames.iloc[[0, 1, 2, 4, 5]], 0.5)  # one minute without a frame
    assert list(class_names(ds["sun_class"])) == ["Night", "Civil", "Night", "", "Night", "Night"]
    assert list(class_names(ds["moon_class"])) == ["NoMoon", "NoMoon", "Moon_Quarter", "", "NoMoon", "NoMoon"]
    assert list(ds["aurora"].values)[3] == NO_FRAME and np.isnan(ds["p_aurora"].values[3])
    assert list(ds["flags"].values) == [0, FLAG_BITS["dark"], FLAG_BITS["truncated"] | FLAG_BITS["greyscale"], 0, FLAG_BITS["unreadable"], 0]


def test_every_frame_problem_has_a_flag_bit():
    """A reason the frame reader gives becomes a manifest flag; one without a bit would vanish from the index."""
    assert set(FRAME_PROBLEMS) <= set(FLAG_BITS)
    bits = list(FLAG_BITS.values())
    assert len(set(bits)) == len(bits) and all(b & (b - 1) == 0 for b in bits)  # one bit each
    assert flags_to_bits(pd.Series([",".join(FLAG_BITS), None])).tolist() == [sum(bits), 0]


def test_each_night_is_one_chunk_from_18_utc():
    grid = night_grid("2024-02-05", "2024-02-06")
    assert len(grid) == 2 * 1440 and grid[0] == pd.Timestamp("2024-02-05 18:00") and grid[1440] == pd.Timestamp("2024-02-06 18:00")
    window = night_window("2024-02-06")
    assert (window.start, window.stop) == (grid[1440], grid[-1])


@pytest.mark.slow
def test_the_demo_store_matches_the_schema_and_rewrites_to_the_same_bytes(demo_run, tmp_path):
    """With AURORA_SW_TEST_DEMO pointing at a demo made before the schema moved, this is the old format."""
    out, _ = demo_run
    assert_matches_schema(out / "index.zarr")
    rewrites_to_the_same_bytes(out / "index.zarr", tmp_path)
