"""``data_catalog.yaml`` -> a typed, validated :class:`Catalog`.

Sites and camera epochs, sky-condition thresholds, data sources, solar-wind variables and output
locations live in one YAML file. Loading it validates every key; a problem raises
:class:`~aurora_sw.errors.CatalogError` whose one-line message names the key, e.g.
``data_catalog.yaml: sites.yellowknife.lat_deg: Input should be a valid number``.
"""

from __future__ import annotations

import math
import os
import re
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from aurora_sw.errors import CatalogError

CATALOG_ENV = "AURORA_SW_CATALOG"
_REPO_CATALOG = Path(__file__).resolve().parent.parent / "data_catalog.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CameraEpoch(_Strict):
    """One camera configuration; the sky circle is in pixels of the 1280x720 movie frame."""

    name: str
    start: datetime
    end: datetime | None = None
    mask_center_xy: tuple[int, int]
    mask_radius_px: int = Field(gt=0)
    overlay_box: tuple[int, int, int, int] = (820, 665, 1280, 715)  # x0, y0, x1, y1 of the burned-in local time


class Site(_Strict):
    """An all-sky camera site (WGS84 geodetic position).

    ``name`` reads ``CAMERA, PLACE`` (``AuroraMAX, Yellowknife NWT, Canada``): the synthetic
    movies burn the camera in at the top left and the place at the top right, as AuroraMAX does.
    """

    name: str
    lat_deg: float = Field(ge=-90, le=90)
    lon_deg: float = Field(ge=-180, le=180)
    elevation_m: float = 0.0
    timezone: str
    frame_cadence_s: float = Field(gt=0)
    camera_epochs: list[CameraEpoch] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @cached_property
    def tz(self) -> ZoneInfo:
        """The site's IANA time zone (what the camera's burned-in local time follows)."""
        return ZoneInfo(self.timezone)

    @property
    def camera_name(self) -> str:
        """The camera part of ``name`` (before the first comma)."""
        return self.name.split(",", 1)[0].strip()

    @property
    def place(self) -> str:
        """The place part of ``name`` (after the first comma; the whole name if it has none)."""
        parts = self.name.split(",", 1)
        return parts[1].strip() if len(parts) > 1 else self.name

    @property
    def night_start_utc_hour(self) -> int:
        """The UTC hour at which the site's nights begin on the index's time axis (0-23).

        A night (named by its local date at dusk) is one 24-h chunk from this hour of its date:
        the whole UTC hour one to two hours before local mean solar noon,
        ``floor(12 - lon/15 - 1) mod 24`` with ``lon`` in degrees east. Noon is as far from
        dusk and dawn as a day allows, so a night never straddles two chunks. Yellowknife
        (-114.35 deg, solar noon 19:37 UTC) gives 18 (11:00 MST, 12:00 MDT).
        """
        return int(math.floor(12.0 - self.lon_deg / 15.0 - 1.0)) % 24

    def camera_epoch(self, time: datetime) -> CameraEpoch:
        """The camera epoch in force at ``time`` (timezone-aware UTC)."""
        for epoch in self.camera_epochs:
            if epoch.start <= time and (epoch.end is None or time < epoch.end):
                return epoch
        raise CatalogError(f"site {self.name!r}: no camera epoch covers {time.isoformat()}")


class SunThresholds(_Strict):
    night_max_deg: float = -18.0
    astro_max_deg: float = -12.0
    nautical_max_deg: float = -6.0
    civil_max_deg: float = 0.0

    @model_validator(mode="after")
    def _ordered(self) -> "SunThresholds":
        if not self.night_max_deg < self.astro_max_deg < self.nautical_max_deg < self.civil_max_deg:
            raise ValueError("sun thresholds must increase: night < astro < nautical < civil")
        return self


class MoonThresholds(_Strict):
    full_min_phase_deg: float = Field(150.0, ge=0, le=180)
    full_min_alt_deg: float = 5.0
    quarter_min_phase_deg: float = Field(45.0, ge=0, le=180)
    quarter_min_alt_deg: float = 10.0


class SkyConditionThresholds(_Strict):
    sun: SunThresholds = SunThresholds()
    moon: MoonThresholds = MoonThresholds()


class Source(_Strict):
    """A place frames come from: a URL pattern and/or file-name patterns carrying the time."""

    kind: Literal["mp4", "jpeg"]
    url: str | None = None
    resolution: str | None = None
    overlay_timezone_note: str | None = None
    filename_patterns: list[str] = []


