"""Derived solar-wind variables (coupling functions), registered by name.

A catalog entry ``{derived: NAME, inputs: [...]}`` calls the function registered as ``NAME`` with
the input variables as numpy arrays, in the order given. Add a new one with::

    @register_derived("my_coupling")
    def my_coupling(vsw, bz): ...

Conventions: speeds in km/s, fields in nT, angles in degrees.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

DERIVED: dict[str, Callable[..., np.ndarray]] = {}


def register_derived(name: str) -> Callable[[Callable[..., np.ndarray]], Callable[..., np.ndarray]]:
    """Register ``func`` as the derived variable ``name`` (decorator)."""

    def wrap(func: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
        DERIVED[name] = func
        return func

    return wrap


@register_derived("clock_angle")
def clock_angle(by: np.ndarray, bz: np.ndarray) -> np.ndarray:
    """IMF clock angle theta = atan2(By, Bz) in degrees, 0..180 (0 northward, 180 southward)."""
    return np.degrees(np.abs(np.arctan2(by, bz)))


@register_derived("newell")
def newell_coupling(vsw: np.ndarray, by: np.ndarray, bz: np.ndarray) -> np.ndarray:
    """Newell et al. (2007): dPhi/dt = V^(4/3) B_T^(2/3) sin^(8/3)(theta/2).

    Units (km/s)^(4/3) nT^(2/3); B_T = sqrt(By^2 + Bz^2) (GSM).
    """
    bt = np.hypot(by, bz)
    theta = np.arctan2(by, bz)
    return np.abs(vsw) ** (4 / 3) * bt ** (2 / 3) * np.abs(np.sin(theta / 2)) ** (8 / 3)


@register_derived("epsilon")
def akasofu_epsilon(vsw: np.ndarray, bx: np.ndarray, by: np.ndarray, bz: np.ndarray) -> np.ndarray:
    """Akasofu epsilon = (4 pi / mu0) V B^2 sin^4(theta/2) l0^2 with l0 = 7 R_E, in W."""
    mu0 = 4e-7 * np.pi
    l0 = 7 * 6.371e6
    b2 = (bx**2 + by**2 + bz**2) * 1e-18  # T^2
    theta = np.arctan2(by, bz)
    return (4 * np.pi / mu0) * (vsw * 1e3) * b2 * np.sin(theta / 2) ** 4 * l0**2


@register_derived("ey")
def dawn_dusk_field(vsw: np.ndarray, bz: np.ndarray) -> np.ndarray:
    """Ey = -V Bz in mV/m (V in km/s, Bz in nT; 1 km/s x 1 nT = 1e-3 mV/m)."""
    return -vsw * bz * 1e-3


@register_derived("bs")
def southward_bz(bz: np.ndarray) -> np.ndarray:
    """Bs = -Bz where Bz < 0, else 0 (nT)."""
    return np.where(np.isnan(bz), np.nan, np.clip(-bz, 0.0, None))


@register_derived("pdyn")
def dynamic_pressure(density: np.ndarray, vsw: np.ndarray) -> np.ndarray:
    """Pdyn = m_p n V^2 in nPa (n in cm^-3, V in km/s)."""
    return 1.6726e-6 * density * vsw**2
