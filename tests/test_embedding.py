"""Embeddings: the checkpoint's basis (checked against scikit-learn), stored per minute with the index
(checksummed like every variable), and the map of the archive made from them."""

import numpy as np
import pandas as pd
import pytest
import torch

from aurora_sw.errors import AuroraSWError
from aurora_sw.model.embedding import EMBEDDING_DIM, fit_basis, project


def test_the_basis_is_the_pca_of_standardised_features_as_scikit_learn_computes_it():
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    feats = rng.normal(size=(300, 60)) @ rng.normal(size=(60, 60)) * rng.uniform(0.01, 100, 60)  # scales over 4 decades
    basis = fit_basis(feats)
    assert basis["components"].shape == (EMBEDDING_DIM, 60) and all(v.dtype == torch.float32 for v in basis.values())
    ours = project(feats, basis).astype(float)
    z = StandardScaler().fit_transform(feats)
    theirs = PCA(n_components=EMBEDDING_DIM).fit_transform(z)
    signs = np.sign((ours * theirs).sum(0))  # a component's sign is arbitrary
    assert np.allclose(ours * signs, theirs, atol=0.02 * np.abs(theirs).max())
    assert project(feats, basis).dtype == np.float16
    assert fit_basis(feats[:10])["components"].shape == (10, 60)  # fewer frames than components: as many as there are


def test_a_damaged_basis_in_a_checkpoint_is_refused(tmp_path):
    from aurora_sw.model.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
    from aurora_sw.model.factory import create_model

    ckpt = Checkpoint("efficientnet_b1", create_model("efficientnet_b1", num_classes=2).state_dict(), 64)
    ckpt.embedding_basis = fit_basis(np.random.default_rng(1).normal(size=(40, 1280)))
    save_checkpoint(ckpt, tmp_path / "ok.pt")
    back = load_checkpoint(tmp_path / "ok.pt").embedding_basis
    assert all(torch.equal(back[k], ckpt.embedding_basis[k]) for k in back)
    ckpt.embedding_basis = {**ckpt.embedding_basis, "scale": torch.ones(7)}
    save_checkpoint(ckpt, tmp_path / "bad.pt")
    with pytest.raises(AuroraSWError, match="embedding basis is damaged"):
        load_checkpoint(tmp_path / "bad.pt")


@pytest.fixture(scope="module")
def demo_store(demo_run):
    from aurora_sw.index.store import open_embedding, open_index
    from aurora_sw.model.checkpoint import load_checkpoint

    out, _ = demo_run
    return out, open_index(out / "index.zarr"), open_embedding(out / "index.zarr"), load_checkpoint(out / "model" / "best.pt")


def test_training_fits_a_basis_and_score_stores_each_minutes_embedding(demo_store):
    from aurora_sw.ingest import read_manifest

    out, index, emb, ckpt = demo_store
    assert ckpt.embedding_basis is not None and ckpt.embedding_basis["components"].shape == (EMBEDDING_DIM, 1280)
    scored = index["p_aurora"].notnull().values
    assert emb is not None and emb.shape == (int(scored.sum()), EMBEDDING_DIM) and np.isfinite(emb.values).all()
    assert emb.attrs["units"] == "1" and "principal components" in emb.attrs["long_name"]
    # The stored rows are the projection of the frames' pooled features (PyTorch here, ONNX Runtime in score).
    manifest = read_manifest(out / "archive")
    manifest["minute"] = pd.to_datetime(manifest["time_utc"], utc=True).dt.tz_localize(None).dt.floor("1min")
    picks = manifest.drop_duplicates("minute").set_index("minute").loc[pd.DatetimeIndex(emb["time"].values[::97])]
    expected = project(_scoring_features(ckpt, list(picks["path"])), ckpt.embedding_basis).astype(float)
    assert np.abs(emb.values[::97] - expected).max() < 0.02 * np.abs(expected).max()


def test_the_embedding_separates_what_the_sky_holds(demo_store):
    """Minutes that look alike lie together: a minute's nearest neighbours in the 32 numbers mostly share
    its true aurora/no-aurora (synthetic truth, not the classifier's call)."""
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    out, _, emb, _ = demo_store
    truth = pd.read_csv(out / "synthetic" / "truth" / "frames.csv")
    truth["minute"] = pd.to_datetime(truth["time_utc"], utc=True).dt.tz_localize(None).dt.floor("1min")
    y = truth.drop_duplicates("minute").set_index("minute")["aurora_visible"].reindex(pd.DatetimeIndex(emb["time"].values))
    ok = y.notna().to_numpy()
    acc = cross_val_score(KNeighborsClassifier(5), emb.values[ok], y[ok].astype(bool), cv=4).mean()
    assert ok.sum() > 1000 and acc > 0.9, acc


def _scoring_features(ckpt, paths) -> np.ndarray:
    """Pooled features of frames prepared as `score` prepares them (read at the analysis size, then
    reduced to the input size), from the PyTorch model: the reference the stored rows are checked against."""
    import cv2

    from aurora_sw.camera import read_square_frame
    from aurora_sw.index.physical import ANALYSIS_SIZE
    from aurora_sw.model.data import normalize
    from aurora_sw.model.embedding import pooled_features

    size = ckpt.input_size
    x = torch.stack([normalize(torch.from_numpy(cv2.resize(read_square_frame(p, max(ANALYSIS_SIZE, size)), (size, size), interpolation=cv2.INTER_AREA)).permute(2, 0, 1),
                               ckpt.normalization) for p in paths])
    with torch.no_grad():
        return pooled_features(ckpt.build_model(), x).numpy()


