"""Morphology: the synthetic sky's class truth, the task's labels, P(aurora) as the sum of the aurora
classes, and per-class evaluation (checked against scikit-learn)."""

import numpy as np
import pandas as pd
import pytest
import torch

from aurora_sw.errors import AuroraSWError
from aurora_sw.labels import AURORA_CLASSES, MORPHOLOGY_CLASSES, LabelStore
from aurora_sw.model.config import TrainConfig
from aurora_sw.model.tasks import TASKS, aurora_probability, binary_label, get_task, task_labels
from aurora_sw.synthetic.render import FrameState, NightSky, morphology_class


def _state(**kw):
    base = dict(minute=100.0, lst_deg=0.0, sun_alt=-30.0, sun_az=0.0, moon_alt=-20.0, moon_az=0.0, moon_illum=0.0, activity=0.0, cloudiness=0.0)
    return FrameState(**{**base, **kw})


def test_morphology_rule():
    assert morphology_class(True, 0.6, True, 0.0, -10, 0) == "diffuse"
    assert morphology_class(True, 0.1, True, 0.9, -10, 0) == "discrete"  # aurora first, even under cloud
    assert morphology_class(True, 0.1, False, 0.0, 30, 0.9) == "arc"
    assert morphology_class(False, 0.0, False, 0.5, 30, 0.9) == "cloudy"
    assert morphology_class(False, 0.0, False, 0.1, 30, 0.9) == "moon"
    assert morphology_class(False, 0.0, False, 0.1, 30, 0.1) == "clear"  # a thin Moon does not make a moonlit sky


def test_rendered_truth_is_consistent():
    """Over a sweep of skies, the class is an aurora class exactly when the aurora is visible, and the
    no-aurora classes follow the cloud and the Moon the frame was rendered with."""
    sky = NightSky(96, seed=3)
    seen = set()
    for activity in (0.0, 0.5, 0.8, 1.2, 1.8):
        for clouds in (0.0, 0.95):
            for moon_alt, illum in ((-20.0, 0.0), (35.0, 0.9)):
                truth = sky.render(_state(activity=activity, cloudiness=clouds, moon_alt=moon_alt, moon_illum=illum, moon_az=180.0))[1]
                m = truth["morphology"]
                seen.add(m)
                assert (m in AURORA_CLASSES) == truth["aurora_visible"], (activity, clouds, moon_alt, truth)
                if not truth["aurora_visible"]:
                    expected = "cloudy" if truth["cloud_cover"] >= 0.4 else "moon" if moon_alt > 0 else "clear"
                    assert m == expected, (activity, clouds, moon_alt, truth)
    assert {"clear", "cloudy", "moon"} <= seen and seen & {"arc", "discrete", "diffuse"}
    # the night's fold rule: a quiet night's arc is an arc at low activity and discrete when active
    quiet = next(s for s in range(50) if not NightSky(64, seed=s).folded(0.5))
    assert not NightSky(64, seed=quiet).folded(0.5) and NightSky(64, seed=quiet).folded(1.2)


def test_task_labels_and_aurora_probability():
    labels = pd.DataFrame({"label": ["yes", "no", "unsure", "arc", "cloudy", "diffuse", "moon"]})
    binary = task_labels(labels, get_task("binary"))
    assert list(binary["label"]) == ["yes", "no", "yes", "no", "yes", "no"]  # classes count as yes/no, unsure left out
    morph = task_labels(labels, get_task("morphology"))
    assert list(morph["label"]) == ["arc", "cloudy", "diffuse", "moon"]
    with pytest.raises(AuroraSWError, match="no frame is labelled with a morphology class"):
        task_labels(labels.iloc[:3], get_task("morphology"))
    assert [binary_label(c) for c in MORPHOLOGY_CLASSES] == ["yes", "yes", "yes", "no", "no", "no"]
    probs = np.random.default_rng(0).dirichlet(np.ones(6), 50)
    assert np.allclose(aurora_probability(probs, MORPHOLOGY_CLASSES), probs[:, :3].sum(1), atol=1e-6)
    assert np.allclose(aurora_probability(probs[:, :2], TASKS["binary"].classes), probs[:, 1], atol=1e-6)
    with pytest.raises(AuroraSWError, match="unknown task 'corona'"):
        get_task("corona")
    with pytest.raises(AuroraSWError, match="task='corona'"):
        TrainConfig(task="corona")


def test_label_store_keeps_classes(tmp_path):
    store = LabelStore(tmp_path / "labels.parquet")
    rows = pd.DataFrame({"path": ["a.jpg", "b.jpg"], "time_utc": pd.to_datetime(["2024-02-06 06:00", "2024-02-06 06:01"], utc=True),
                         "night": "2024-02-05", "label": ["discrete", "no"]})
    store.add(rows)
    assert sorted(LabelStore(tmp_path / "labels.parquet").df["label"]) == ["discrete", "no"]
    with pytest.raises(AuroraSWError, match="labels must be one of"):
        store.add(rows.assign(label="corona"))


