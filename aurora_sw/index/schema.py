"""The aurora index's schema: every stored variable once, its class codes, its flag bits, its night grid.

What a variable is stored as (dtype), what it means (``units``, ``long_name``) and how its integer
codes read (CF ``flag_values``/``flag_meanings``, ``flag_masks`` for the quality bits) is declared
here and nowhere else; :func:`aurora_sw.index.store.build_index` writes exactly these, in this
order. The order matters beyond looks: a store records one checksum per variable, in the order of
:data:`VARIABLES`, so reordering or retyping a variable changes what new stores hold.

Time axis: UTC, one row per minute, each night one chunk of :data:`MINUTES_PER_NIGHT` minutes from
the site's night-start hour UTC of its date (the local date at dusk):
:attr:`aurora_sw.catalog.Site.night_start_utc_hour`, derived from the site's longitude and recorded
in the store's ``night_start_utc_hour`` attribute (:func:`night_start_hour` reads it; stores
written before it was recorded are Yellowknife's, :data:`NIGHT_START_UTC_HOUR`).

This module imports numpy, pandas and the sky-class names only, so every reader of the index (the
CLI's queries, the analyses, the Explorer) can use it without the classifier's libraries.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from aurora_sw.sky import MOON_CLASSES, SUN_CLASSES

__all__ = [
    "AREA_THRESHOLD_DN", "CLASS_VARIABLES", "COMPONENT_ATTRS", "EMBEDDING", "EMBEDDING_GROUP", "FLAG_BITS", "GROUPS", "GEOMAGNETIC", "GEOMETRY", "GRADCAM", "INDEX_NAMES", "KEOGRAM", "KEOGRAM_GROUP", "KEOGRAM_ROWS",
    "MERIDIAN_ANGLE_ATTRS", "MINUTES_PER_NIGHT", "NIGHT_AREA", "NIGHT_AREA_FLOOR_DN", "NIGHT_AREA_SIGMAS", "NIGHT_START_UTC_HOUR", "NO_FRAME", "PHYSICAL",
    "VARIABLES", "Variable", "class_codes", "class_names", "flags_to_bits", "morphology_variables", "night_grid", "night_of", "night_start_hour",
    "night_window", "store_classes",
]


@dataclass(frozen=True)
class Variable:
    """One per-minute variable of the index: how it is stored and what it means.

    Attributes
    ----------
    dtype
        The numpy dtype of the stored values (``float64``: NaN where no frame; integer codes:
        :data:`NO_FRAME` where no frame).
    long_name
        CF ``long_name``.
    units
        CF ``units`` (``None``: codes, flags and times carry none).
    codes
        Further CF attributes of coded variables (``flag_values``/``flag_meanings`` or
        ``flag_masks``/``flag_meanings``), in the order they are stored.
    """

    dtype: str
    long_name: str
    units: str | None = None
    codes: dict = field(default_factory=dict)

    @property
    def attrs(self) -> dict:
        """The CF attributes as stored (``units`` first when there are units)."""
        return {**({"units": self.units} if self.units else {}), "long_name": self.long_name, **copy.deepcopy(self.codes)}


NO_FRAME = -1  # the code of a minute without a (scorable) frame in every integer-coded variable

# The parameters that define what a stored index means (their text is in the long names).
AREA_THRESHOLD_DN = 6.0  # aurora_area: green excess above this, over the frame median and absolute
NIGHT_AREA_SIGMAS = 2.0  # aurora_area_night: excess over the night's per-pixel median, in robust sigma ...
NIGHT_AREA_FLOOR_DN = 3.0  # ... and at least this

# Physical indices of a frame (aurora_sw.index.physical computes them, in this order).
PHYSICAL = {
    "sky_r": Variable("float64", "mean red brightness in the sky circle", "DN"),
    "sky_g": Variable("float64", "mean green brightness in the sky circle", "DN"),
    "sky_b": Variable("float64", "mean blue brightness in the sky circle", "DN"),
    "green_excess": Variable("float64", "99th-percentile green excess G-(R+B)/2 above the frame median (557.7 nm sensitive)", "DN"),
    "red_excess": Variable("float64", "99th-percentile red excess R-(G+B)/2 above the frame median (630.0 nm sensitive)", "DN"),
    "aurora_area": Variable("float64", f"fraction of the sky circle with green excess > {AREA_THRESHOLD_DN:g} DN, both above the frame median and absolute", "1"),
    "arc_orientation": Variable("float64", "azimuth of the aurora mask's long axis, east of north, 0-180 (image geometry)", "degree"),
    "arc_elongation": Variable("float64", "ratio of the aurora mask's long to short axis (second moments); ~1 blob, >3 arc", "1"),
    "arc_curvature": Variable("float64", "curvature of a parabola fitted along the mask's long axis, in units of 1/sky radius", "1"),
}
INDEX_NAMES = tuple(PHYSICAL)

# Sun and Moon over the site at the frame's time (from the manifest, aurora_sw.sky).
GEOMETRY = {
    "sun_alt": Variable("float64", "Sun altitude", "degree"),
    "sun_az": Variable("float64", "Sun azimuth, east of north", "degree"),
    "moon_alt": Variable("float64", "Moon altitude", "degree"),
    "moon_az": Variable("float64", "Moon azimuth, east of north", "degree"),
    "moon_phase": Variable("float64", "Moon phase (Sun-Moon ecliptic longitude difference folded to 0-180; 180 = full)", "degree"),
    "moon_illum": Variable("float64", "Moon illuminated fraction", "1"),
}

# The per-night background model's area (aurora_sw.index.background; its parameters are in the text).
NIGHT_AREA = {
    "aurora_area_night": Variable(
        "float64",
        "fraction of the sky circle whose green excess is above the night's per-pixel median by "
        f"{NIGHT_AREA_SIGMAS:g} robust sigma (and {NIGHT_AREA_FLOOR_DN:g} DN), after removing the frame's median shift",
        "1",
    )
}

# Where the classifier looked (aurora_sw.model.gradcam.cam_statistics returns these keys); NaN
# unless scored with Grad-CAM, and for frames below the threshold.
GRADCAM = {
    "cam_fraction_above_0_5": Variable("float64", "fraction of the sky circle where the Grad-CAM map of aurora (class 'yes', or a morphology model's likeliest aurora class) exceeds 0.5", "1"),
    "cam_centroid_elevation": Variable("float64", "elevation of the Grad-CAM map's weighted centroid", "degree"),
    "cam_centroid_azimuth": Variable("float64", "azimuth (east of north) of the Grad-CAM map's weighted centroid", "degree"),
}

# Where the camera sits in the magnetosphere each minute (aurora_sw.geomagnetic): not stored, derived
# on demand from the time axis and the site the store records (``ds.aurora.geomagnetic()``,
# ``aurora-sw query --vars mlt``), since they follow from those two exactly. AACGM-v2 at the
# emission height of the skymaps (110 km).
GEOMAGNETIC = {
    "mlat": Variable("float64", "AACGM-v2 latitude of the camera at 110 km", "degree_north"),
    "mlt": Variable("float64", "AACGM-v2 magnetic local time of the camera", "h"),
    "day_of_year": Variable("int64", "day of year (UTC)", "1"),
    "rm_angle": Variable("float64", "Russell-McPherron angle: solar-equatorial z to GSM z, in the GSE y-z plane", "degree"),
}

# Quality flags: comma-separated names in the manifest (aurora_sw.ingest), a CF bitmask here. The
# reasons of aurora_sw.camera.FRAME_PROBLEMS are among them: such frames keep their minute but are
# never scored. A flag name missing here would be dropped from the index: add its bit here.
FLAG_BITS = {
    "unreadable": 1, "dark": 2, "overexposed": 4, "duplicate": 8, "ocr_mismatch": 16,
    "truncated": 32, "too_small": 64, "greyscale": 128,
}


def _class_variable(long_name: str, classes: tuple[str, ...]) -> Variable:
    return Variable("int8", long_name, codes={"flag_values": list(range(NO_FRAME, len(classes))), "flag_meanings": " ".join(("no_frame", *classes))})


CLASS_VARIABLES = {"sun_class": SUN_CLASSES, "moon_class": MOON_CLASSES}  # code i = classes[i], NO_FRAME = no frame


def morphology_variables(classes: tuple[str, ...]) -> dict[str, Variable]:
    """The variables a store scored by a morphology classifier holds beside :data:`VARIABLES`:
    ``morphology`` (the likeliest class, CF flag_values/flag_meanings, :data:`NO_FRAME` where no
    frame) and ``p_<class>`` for each class. A binary model's store has none of them."""
    return {
        "morphology": _class_variable("likeliest sky class (classifier; OATH classes)", tuple(classes)),
        **{f"p_{c}": Variable("float64", f"classifier probability of the sky class '{c}'", "1") for c in classes},
    }