class OmniConfig(_Strict):
    level: Literal["hro", "hro2"] = "hro2"
    datatype: Literal["1min", "5min"] = "1min"
    cache_dir: str = "omni_data"


class KpConfig(_Strict):
    cache_dir: str = "kp_data"


class Variable(_Strict):
    """A solar-wind variable: read from a source (``source_var``) or derived from ``inputs``.

    Sources: ``omni_1min``/``omni_5min``/``omni_hourly`` (a CDF variable), ``kp`` (GFZ Kp), or
    ``csv`` (``path`` relative to the catalog, ``time_column`` in UTC, ``source_var`` the column).
    """

    source: Literal["omni_1min", "omni_5min", "omni_hourly", "kp", "csv"] | None = None
    source_var: str | None = None
    fill: float | None = None
    scale: float = 1.0
    path: str | None = None
    time_column: str = "time"
    derived: str | None = None
    inputs: list[str] = []
    units: str
    long_name: str

    @model_validator(mode="after")
    def _source_or_derived(self) -> "Variable":
        if (self.source is None) == (self.derived is None):
            raise ValueError("give exactly one of 'source' (with 'source_var') or 'derived' (with 'inputs')")
        if self.source is not None and not self.source_var:
            raise ValueError("'source_var' is required with 'source'")
        if self.derived is not None and not self.inputs:
            raise ValueError("'inputs' is required with 'derived'")
        if self.source == "csv" and not self.path:
            raise ValueError("'path' is required with source: csv")
        return self


class RealtimeConfig(_Strict):
    """NOAA SWPC's real-time solar wind at L1 (live mode) and how far it travels to the bow shock."""

    mag_url: str = "https://services.swpc.noaa.gov/products/solar-wind/mag-1-day.json"
    plasma_url: str = "https://services.swpc.noaa.gov/products/solar-wind/plasma-1-day.json"
    kp_url: str | None = "https://services.swpc.noaa.gov/products/noaa-planetary-k-index.json"
    l1_distance_km: float = Field(1.5e6, gt=0)
    bow_shock_km: float = Field(9.0e4, ge=0)  # ~14 Earth radii: the bow-shock nose, where OMNI is shifted to

    @model_validator(mode="after")
    def _shock_inside_l1(self) -> "RealtimeConfig":
        if self.bow_shock_km >= self.l1_distance_km:
            raise ValueError(f"bow_shock_km {self.bow_shock_km:g} must be less than l1_distance_km {self.l1_distance_km:g}")
        return self


class SolarWindConfig(_Strict):
    omni: OmniConfig = OmniConfig()
    kp: KpConfig = KpConfig()
    realtime: RealtimeConfig = RealtimeConfig()
    variables: dict[str, Variable]

    @model_validator(mode="after")
    def _inputs_exist(self) -> "SolarWindConfig":
        for name, var in self.variables.items():
            for dep in var.inputs:
                if dep not in self.variables:
                    raise ValueError(f"variables.{name}.inputs: unknown variable {dep!r}")
        return self


class EventList(_Strict):
    """A list of solar events: GOES flares from the HEK through sunpy (``hek_flares``, cached by
    month under ``cache_dir``), or a CSV the user downloaded (``csv``: ``path``, ``time_column``)."""

    source: Literal["hek_flares", "csv"]
    long_name: str = ""
    min_class: str = "M1.0"
    cache_dir: str = "event_data"
    path: str | None = None
    time_column: str = "time"

    @model_validator(mode="after")
    def _csv_has_path(self) -> "EventList":
        if self.source == "csv" and not self.path:
            raise ValueError("source csv needs a path")
        if self.source == "hek_flares" and not re.fullmatch(r"[ABCMX]\d+(\.\d+)?", self.min_class):
            raise ValueError(f"min_class {self.min_class!r} is not a GOES class such as M1.0")
        return self


class Outputs(_Strict):
    """Where a project's outputs lie, relative to its root folder (read through
    :class:`aurora_sw.layout.ProjectLayout`, which every face and the demo use).

    Every entry but ``root`` is a relative path under the root (no ``..``, not absolute).
    ``manifest`` and ``problems`` name files inside the ``archive`` folder; the archive's own
    format fixes them (the ingest stage writes and reads these names), so only these values are
    accepted.
    """

    root: str = "aurora_sw_data"
    synthetic: str = "synthetic"
    archive: str = "archive"
    manifest: Literal["manifest.parquet"] = "manifest.parquet"
    problems: Literal["ingest_problems.csv"] = "ingest_problems.csv"
    labels: str = "archive/labels.parquet"
    model: str = "model"
    index: str = "index.zarr"
    solarwind: str = "solarwind.nc"
    analyses: str = "analyses"
    forecast: str = "forecast"
    live: str = "live"
    summary: str = "summary.json"

    @field_validator("synthetic", "archive", "labels", "model", "index", "solarwind", "analyses", "forecast", "live", "summary")
    @classmethod
    def _relative(cls, value: str) -> str:
        path = Path(value)
        if not value.strip() or path.is_absolute() or ".." in path.parts or path == Path("."):
            raise ValueError(f"{value!r}: give a path relative to the project root, without '..'")
        return value