def test_morphology_metrics_match_sklearn():
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    from aurora_sw.model.evaluate import morphology_metrics

    rng = np.random.default_rng(1)
    true = rng.choice(MORPHOLOGY_CLASSES[:5], 400)  # 'clear' never true
    pred = np.where(rng.random(400) < 0.7, true, rng.choice(MORPHOLOGY_CLASSES, 400))
    mm = morphology_metrics(true, pred, MORPHOLOGY_CLASSES)
    assert np.array_equal(mm["confusion"], confusion_matrix(true, pred, labels=list(MORPHOLOGY_CLASSES)))
    p, r, f, s = precision_recall_fscore_support(true, pred, labels=list(MORPHOLOGY_CLASSES[:5]), zero_division=0)
    for i, c in enumerate(MORPHOLOGY_CLASSES[:5]):
        v = mm["per_class"][c]
        assert (v["precision"], v["recall"], v["f1"], v["support"]) == pytest.approx((p[i], r[i], f[i], s[i]))
    assert np.isnan(mm["per_class"]["clear"]["recall"]) and mm["per_class"]["clear"]["support"] == 0
    assert mm["accuracy"] == pytest.approx((true == pred).mean())


def test_a_morphology_checkpoint_scores_and_evaluates(small_archive, tmp_path):
    """An (untrained) six-class checkpoint: the index's P(aurora) is the sum of the aurora classes'
    probabilities, each class's probability and the likeliest class come with it, and evaluate
    reports per-class metrics and a confusion matrix over every class-labelled frame."""
    from aurora_sw.index.score import score_frames
    from aurora_sw.model import Checkpoint, create_model
    from aurora_sw.workflows.evaluate import evaluate

    from aurora_sw.model.data import normalize, read_frame

    truth = pd.read_csv(small_archive.truth_csv).iloc[::40].reset_index(drop=True)
    paths = [str(small_archive.root / p) for p in truth["path"]]
    torch.manual_seed(0)
    model = create_model("efficientnet_b0", num_classes=6).eval()
    with torch.no_grad():  # a random head over the frames' standardised features, so the classes' probabilities differ
        x = torch.stack([normalize(torch.from_numpy(read_frame(p, 64)).permute(2, 0, 1)) for p in paths])
        feats = model.forward_head(model.forward_features(x), pre_logits=True)
        w = torch.randn(6, feats.shape[1]) / (feats.std(0) + 1e-6) / feats.shape[1] ** 0.5 * 3
        model.get_classifier().weight.copy_(w)
        model.get_classifier().bias.copy_(-(w * feats.mean(0)).sum(1))
    ckpt = Checkpoint("efficientnet_b0", model.state_dict(), 64, classes=MORPHOLOGY_CLASSES)
    scored = score_frames(paths, ckpt, progress=False, backend="onnx")
    class_p = scored[[f"p_{c}" for c in MORPHOLOGY_CLASSES]].to_numpy()
    assert np.allclose(class_p.sum(1), 1, atol=1e-5) and class_p[:, :3].sum(1).std() > 0.05
    assert np.allclose(scored["p_aurora"], class_p[:, :3].sum(1), atol=1e-5)
    assert list(scored["morphology"]) == [MORPHOLOGY_CLASSES[i] for i in class_p.argmax(1)]
    assert np.allclose(score_frames(paths, ckpt, progress=False, backend="torch")["p_aurora"], scored["p_aurora"], atol=1e-4)

    frames = truth.assign(path=paths, label=truth["morphology"])
    res = evaluate(frames, ckpt, tmp_path / "report", progress=False)
    mm = res.morphology
    assert mm["n"] == len(frames) and np.sum(mm["confusion"]) == len(frames)
    assert mm["accuracy"] == pytest.approx(float((frames["label"].to_numpy() == scored["morphology"].to_numpy()).mean()))
    assert res.metrics["n"] == len(frames)  # the binary metrics count the class labels as yes/no
    for name in ("morphology.json", "confusion.csv", "morphology_by_condition.csv"):
        assert (tmp_path / "report" / name).exists()
    assert "morphology, " in res.summary() and "NOT held-out" not in res.summary()
    ckpt.metrics["train_nights"] = [str(truth["night"].iloc[0])]  # frames of a night it trained on: said so
    assert "NOT held-out" in evaluate(frames, ckpt, tmp_path / "report2", progress=False).summary()


def test_training_refuses_a_split_without_no_aurora(tmp_path):
    from aurora_sw.model.train import train_classifier

    split = pd.DataFrame({"path": ["a.jpg", "b.jpg", "c.jpg", "d.jpg"], "label": ["arc", "discrete", "arc", "clear"],
                          "split": ["train", "train", "val", "val"]})
    with pytest.raises(AuroraSWError, match="train split has no frames labelled a no-aurora class"):
        train_classifier(split, TrainConfig(task="morphology", input_size=32), tmp_path)
    with pytest.raises(AuroraSWError, match=r"labels \['yes'\] that the morphology task does not know"):
        train_classifier(split.assign(label=["yes", "clear", "arc", "clear"]), TrainConfig(task="morphology", input_size=32), tmp_path)