def store_classes(attrs: dict) -> tuple[str, ...] | None:
    """The sky classes a store's classifier told apart (its ``model_classes``), or ``None`` for a
    binary (yes/no) model's store and for stores written before classes were recorded."""
    classes = tuple(str(attrs.get("model_classes", "")).split())
    return classes if len(classes) > 2 else None

VARIABLES: dict[str, Variable] = {
    "p_aurora": Variable("float64", "classifier probability of visible aurora", "1"),
    # ``threshold`` (the p_aurora at and above which aurora is 1) is added by the store.
    "aurora": Variable("int8", "aurora visible (p_aurora >= threshold)", codes={"flag_values": [NO_FRAME, 0, 1], "flag_meanings": "no_frame no yes"}),
    **PHYSICAL,
    **GEOMETRY,
    **NIGHT_AREA,
    **GRADCAM,
    "sun_class": _class_variable("Sun-altitude class", SUN_CLASSES),
    "moon_class": _class_variable("Moon class", MOON_CLASSES),
    "night": Variable("datetime64[ns]", "night (local date at dusk)"),
    "flags": Variable("int16", "frame quality flags", codes={"flag_masks": list(FLAG_BITS.values()), "flag_meanings": " ".join(FLAG_BITS)}),
}

# The keogram, in its own group of the store: (time, meridian_angle, channel R G B), whole DN 0-255.
# Stored as float64 since keograms were first stored (dask's zeros() took a positional uint8 as no
# dtype): 8x the bytes of uint8, but changing it changes the format and every keogram checksum.
KEOGRAM_GROUP = "keogram"
#: The date of the conventions the index's values follow, recorded in every store: a ``--resume``
#: of a store scored under others is refused, so one store never mixes them. 2026-12-04:
#: ``arc_curvature``'s sign fixed (positive when an arc's ends lie north of its middle; it was the
#: eigensolver's arbitrary choice) and P(aurora) on a GPU in fp32/TF32 (it was bf16).
INDEX_CONVENTIONS = "2026-12-04"
KEOGRAM_ROWS = 90  # rows of the stored keogram: 2 degrees of meridian angle each
KEOGRAM = Variable("float64", "north-south keogram (meridian of each frame, north at angle 0)", "DN")
MERIDIAN_ANGLE_ATTRS = {"units": "degree", "long_name": "meridian angle: 0 north horizon, 90 zenith, 180 south horizon"}