class Catalog(_Strict):
    """The whole validated catalog. Use :func:`load_catalog` to get one."""

    sites: dict[str, Site] = Field(min_length=1)
    default_site: str | None = None
    sky_conditions: SkyConditionThresholds = SkyConditionThresholds()
    sources: dict[str, Source] = {}
    solarwind: SolarWindConfig
    events: dict[str, EventList] = {}
    outputs: Outputs = Outputs()
    path: Path | None = Field(default=None, exclude=True)

    @field_validator("default_site")
    @classmethod
    def _default_site_known(cls, value: str | None, info: ValidationInfo) -> str | None:
        sites = info.data.get("sites") or {}
        if value is not None and value not in sites:
            raise ValueError(f"{value!r} is not one of the sites ({', '.join(sorted(sites))})")
        return value

    @property
    def default_site_key(self) -> str:
        """The site used when none is named: ``default_site``, else the first site listed."""
        return self.default_site or next(iter(self.sites))

    def site(self, key: str | None = None) -> Site:
        """The site called ``key`` (``None``: :attr:`default_site_key`); an unknown key raises
        :class:`CatalogError` listing the known ones."""
        key = key or self.default_site_key
        try:
            return self.sites[key]
        except KeyError:
            raise CatalogError(
                f"{self.path or 'catalog'}: sites.{key}: unknown site; known: {', '.join(sorted(self.sites))}"
            ) from None

    def variable(self, key: str) -> Variable:
        """The solar-wind variable called ``key``; unknown keys raise :class:`CatalogError`."""
        try:
            return self.solarwind.variables[key]
        except KeyError:
            known = ", ".join(sorted(self.solarwind.variables))
            raise CatalogError(
                f"{self.path or 'catalog'}: solarwind.variables.{key}: unknown variable; known: {known}"
            ) from None

    def event_list(self, key: str) -> EventList:
        """The event list called ``key``; unknown keys raise :class:`CatalogError`."""
        try:
            return self.events[key]
        except KeyError:
            raise CatalogError(f"{self.path or 'catalog'}: events.{key}: unknown event list; known: {', '.join(sorted(self.events)) or 'none'}") from None


def default_catalog_path() -> Path:
    """Where the catalog is read from: ``$AURORA_SW_CATALOG``, ``./data_catalog.yaml``, or the repo's."""
    if os.environ.get(CATALOG_ENV):
        return Path(os.environ[CATALOG_ENV])
    local = Path.cwd() / "data_catalog.yaml"
    return local if local.exists() else _REPO_CATALOG


def _key_path(loc: tuple) -> str:
    return ".".join(str(part) for part in loc)


def load_catalog(path: str | os.PathLike | None = None) -> Catalog:
    """Read and validate a data catalog.

    Parameters
    ----------
    path
        YAML file; default :func:`default_catalog_path`.

    Returns
    -------
    Catalog
        The validated catalog.

    Raises
    ------
    CatalogError
        One line naming the file, the key and the problem.
    """
    path = Path(path) if path is not None else default_catalog_path()
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise CatalogError(f"{path}: catalog file not found") from None
    except (IsADirectoryError, UnicodeDecodeError, PermissionError) as exc:
        raise CatalogError(f"{path}: not a readable YAML catalog file ({type(exc).__name__}); pass data_catalog.yaml") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise CatalogError(f"{path}:{where} not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(raw, dict):
        raise CatalogError(f"{path}: top level must be a mapping of sections (sites, solarwind, ...)")
    try:
        return Catalog.model_validate({**raw, "path": path})
    except ValidationError as exc:
        first = exc.errors()[0]
        key = _key_path(first["loc"]) or "(top level)"
        msg = first["msg"]
        if first["type"] == "missing":
            msg = "required key is missing"
        elif first["type"] == "extra_forbidden":
            msg = "unknown key (typo?)"
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise CatalogError(f"{path}: {key}: {msg}{more}") from None