def test_the_index_of_a_morphology_model_holds_its_classes(small_archive, tmp_path):
    """Scored with a morphology model, the store holds ``morphology`` (CF flag_values/meanings) and
    each class's probability beside p_aurora (their aurora sum), checksummed like every variable;
    a truncated frame is no_frame/NaN; Grad-CAM explains each frame's likeliest aurora class."""
    import shutil

    from aurora_sw.index.pipeline import score_archive
    from aurora_sw.index.schema import NO_FRAME, class_names
    from aurora_sw.index.store import check_index, open_index
    from aurora_sw.ingest import ingest
    from aurora_sw.model import Checkpoint, create_model

    frames = tmp_path / "frames"
    frames.mkdir()
    for f in sorted((small_archive.frames_dir / small_archive.nights[1]).iterdir())[::25]:
        shutil.copy(f, frames / f.name)
    cut = sorted(frames.iterdir())[5]
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    ingest([frames], tmp_path / "arch", progress=False)
    torch.manual_seed(1)
    model = create_model("efficientnet_b0", num_classes=6).eval()
    with torch.no_grad():
        model.get_classifier().weight.normal_(0, 0.5)
    ckpt = Checkpoint("efficientnet_b0", model.state_dict(), 48, classes=MORPHOLOGY_CLASSES)
    score_archive(tmp_path / "arch", ckpt, tmp_path / "index.zarr", progress=False, cam=True)
    ds = open_index(tmp_path / "index.zarr").load()
    assert ds["morphology"].attrs["flag_meanings"] == "no_frame arc diffuse discrete cloudy moon clear"
    assert ds["morphology"].attrs["flag_values"] == [NO_FRAME, 0, 1, 2, 3, 4, 5] and ds["p_moon"].attrs["units"] == "1"
    seen = np.isfinite(ds["p_arc"].values)
    assert seen.sum() == len(list(frames.iterdir())) - 1  # the truncated frame has no probability
    aurora_sum = ds["p_arc"] + ds["p_diffuse"] + ds["p_discrete"]
    assert np.allclose(ds["p_aurora"].values[seen], aurora_sum.values[seen], atol=1e-5)
    names = class_names(ds["morphology"])
    probs = np.stack([ds[f"p_{c}"].values[seen] for c in MORPHOLOGY_CLASSES], 1)
    assert list(names[seen]) == [MORPHOLOGY_CLASSES[i] for i in probs.argmax(1)]
    assert (ds["morphology"].values[~seen] == NO_FRAME).all()
    assert set(check_index(tmp_path / "index.zarr")["status"]) == {"ok"}
    from aurora_sw.workflows.query import query

    table = query(tmp_path / "index.zarr", variables=["p_aurora", "morphology", "p_discrete"]).to_frame()
    assert len(table) == seen.sum() and set(table["morphology"]) <= set(MORPHOLOGY_CLASSES)
    above = seen & (ds["p_aurora"].values >= 0.5)
    assert above.any() and np.isfinite(ds["cam_fraction_above_0_5"].values[above]).all()


def test_class_weights_balance_aurora_against_no_aurora():
    """Binary: n / (2 n_c) as before. Morphology: the aurora classes together weigh what the
    no-aurora classes weigh, however many of each were labelled, so an undecided frame sits at
    P(aurora) 0.5, not at the share of aurora classes among those present."""
    from aurora_sw.model.train import _class_weights

    y = np.array([0, 0, 1, 1, 1, 1, 1, 1, 1, 1])
    assert np.allclose(_class_weights(y).numpy(), [10 / 4, 10 / 16])
    y = np.array([0] * 10 + [2] * 5 + [3] * 20 + [4] * 7 + [5] * 30)  # arc, discrete; cloudy, moon, clear (no diffuse)
    w = _class_weights(y, MORPHOLOGY_CLASSES).numpy()
    mass = w * np.bincount(y, minlength=6)
    assert w[1] == 0 and np.isclose(mass[:3].sum(), mass[3:].sum())
    assert np.allclose(mass[[0, 2]], mass[0]) and np.allclose(mass[3:], mass[3])  # classes alike within each group


def test_folder_import_takes_class_folders_but_not_sub_sorting(tmp_path):
    import shutil

    from aurora_sw.labels import import_folders

    import cv2

    img = NightSky(64, seed=0).render(_state())[0]
    for folder in ("arc", "yes/clear", "no"):
        (tmp_path / "set" / folder).mkdir(parents=True)
        cv2.imwrite(str(tmp_path / "set" / folder / "20240206T060000Z.jpg"), img[..., ::-1])
    rows = import_folders(tmp_path / "set").sort_values("label")
    assert list(rows["label"]) == ["arc", "no", "yes"]  # yes/clear/ is the user's sorting of 'yes' frames
    shutil.rmtree(tmp_path / "set")