# Each scored minute's embedding (aurora_sw.model.embedding), in its own group: (time, component),
# float16, NaN where no frame. Only stores scored with a checkpoint that has an embedding basis
# have the group (their attrs record ``embedding_dim``).
EMBEDDING_GROUP = "embedding"
EMBEDDING = Variable("float16", "the frame's embedding: principal components of the classifier's pooled features (standardised), in the checkpoint's basis", "1")
COMPONENT_ATTRS = {"long_name": "principal component of the pooled features (0: most variance)"}
#: The groups beside the index variables, each checksummed per night like a variable.
GROUPS = (KEOGRAM_GROUP, EMBEDDING_GROUP)

# Yellowknife's night start (Site.night_start_utc_hour at -114.35 deg: 11:00 MST / 12:00 MDT), the
# default of stores that do not record theirs.
NIGHT_START_UTC_HOUR = 18
MINUTES_PER_NIGHT = 1440


def class_codes(values: pd.Series, classes: tuple[str, ...]) -> np.ndarray:
    """Class names -> int8 codes (position in ``classes``; :data:`NO_FRAME` for anything else,
    missing minutes included)."""
    lookup = {c: i for i, c in enumerate(classes)}
    return np.array([lookup.get(v, NO_FRAME) for v in values], dtype=np.int8)


