"""The forecast's verification figure: skill per lead against each baseline, and the reliability diagram."""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from aurora_sw.analysis.plots import _figure, _save
from aurora_sw.forecast.crossval import LeadVerification


def plot_verification(verification: Mapping[int, LeadVerification], path: str | os.PathLike | None = None):
    """Left: Brier skill score per lead against each baseline (95 % night-bootstrap CIs). Right: reliability
    of the held-out forecast per lead (forecast probability vs observed frequency)."""
    fig, ax = _figure(11.0, 4.2)
    fig.clf()
    ax, rel = fig.subplots(1, 2)
    leads = list(verification)
    names = sorted({n for v in verification.values() for n in v.bss})
    width = 0.8 / max(1, len(names))
    for k, name in enumerate(names):
        x = np.arange(len(leads)) + (k - (len(names) - 1) / 2) * width
        value = np.array([verification[lead].bss.get(name, np.nan) for lead in leads])
        lo, hi = (np.array([verification[lead].ci.get(f"bss_{name}", (np.nan, np.nan))[i] for lead in leads]) for i in (0, 1))
        err = np.vstack([value - lo, hi - value])
        ax.bar(x, value, width, label=name, yerr=np.where(np.isfinite(err), err, 0), capsize=2)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(np.arange(len(leads)), [f"t+{lead}" for lead in leads])
    ax.set_xlabel("lead (min)")
    ax.set_ylabel("Brier skill score of the forecast")
    ax.set_title("skill against each baseline (held-out nights)")
    ax.legend(fontsize=8)
    rel.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls="--")
    for lead, v in verification.items():
        rel.plot(v.reliability["forecast"], v.reliability["observed"], marker="o", ms=3, label=f"t+{lead} min")
    rel.set_xlabel("forecast probability")
    rel.set_ylabel("observed frequency")
    rel.set_title("reliability")
    rel.legend(fontsize=8)
    return _save(fig, path)