def _ckpt(basis: bool):
    from aurora_sw.model.checkpoint import Checkpoint
    from aurora_sw.model.factory import create_model

    torch.manual_seed(0)
    ckpt = Checkpoint("efficientnet_b0", create_model("efficientnet_b0", num_classes=2).state_dict(), 48)
    if basis:
        ckpt.embedding_basis = fit_basis(np.random.default_rng(2).normal(size=(64, 1280)))
    return ckpt


def test_a_store_scored_with_a_basis_holds_every_minutes_projection_and_a_tampered_night_is_refused(tiny_archive, tmp_path):
    import zarr

    from aurora_sw.index.pipeline import score_archive
    from aurora_sw.index.store import check_index, open_embedding, open_index, store_attrs
    from aurora_sw.ingest import read_manifest

    ckpt = _ckpt(basis=True)
    store = tmp_path / "index.zarr"
    score_archive(tiny_archive, ckpt, store, progress=False)
    assert store_attrs(store)["embedding_dim"] == EMBEDDING_DIM
    emb = open_embedding(store)
    index = open_index(store)
    assert emb.shape == (int(index["p_aurora"].notnull().sum()), EMBEDDING_DIM) and np.isfinite(emb.values).all()
    manifest = read_manifest(tiny_archive).sort_values("time_utc")
    expected = project(_scoring_features(ckpt, manifest["path"]), ckpt.embedding_basis).astype(float)
    assert np.abs(emb.values - expected).max() < 0.01 * np.abs(expected).max()  # ONNX Runtime in score, PyTorch here; float16 stored

    nights = sorted(manifest["night"].unique())
    root = zarr.open_group(str(store), mode="r+")
    rows = slice(1440, 2 * 1440)  # the second night's chunk
    arr = root["embedding"]["embedding"]
    arr[rows] = np.nan_to_num(arr[rows]) + np.float16(0.5)
    report = check_index(store)
    assert report.loc[nights[1], "status"] == "damaged" and report.loc[nights[1], "damaged"] == "embedding"
    assert report.loc[nights[0], "status"] == "ok"
    with pytest.raises(AuroraSWError, match=f"embedding of night {nights[1]} is damaged"):
        open_embedding(store, [nights[1]])
    kept = open_embedding(store)  # every night: the damaged one left out and named, as open_index does
    assert len(kept) == (manifest["night"] == nights[0]).sum() and kept.attrs["nights_damaged"] == nights[1]
    with pytest.raises(AuroraSWError, match="2023-01-01 not complete and intact"):
        open_embedding(store, ["2023-01-01"])
    other = _ckpt(basis=True)
    other.embedding_basis = fit_basis(np.random.default_rng(5).normal(size=(64, 1280)))
    for wrong, name in ((other, "another basis"), (_ckpt(basis=False), "none")):  # same weights, other or no basis
        with pytest.raises(AuroraSWError, match=f"this checkpoint's is {'[0-9a-f]{16}' if name == 'another basis' else 'none'}"):
            score_archive(tiny_archive, wrong, store, resume=True, progress=False)
    score_archive(tiny_archive, ckpt, store, resume=True, progress=False)  # resume re-scores the damaged night
    assert (check_index(store)["status"] == "ok").all() and np.abs(open_embedding(store).values - expected).max() < 0.01 * np.abs(expected).max()
    (store / "embedding" / "embedding" / "zarr.json").write_text('{"zarr_format": 3, "node_ty')  # damaged metadata: one line, not a traceback
    with pytest.raises(AuroraSWError, match="embedding group's metadata is damaged"):
        open_embedding(store)
    assert check_index(store)["damaged"].str.contains("embedding").all()


def test_a_checkpoint_without_a_basis_scores_a_store_without_embeddings(tiny_archive, tmp_path):
    from aurora_sw.analysis.archive_map import archive_map
    from aurora_sw.index.pipeline import score_archive
    from aurora_sw.index.store import check_index, open_embedding, store_attrs

    res = score_archive(tiny_archive, _ckpt(basis=False), tmp_path / "old.zarr", progress=False)
    assert res["frames"] > 0 and open_embedding(tmp_path / "old.zarr") is None
    assert store_attrs(tmp_path / "old.zarr")["embedding_dim"] == 0 and (check_index(tmp_path / "old.zarr")["status"] == "ok").all()
    with pytest.raises(AuroraSWError, match="holds no embeddings"):
        archive_map(tmp_path / "old.zarr")


def test_the_archive_map_keeps_look_alike_minutes_together(demo_run):
    """UMAP of the stored embeddings: every drawn minute once, finite coordinates, Kp from the solar
    wind; and neighbours on the 2-D map still mostly share the classifier's call."""
    import xarray as xr
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    from aurora_sw.analysis.archive_map import archive_map

    out, _ = demo_run
    with xr.open_dataset(out / "solarwind.nc") as sw:
        m = archive_map(out / "index.zarr", max_points=1200, solarwind=sw.load())
    assert len(m) == 1200 and m["time"].is_unique and m["time"].is_monotonic_increasing
    assert np.isfinite(m[["x", "y"]].to_numpy()).all() and m["kp"].notna().mean() > 0.9
    assert set(m["sky_class"]) <= {"yes", "no"} and m["night"].nunique() >= 3
    acc = cross_val_score(KNeighborsClassifier(5), m[["x", "y"]], m["aurora"], cv=4).mean()
    assert acc > 0.85, acc
    again = archive_map(out / "index.zarr", max_points=1200)
    assert np.allclose(again[["x", "y"]], m[["x", "y"]], atol=1e-4)  # one seed, one map
    with pytest.raises(AuroraSWError, match="--max-points 2"):
        archive_map(out / "index.zarr", max_points=2)