def class_names(da: xr.DataArray) -> np.ndarray:
    """Decode an integer class variable (``sun_class``/``moon_class``) to names ('' where no frame).

    The names come from the variable's own ``flag_values``/``flag_meanings``, so a store keeps
    reading right even if the classes change later.
    """
    names = {int(v): m for v, m in zip(da.attrs["flag_values"], da.attrs["flag_meanings"].split())}
    names[NO_FRAME] = ""
    codes = np.nan_to_num(np.asarray(da.values, float), nan=NO_FRAME).astype(int)
    return np.array([names.get(c, "") for c in codes], dtype=object)


def flags_to_bits(flags: pd.Series) -> np.ndarray:
    """Comma-separated flag names (the manifest's ``flags``) -> int16 bitmask (:data:`FLAG_BITS`)."""
    out = np.zeros(len(flags), np.int16)
    for name, bit in FLAG_BITS.items():
        out |= np.where(flags.fillna("").str.contains(name, regex=False), bit, 0).astype(np.int16)
    return out


def night_start_hour(attrs: dict) -> int:
    """The night-start hour (UTC, 0-23) a store records in its ``attrs``; :data:`NIGHT_START_UTC_HOUR`
    for stores written before it was recorded."""
    return int(attrs.get("night_start_utc_hour", NIGHT_START_UTC_HOUR))


def night_grid(first_night: str, last_night: str, *, start_hour: int = NIGHT_START_UTC_HOUR) -> pd.DatetimeIndex:
    """The 1-min UTC axis (naive) of a store of the nights ``first_night`` .. ``last_night``
    (local dates at dusk): each night one :data:`MINUTES_PER_NIGHT` chunk from ``start_hour``
    UTC of its date (the site's :attr:`~aurora_sw.catalog.Site.night_start_utc_hour`)."""
    start = pd.Timestamp(first_night) + pd.Timedelta(hours=start_hour)
    n = (pd.Timestamp(last_night) - pd.Timestamp(first_night)).days + 1
    return pd.date_range(start, periods=n * MINUTES_PER_NIGHT, freq="1min", name="time")


def night_of(times: pd.DatetimeIndex, *, start_hour: int = NIGHT_START_UTC_HOUR) -> np.ndarray:
    """The night (``YYYY-MM-DD``, the local date at dusk) each minute belongs to, on a store's grid
    whose nights start at ``start_hour`` UTC (:func:`night_start_hour`)."""
    return (pd.DatetimeIndex(times) - pd.Timedelta(hours=start_hour)).floor("1D").strftime("%Y-%m-%d").to_numpy()


def night_window(night: str, *, start_hour: int = NIGHT_START_UTC_HOUR) -> slice:
    """The store's time slice (UTC) of one night (its chunk), for ``ds.sel(time=...)``;
    ``start_hour`` is the store's (:func:`night_start_hour`)."""
    start = pd.Timestamp(night) + pd.Timedelta(hours=start_hour)
    return slice(start, start + pd.Timedelta(minutes=MINUTES_PER_NIGHT - 1))
