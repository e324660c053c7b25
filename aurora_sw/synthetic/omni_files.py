"""Synthetic solar wind written as OMNI CDF files, in the layouts the OMNI loader reads.

Monthly HRO2 1-min files ``hro2_1min/YYYY/omni_hro2_1min_YYYYMM01_v01.cdf`` and half-year hourly
OMNI2 files ``hourly/YYYY/omni2_h0_mrg1hr_YYYYMM01_v01.cdf`` (Dst, F10.7, Kp), gaps as OMNI fill
values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from aurora_sw.synthetic.solarwind import OMNI_FILLS, synthetic_kp

OMNI_SOURCE_VARS = {
    "bz_gsm": "BZ_GSM",
    "by_gsm": "BY_GSM",
    "bx_gse": "BX_GSE",
    "vsw": "flow_speed",
    "density": "proton_density",
    "pressure": "Pressure",
    "ae": "AE_INDEX",
    "sym_h": "SYM_H",
}


def _write_cdf(path: Path, times: pd.DatetimeIndex, variables: dict[str, tuple[np.ndarray, float, str]], source: str) -> Path:
    """One CDF with an Epoch and ``{name: (data, fill, units)}``; int32 data stays integer."""
    import cdflib
    from cdflib.cdfwrite import CDF

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    epoch = cdflib.cdfepoch.compute_epoch(
        np.stack([times.year, times.month, times.day, times.hour, times.minute, times.second, np.zeros(len(times), int)], 1).tolist()
    )
    cdf = CDF(str(path), cdf_spec={"Compressed": 0})
    cdf.write_globalattrs({"Project": {0: "aurora_sw synthetic OMNI-like solar wind"}, "Logical_source": {0: source}})
    spec = {"Num_Elements": 1, "Rec_Vary": True, "Dim_Sizes": []}
    cdf.write_var({"Variable": "Epoch", "Data_Type": CDF.CDF_EPOCH, **spec}, var_attrs={"VAR_TYPE": "support_data"}, var_data=np.asarray(epoch))
    for name, (data, fill, units) in variables.items():
        if data.dtype == np.int32:
            dtype, fv = CDF.CDF_INT4, [np.int32(fill), "CDF_INT4"]
        else:
            data = np.where(np.isnan(data), fill, data).astype(np.float32)
            dtype, fv = CDF.CDF_FLOAT, [np.float32(fill), "CDF_FLOAT"]
        attrs = {"VAR_TYPE": "data", "DEPEND_0": "Epoch", "FILLVAL": fv, "UNITS": units}
        cdf.write_var({"Variable": name, "Data_Type": dtype, **spec}, var_attrs=attrs, var_data=data)
    cdf.close()
    return path


def write_omni_cdfs(sw: xr.Dataset, activity: xr.DataArray, omni_dir: Path, *, seed: int = 0) -> list[Path]:
    """Write the solar wind in the OMNI layouts, gaps as OMNI fill values.

    Monthly HRO2 1-min files (``hro2_1min/YYYY/omni_hro2_1min_YYYYMM01_v01.cdf``) and half-year
    hourly OMNI2 files (``hourly/YYYY/omni2_h0_mrg1hr_YYYYMM01_v01.cdf`` with Dst, F10.7 and Kp).
    AE and SYM-H are made from the activity (AE rises with it; SYM-H integrates it with a 6-h
    recovery), so that the files hold every variable the catalog declares.

    Parameters
    ----------
    sw
        1-min solar wind (:func:`aurora_sw.synthetic.solarwind.synthetic_solar_wind`; nT, km/s,
        cm^-3, nPa).
    activity
        The auroral activity it drove (0..1, 1 min).
    omni_dir
        The cache folder to write under (as ``solarwind.omni.cache_dir``).
    seed
        Seed of the AE, SYM-H and F10.7 noise.

    Returns
    -------
    list of Path
        The files written.
    """
    from scipy.signal import lfilter

    rng = np.random.default_rng([seed, 7])
    act = activity.values
    gap = np.isnan(sw["bz_gsm"].values)  # index gaps come with the IMF gaps here
    ae = np.round(np.clip(40 + 700 * act + rng.normal(0, 25, act.size), 5, None)).astype(np.int32)
    sym_f = -8 - 0.12 * lfilter([1.0], [1.0, -np.exp(-1 / 360.0)], act) + rng.normal(0, 3, act.size)
    sym = np.round(sym_f).astype(np.int32)
    ae[gap] = OMNI_FILLS["ae"]
    sym[gap] = OMNI_FILLS["sym_h"]
    time = pd.DatetimeIndex(sw["time"].values)
    paths = []
    for _, idx in pd.Series(np.arange(len(time)), index=time).groupby(time.to_period("M")):
        sel = idx.to_numpy()
        t = time[sel]
        variables = {name: (sw[key].values[sel], OMNI_FILLS[key], sw[key].attrs["units"]) for key, name in OMNI_SOURCE_VARS.items() if key in sw}
        variables["AE_INDEX"] = (ae[sel], OMNI_FILLS["ae"], "nT")
        variables["SYM_H"] = (sym[sel], OMNI_FILLS["sym_h"], "nT")
        paths.append(_write_cdf(omni_dir / "hro2_1min" / f"{t[0]:%Y}" / f"omni_hro2_1min_{t[0]:%Y%m}01_v01.cdf", t, variables, "omni_hro2_1min"))

    hourly = pd.DataFrame({"dst": sym_f, "kp": synthetic_kp(sw).reindex(time, method="ffill").to_numpy()}, index=time).resample("1h").mean()
    days = (hourly.index - pd.Timestamp("1970-01-01")).total_seconds().to_numpy() / 86400.0
    f107 = 120 + 25 * np.sin(2 * np.pi * days / 27.0) + rng.normal(0, 3, len(hourly))
    half = np.where(hourly.index.month <= 6, 1, 7)
    for (year, month), g in hourly.assign(f107=f107).groupby([hourly.index.year, half]):
        variables = {
            "DST1800": (np.round(g["dst"].to_numpy()).astype(np.int32), 99999, "nT"),
            "F10_INDEX1800": (g["f107"].to_numpy(), 999.9, "sfu"),
            "KP1800": (np.round(g["kp"].to_numpy() * 10).astype(np.int32), 99, "1"),
        }
        paths.append(_write_cdf(omni_dir / "hourly" / f"{year}" / f"omni2_h0_mrg1hr_{year}{month:02d}01_v01.cdf", g.index, variables, "omni2_h0_mrg1hr"))
    return paths
