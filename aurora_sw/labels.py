"""Labels: the label store, date-aware sampling of frames to label, and night-wise splits.

Consecutive minutes of a night are nearly identical, so a split *within* a night leaks: every
split here is by night, and no night appears in two splits.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from aurora_sw.errors import AuroraSWError
from aurora_sw.locking import writer_lock
from aurora_sw.times import aware_utc

#: OATH's six sky classes (Clausen & Nickisch 2018), the morphology labels; the first three are aurora.
MORPHOLOGY_CLASSES = ("arc", "diffuse", "discrete", "cloudy", "moon", "clear")
#: The labels that say "aurora": yes, and the aurora classes.
AURORA_CLASSES = ("yes", "arc", "diffuse", "discrete")
LABELS = ("yes", "no", "unsure", *MORPHOLOGY_CLASSES)  # yes/no, or a class (aurora_sw.model.tasks trains on either)
LABEL_COLUMNS = ["path", "time_utc", "night", "label", "labeller", "labelled_at"]


def labellable(manifest: pd.DataFrame, *, sun_classes: Sequence[str], moon_classes: Sequence[str]) -> pd.Series:
    """Which manifest frames may be offered for labelling: under the given sky conditions, and with
    no flag that makes a frame unusable (a read problem, dark, overexposed, a duplicate).

    Raises
    ------
    AuroraSWError
        An unknown sky class, naming the known ones.
    """
    from aurora_sw.sky import MOON_CLASSES, SUN_CLASSES

    unknown = sorted(set(sun_classes) - set(SUN_CLASSES)) + sorted(set(moon_classes) - set(MOON_CLASSES))
    if unknown:
        raise AuroraSWError(f"unknown sky class(es) {unknown}; sun: {', '.join(SUN_CLASSES)}; moon: {', '.join(MOON_CLASSES)}")
    ok = manifest["sun_class"].isin(sun_classes) & manifest["moon_class"].isin(moon_classes)
    if "flags" in manifest:
        from aurora_sw.camera import FRAME_PROBLEMS  # the flags of frames that must not be used

        ok &= ~manifest["flags"].fillna("").str.contains("|".join((*FRAME_PROBLEMS, "dark", "overexposed", "duplicate")))
    return ok


def sample_for_labelling(
    manifest: pd.DataFrame,
    *,
    per_night: int = 20,
    max_fraction: float = 0.5,
    sun_classes: tuple[str, ...] = ("Night",),
    moon_classes: tuple[str, ...] = ("NoMoon",),
    seed: int = 0,
) -> pd.DataFrame:
    """Date-aware sample of frames to label: spread over nights and over each night.

    Parameters
    ----------
    manifest
        The archive manifest.
    per_night
        At most this many frames from one night.
    max_fraction
        And at most this fraction of the night's (eligible) frames.
    sun_classes, moon_classes
        Sky conditions to sample from (default Night & NoMoon, as the seed study labelled).
    seed
        Reproducible: the same seed gives the same sample.

    Returns
    -------
    pandas.DataFrame
        The chosen manifest rows, sorted by time. Within a night, frames are drawn from evenly
        spaced strata of the night so that dusk, midnight and dawn are all represented.

    Raises
    ------
    AuroraSWError
        An unknown sky class, ``per_night`` below 1 or ``max_fraction`` outside (0, 1].
    """
    ok = labellable(manifest, sun_classes=sun_classes, moon_classes=moon_classes)
    if per_night < 1 or not 0 < max_fraction <= 1:
        raise AuroraSWError(f"per_night {per_night}, max_fraction {max_fraction}: need at least 1 frame a night and a fraction in (0, 1]")
    rng = np.random.default_rng(seed)
    chosen = []
    for _, night in manifest[ok].groupby("night", sort=True):
        k = min(per_night, int(len(night) * max_fraction))
        if k <= 0:
            continue
        strata = np.array_split(np.arange(len(night)), k)
        picks = [int(rng.choice(s)) for s in strata if len(s)]
        chosen.append(night.iloc[picks])
    if not chosen:
        return manifest.iloc[0:0]
    return pd.concat(chosen).sort_values("time_utc").reset_index(drop=True)


def split_by_night(
    labels: pd.DataFrame,
    val_fraction: float = 0.25,
    test_fraction: float = 0.0,
    balance: bool = True,
    seed: int = 0,
) -> pd.DataFrame:
    """Assign whole nights to train/val(/test) splits; optionally class-balance each split.

    Parameters
    ----------
    labels
        Rows with ``night`` and ``label`` (``yes``/``no`` or morphology classes; ``unsure`` rows are dropped).
    val_fraction, test_fraction
        Fractions of *nights* for validation and test (at least one night each when > 0).
    balance
        Downsample the larger class within each split (as the seed study did).
    seed
        Reproducible split.

    Returns
    -------
    pandas.DataFrame
        ``labels`` rows kept, with a ``split`` column.

    Raises
    ------
    AuroraSWError
        Fractions outside [0, 1), or too few labelled nights for them.
    """
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise AuroraSWError(
            f"val_fraction {val_fraction}, test_fraction {test_fraction}: fractions of nights, each in [0, 1) and together below 1 (e.g. 0.2)"
        )
    df = labels[labels["label"].isin(("yes", "no", *MORPHOLOGY_CLASSES))].copy()
    nights = np.array(sorted(df["night"].unique()))
    if len(nights) < 2:
        raise AuroraSWError(f"need labelled frames from at least 2 nights to split by night, got {len(nights)}")
    rng = np.random.default_rng(seed)
    rng.shuffle(nights)
    n_val = max(1, int(round(val_fraction * len(nights)))) if val_fraction > 0 else 0
    n_test = max(1, int(round(test_fraction * len(nights)))) if test_fraction > 0 else 0
    if n_val + n_test >= len(nights):
        raise AuroraSWError(f"{len(nights)} labelled nights are too few for the requested validation/test fractions")
    split_of = {n: "val" for n in nights[:n_val]}
    split_of.update({n: "test" for n in nights[n_val : n_val + n_test]})
    df["split"] = df["night"].map(split_of).fillna("train")
    if balance:
        parts = []
        for _, part in df.groupby("split"):
            counts = part["label"].value_counts()
            if len(counts) < 2:
                parts.append(part)
                continue
            m = counts.min()
            parts.extend(g.sample(m, random_state=seed) for _, g in part.groupby("label"))
        df = pd.concat(parts)
    return df.sort_values("time_utc").reset_index(drop=True)


def split_report(split: pd.DataFrame) -> pd.DataFrame:
    """Counts of frames per split and class, and nights per split."""
    counts = split.pivot_table(index="split", columns="label", values="path", aggfunc="count", fill_value=0)
    counts["nights"] = split.groupby("split")["night"].nunique()
    return counts


def _with_times(df: pd.DataFrame, catalog, site_key: str | None, source: str) -> pd.DataFrame:
    """Add ``time_utc`` (from the file names) and ``night``; name the files without a time."""
    from aurora_sw.ingest.jpeg import filename_patterns, time_from_name
    from aurora_sw.sky import local_night

    patterns = filename_patterns(catalog)
    times = [time_from_name(Path(p).name, patterns) for p in df["path"]]
    bad = [p for p, t in zip(df["path"], times) if t is None]
    if bad:
        raise AuroraSWError(
            f"{source}: {len(bad)} labelled files have no UTC time in their name (e.g. {Path(bad[0]).name}); "
            "night-wise splits need it (see sources.*.filename_patterns in the catalog)"
        )
    df = df.copy()
    df["time_utc"] = pd.DatetimeIndex(times)
    df["night"] = pd.to_datetime(local_night(pd.DatetimeIndex(df["time_utc"]), catalog.site(site_key))).strftime("%Y-%m-%d")
    return df


def import_folders(root: str | os.PathLike, catalog=None, site_key: str | None = None) -> pd.DataFrame:
    """Labels from a folder-labelled set: ``ROOT/[train|val|test/]{yes,no,unsure}/*.jpg``, or with
    the sky classes as folders (``arc/``, ``diffuse/``, ..., :data:`MORPHOLOGY_CLASSES`). A class-named
    folder inside a yes/no/unsure folder (``yes/clear/``) is a user's sub-sorting, not a label: its
    frames take the yes/no folder's label.

    ``site_key`` names the site whose local dates name the nights (default: the catalog's
    default site).

    Returns rows with ``path``, ``label``, ``time_utc``, ``night`` and ``given_split`` (the
    folder's split, kept for reference: splits are redone by night, since the seed's within-night
    split leaks).
    """
    from aurora_sw.catalog import load_catalog
    from aurora_sw.ingest.jpeg import IMAGE_SUFFIXES

    root = Path(root)
    if not root.is_dir():
        raise AuroraSWError(f"{root}: not a folder of labelled frames")
    rows = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        folder, above = path.parent, path.parent.parent
        if above.name.lower() in ("yes", "no", "unsure") and folder.name.lower() in MORPHOLOGY_CLASSES:
            folder, above = above, above.parent  # yes/clear/: the yes/no folder labels it
        if folder.name.lower() in LABELS:
            split = above.name.lower()
            rows.append({"path": str(path.resolve()), "label": folder.name.lower(), "given_split": split if split in ("train", "val", "test") else ""})
    if not rows:
        raise AuroraSWError(f"{root}: no images under yes/, no/, unsure/ or sky-class ({', '.join(MORPHOLOGY_CLASSES)}) folders")
    return _with_times(pd.DataFrame(rows), catalog or load_catalog(), site_key, str(root))


def import_csv(path: str | os.PathLike, catalog=None, site_key: str | None = None) -> pd.DataFrame:
    """Labels from a CSV with columns ``path`` and ``label`` (yes/no/unsure or a sky class); paths relative to the CSV.

    ``site_key`` names the site whose local dates name the nights (default: the catalog's
    default site).
    """
    from aurora_sw.catalog import load_catalog

    path = Path(path)
    try:
        df = pd.read_csv(path)
    except (OSError, pd.errors.ParserError) as exc:
        raise AuroraSWError(f"{path}: cannot read ({exc})") from None
    missing = {"path", "label"} - set(df.columns)
    if missing:
        raise AuroraSWError(f"{path}: missing column(s) {sorted(missing)}")
    df["label"] = df["label"].astype(str).str.strip().str.lower()
    df["path"] = [str((path.parent / p).resolve()) for p in df["path"]]
    return _with_times(df, catalog or load_catalog(), site_key, str(path))


def read_label_table(path: str | os.PathLike) -> pd.DataFrame:
    """The rows of a label store, or of a ``split.parquet`` written by ``train``, to read only.

    Raises
    ------
    AuroraSWError
        The file is missing, is not Parquet, or lacks the ``path``, ``label``, ``night`` and
        ``time_utc`` columns.
    """
    path = Path(path)
    if not path.is_file():
        raise AuroraSWError(f"{path}: no label file here; make a label store with `aurora-sw label import`")
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises its own types for a file that is not Parquet
        raise AuroraSWError(
            f"{path}: not a Parquet label file ({type(exc).__name__}); pass a label store (labels.parquet) or a split.parquet written by `train`"
        ) from None
    missing = {"path", "label", "night", "time_utc"} - set(df.columns)
    if missing:
        raise AuroraSWError(f"{path}: not a label file: no column(s) {sorted(missing)}")
    return df


class LabelStore:
    """Labels kept in one Parquet file; one row per frame path (the latest label wins).

    Saves atomically after each change, so a labelling session can be killed at any moment.
    Each change re-reads the file and writes it back under the store's writer lock
    (:func:`aurora_sw.locking.writer_lock`, waiting up to ``lock_timeout_s``), so two sessions
    (two Explorer tabs, an import during labelling) never drop each other's labels.
    """

    def __init__(self, path: str | os.PathLike, *, lock_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s
        self.df = self._read_current()

    def __len__(self) -> int:
        return len(self.df)

    def add(self, rows: pd.DataFrame, label_col: str = "label", labeller: str = "unknown") -> None:
        """Add or replace labels; ``rows`` needs ``path``, ``time_utc``, ``night`` and ``label_col``."""
        bad = set(rows[label_col]) - set(LABELS)
        if bad:
            raise AuroraSWError(f"labels must be one of {LABELS}, got {sorted(bad)}")
        new = pd.DataFrame(
            {
                "path": rows["path"].astype(str).to_numpy(),
                "time_utc": aware_utc(rows["time_utc"]).to_numpy(),
                "night": rows["night"].astype(str).to_numpy(),
                "label": rows[label_col].to_numpy(),
                "labeller": labeller,
                "labelled_at": datetime.now(timezone.utc),
            }
        )
        with writer_lock(self.path, timeout_s=self.lock_timeout_s):
            current = self._read_current()
            keep = current[~current["path"].isin(new["path"])]
            self.df = pd.concat([keep, new], ignore_index=True) if len(keep) else new
            self._write()

    def remove(self, paths: list[str]) -> None:
        """Forget the labels of ``paths`` (e.g. to undo a label in the Explorer)."""
        with writer_lock(self.path, timeout_s=self.lock_timeout_s):
            current = self._read_current()
            self.df = current[~current["path"].isin([str(p) for p in paths])].reset_index(drop=True)
            self._write()

    def label_of(self, path: str) -> str | None:
        """The current label of ``path``, or ``None``."""
        hit = self.df.loc[self.df["path"] == str(path), "label"]
        return None if hit.empty else str(hit.iloc[-1])

    def save(self) -> None:
        """Write this store's labels as they are here, replacing the file (under the lock)."""
        with writer_lock(self.path, timeout_s=self.lock_timeout_s):
            self._write()

    def _read_current(self) -> pd.DataFrame:
        """The labels on disk now (another process may have added some since we read them).

        A file that is not a label store (the manifest, a split, any other table) is refused, so
        labels are never merged into it.
        """
        if not self.path.exists():
            return pd.DataFrame(columns=LABEL_COLUMNS)
        try:
            # One read of the bytes: a writer replacing the file meanwhile (os.replace, atomic) must not
            # hand pyarrow's separate opens (footer, then data) two different versions of it.
            df = pd.read_parquet(io.BytesIO(self.path.read_bytes()))
        except FileNotFoundError:
            return pd.DataFrame(columns=LABEL_COLUMNS)
        except Exception as exc:  # pyarrow raises its own types for a file that is not Parquet
            raise AuroraSWError(f"{self.path}: not a Parquet label store ({type(exc).__name__}); choose another --store") from None
        if not set(LABEL_COLUMNS) <= set(df.columns):
            raise AuroraSWError(f"{self.path}: not a label store (its columns are not {', '.join(LABEL_COLUMNS)}); "
                                "choose another --store, e.g. archive/labels.parquet")
        return df

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        self.df.to_parquet(tmp, index=False)
        os.replace(tmp, self.path)
