"""Fisheye all-sky frames of a synthetic night over a site.

Radiance is built in linear units (1 = white) and tone-mapped like a camera (gain, gamma,
vignetting, read noise). The projection is the camera's (:mod:`aurora_sw.camera`: equidistant,
zenith at the centre, horizon at the circle's edge, north up and east left), so the synthetic sky
and a real frame share one geometry and one skymap.

Components, each driven by physics or by a seeded random process:

* airglow brightening towards the horizon (van Rhijn), city glow low in the south-west;
* twilight from the real Sun altitude/azimuth, moonlight (sky brightening, halo, disk) from the
  real Moon geometry and phase;
* stars turning about the celestial pole with sidereal time;
* clouds: fractal noise advected by wind, lit by the city, the Moon and the aurora;
* auroral arcs as curtains on 105-230 km shells: green 557.7 nm lower parts, red 630 nm tops,
  folds travelling along the arc, rays, diffuse patches; they move equatorward and multiply as
  activity grows;
* a corona when the arcs are overhead in strong activity: rays along the field lines, which the
  fisheye sees converging on the magnetic zenith (~82 deg up, south-southwest of the zenith);
* pulsating aurora in the morning sector: patches equatorward of the arcs that switch on and off
  from one frame (minute) to the next;
* a tree line at the horizon;
* the camera's look, varied from night to night over what real AuroraMAX frames show (colour
  balance from green-white to blue-grey, exposure, vignetting, aurora washed towards white where
  the sensor saturates): :class:`CameraLook`, drawn by :func:`random_look`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from aurora_sw.camera import altaz_to_pixel, circle_mask, ground_distance_km, pixel_altaz

GREEN = np.array([0.28, 1.0, 0.42], dtype=np.float32)  # 557.7 nm in the camera's RGB
RED = np.array([1.0, 0.12, 0.16], dtype=np.float32)  # 630.0 nm
BLUE_N2 = np.array([0.45, 0.25, 1.0], dtype=np.float32)  # 427.8 nm N2+ lower borders
# Emission height profiles (Gaussian in height): centre and spread in km.
GREEN_HEIGHT_KM = (118.0, 16.0)
RED_HEIGHT_KM = (235.0, 45.0)
REF_HEIGHT_KM = 100.0
GAMMA_LUT = (255.0 * np.linspace(0, 1, 16384, dtype=np.float32) ** (1 / 2.2)).astype(np.float32)
MAG_DECLINATION_DEG = 18.0  # arcs align with geomagnetic east-west, ~18 deg E at Yellowknife
MAG_DIP_DEG = 82.0  # inclination of the field at Yellowknife (IGRF, ~82 deg): the magnetic zenith's elevation
CORONA_ACTIVITY = 1.5  # activity from which the arcs stand overhead and break into a corona
PULSATING_SUN_AZ_DEG = (15.0, 120.0)  # the morning sector (Sun east of north below the horizon): pulsating aurora


@dataclass(frozen=True)
class CameraLook:
    """How the camera renders one night (all 1 / 0 for the fixed look the demo had before).

    white_balance
        Gains on linear R, G, B (normalised to a mean of 1).
    exposure
        Gain on the linear image before the camera's gamma.
    vignette
        Strength of the fall-off towards the horizon (1 = the fixed look's).
    aurora_whitening
        Fraction of the aurora's colour replaced by its brightness in white, where a real camera's
        green channel saturates and arcs look pale green to white.
    """

    white_balance: tuple[float, float, float] = (1.0, 1.0, 1.0)
    exposure: float = 1.0
    vignette: float = 1.0
    aurora_whitening: float = 0.0


def random_look(rng: np.random.Generator) -> CameraLook:
    """A night's :class:`CameraLook` drawn over the range of the real frames in the project's
    reference set (AuroraMAX, 2022-2025: green-grey to blue-grey skies, pale green to white arcs,
    darker and brighter exposures)."""
    wb = np.array([rng.uniform(0.85, 1.1), rng.uniform(0.95, 1.1), rng.uniform(0.9, 1.25)])
    return CameraLook(white_balance=tuple(float(x) for x in wb / wb.mean()), exposure=float(rng.uniform(0.75, 1.35)),
                      vignette=float(rng.uniform(0.6, 1.4)), aurora_whitening=float(rng.uniform(0.0, 0.4)))


@dataclass(frozen=True)
class FrameState:
    """Everything that changes from frame to frame (angles in degrees, activity dimensionless)."""

    minute: float  # minutes since the night's reference time (drives motion)
    lst_deg: float  # local sidereal time
    sun_alt: float
    sun_az: float
    moon_alt: float
    moon_az: float
    moon_illum: float
    activity: float
    cloudiness: float  # 0 clear .. 1 overcast


def _fbm(rng: np.random.Generator, shape: tuple[int, int], octaves: int = 5, base: int = 4) -> np.ndarray:
    """Fractal (1/f) noise in [0, 1] by summing upsampled random grids."""
    h, w = shape
    longest = max(h, w)
    out = np.zeros(shape, np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        cells = base * 2**o  # grid cells along the longer axis
        gh = max(1, min(h, round(cells * h / longest)))
        gw = max(2, min(w, round(cells * w / longest)))
        grid = rng.random((gh, gw), dtype=np.float32)
        out += amp * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= 0.55
    out /= total
    lo, hi = np.percentile(out, [1, 99])
    return np.clip((out - lo) / (hi - lo + 1e-6), 0, 1)


@dataclass
class SkyGeometry:
    """Per-pixel sky coordinates of a fisheye image of ``size`` x ``size`` pixels."""

    size: int
    alt: np.ndarray = field(init=False)
    az: np.ndarray = field(init=False)
    inside: np.ndarray = field(init=False)
    xyz: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.inside = circle_mask(self.size)
        self.alt, self.az = pixel_altaz(self.size)  # the camera's projection: north up, east left
        a, z = np.radians(self.alt), np.radians(self.az)
        self.xyz = np.stack([np.cos(a) * np.sin(z), np.cos(a) * np.cos(z), np.sin(a)], -1).astype(np.float32)

    def angular_distance(self, alt: float, az: float) -> np.ndarray:
        """Angle in degrees between every pixel and the direction (alt, az)."""
        a, z = np.radians(alt), np.radians(az)
        v = np.array([np.cos(a) * np.sin(z), np.cos(a) * np.cos(z), np.sin(a)], np.float32)
        return np.degrees(np.arccos(np.clip(self.xyz @ v, -1, 1)))

    def pixel_of(self, alt: np.ndarray, az: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel (x, y) of sky directions (deg); the inverse of the projection."""
        return altaz_to_pixel(alt, az, self.size)

    def shell_coordinates(self, height_km: float) -> tuple[np.ndarray, np.ndarray]:
        """Ground (east, north) km of where each pixel's ray meets a shell ``height_km`` up
        (rays below 0.5 deg elevation are taken at 0.5 deg)."""
        s = ground_distance_km(np.maximum(self.alt, 0.5), height_km)
        z = np.radians(self.az)
        return (s * np.sin(z)).astype(np.float32), (s * np.cos(z)).astype(np.float32)


class NightSky:
    """Renders frames of one synthetic night; all randomness fixed by ``seed``.

    Parameters
    ----------
    size
        Output frame size in pixels (square; the sky circle fills it).
    lat_deg
        Site latitude (sets the celestial pole's altitude for star motion).
    seed
        Seed for the night's stars, trees, clouds and auroral forms.
    look
        The camera's look this night (default: :func:`random_look` from its own stream of
        ``seed``, so the sky's other randomness does not depend on it); ``CameraLook()`` for the
        fixed look.
    """

    def __init__(self, size: int = 720, lat_deg: float = 62.43, seed: int = 0, *, look: CameraLook | None = None) -> None:
        self.size = size
        self.lat = np.radians(lat_deg)
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.look = look if look is not None else random_look(np.random.default_rng([seed, 7]))
        self.full = SkyGeometry(size)
        self.half = SkyGeometry(max(size // 2, 64))
        self._init_static()

    # ----------------------------------------------------------------- static parts of the night
    def _init_static(self) -> None:
        rng, g = self.rng, self.half
        # Stars: uniform on the sphere, magnitudes with many faint ones.
        n = 2600
        self.star_dec = np.arcsin(rng.uniform(-0.5, 1.0, n))
        self.star_ra = rng.uniform(0, 2 * np.pi, n)
        mag = np.clip(6.0 - rng.exponential(1.1, n), -1.0, 6.0)
        self.star_flux = (10 ** (-0.4 * (mag - 1.0)) * 0.35).astype(np.float32)
        # Tree line: spruce triangles along the horizon.
        az = np.linspace(0, 360, 1441)
        line = 1.5 + 1.5 * _fbm(rng, (1, 1441), octaves=3, base=2)[0]
        for c in rng.uniform(0, 360, 110):
            h, w = rng.uniform(3, 13), rng.uniform(0.6, 2.2)
            d = np.abs((az - c + 180) % 360 - 180)
            line = np.maximum(line, h * (1 - d / w) * (d < w))
        self.tree_mask_full = self.full.alt < np.interp(self.full.az, az, line)
        self.tree_mask_half = g.alt < np.interp(g.az, az, line)
        # Clouds: a larger field that the wind moves across the sky; thresholds by cover fraction.
        self.cloud_tex = _fbm(rng, (g.size * 3, g.size * 3), octaves=6, base=3)
        self.cloud_levels = np.quantile(self.cloud_tex[:: 4, :: 4], np.linspace(0, 1, 101))
        self.haze_tex = _fbm(rng, (g.size * 3, g.size * 3), octaves=7, base=6)
        self.wind = rng.normal(0, 1, 2) * g.size / 300.0  # pixels (half grid) per minute
        # Auroral curtains: across-arc coordinate v at 100 km and its change with height (dv/dh).
        dec = np.radians(MAG_DECLINATION_DEG)
        x0, y0 = g.shell_coordinates(REF_HEIGHT_KM)
        x1, y1 = g.shell_coordinates(REF_HEIGHT_KM + 150.0)
        self.u = x0 * np.cos(dec) + y0 * np.sin(dec)
        self.v = y0 * np.cos(dec) - x0 * np.sin(dec)
        self.dvdh = ((y1 * np.cos(dec) - x1 * np.sin(dec)) - self.v) / 150.0
        self.arcs = [
            dict(
                offset=k * rng.uniform(50, 110),
                curvature=rng.uniform(-2e-4, 3e-4),
                fold_amp=rng.uniform(8, 30),
                fold_len=rng.uniform(150, 450),
                fold_speed=rng.uniform(-3, 3),
                width=rng.uniform(4, 12),
                red_frac=float(np.clip(rng.normal(0.3, 0.2), 0.05, 0.9)),
                ray_phase=rng.uniform(0, 100),
            )
            for k in range(3)
        ]
        self.ray_tex = _fbm(rng, (1, 4096), octaves=6, base=16)[0]
        self.diffuse_tex = _fbm(rng, (g.size, g.size), octaves=4, base=3)
        forms = np.random.default_rng([self.seed, 11])  # the newer forms draw from their own stream: the arcs above are as before
        # Corona: angle about the magnetic zenith's pixel and distance from it (in sky radii).
        mx, my = g.pixel_of(np.array([MAG_DIP_DEG]), np.array([(MAG_DECLINATION_DEG + 180.0) % 360.0]))
        yy, xx = np.mgrid[: g.size, : g.size].astype(np.float32)
        self.corona_angle = np.arctan2(yy - my[0], xx - mx[0])
        self.corona_r = np.hypot(yy - my[0], xx - mx[0]) / (g.size / 2.0)
        self.corona_rays = _fbm(forms, (1, 2048), octaves=5, base=48)[0] ** 2
        self.corona_envelope = 0.25 + 0.75 * _fbm(forms, (1, 2048), octaves=2, base=3)[0]  # brighter sectors, not a uniform sunburst
        # Pulsating patches: blobs of a coarse noise field, each switching on and off by itself.
        blobs = _fbm(forms, (g.size, g.size), octaves=3, base=7)
        _, self.patch_id = cv2.connectedComponents((blobs > np.quantile(blobs, 0.7)).astype(np.uint8))
        self.patch_soft = cv2.GaussianBlur((blobs > np.quantile(blobs, 0.7)).astype(np.float32), (0, 0), g.size / 40.0)  # soft edges
        self.drift = rng.uniform(-60, 60)  # km, night-to-night arc position scatter
        # Airglow (van Rhijn brightening towards the horizon) and the town's glow in the south-west.
        alt = np.maximum(g.alt, 0.0)
        self.sin_alt = np.sin(np.radians(np.maximum(alt, 2.0)))
        self.low = (1 - self.sin_alt) ** 2
        airglow = (0.0045 / np.sqrt(1 - 0.96 * (1 - self.sin_alt**2)))[..., None] * np.array([0.82, 0.9, 1.0], np.float32)
        city_d = np.abs((g.az - 205 + 180) % 360 - 180)
        city = (0.06 * np.exp(-alt / 16.0) * np.exp(-((city_d / 75.0) ** 2)))[..., None] * np.array(
            [1.0, 0.85, 0.62], np.float32
        )
        self.static_sky = (airglow + city).astype(np.float32)
        self.sky_free_full = (~self.tree_mask_full).astype(np.float32)
        # Camera: vignetting and a read-noise field sampled at a random offset each frame.
        za = np.radians(90.0 - self.full.alt)
        fall = 0.45 * self.look.vignette
        self.vignette = (1.0 - fall + fall * np.cos(za * 0.95) ** 2).astype(np.float32)[..., None]
        self.noise = rng.standard_normal((self.size * 2, self.size * 2, 3), dtype=np.float32) * 1.8

    # ----------------------------------------------------------------- components (half grid)
    def _background(self, st: FrameState) -> np.ndarray:
        g = self.half
        sin_alt, low = self.sin_alt, self.low
        sky = self.static_sky
        # Twilight: exponential in Sun altitude, concentrated towards the Sun and the horizon.
        tw = 0.06 * np.exp((st.sun_alt + 12.0) / 2.3)
        if tw > 1e-5:
            d_az = np.abs((g.az - st.sun_az + 180) % 360 - 180)
            towards = np.exp(-((d_az / 70.0) ** 2))
            shape = (0.35 + 0.65 * low * (0.5 + towards))[..., None]
            warm = (low * towards)[..., None]
            color = (1 - warm) * np.array([0.35, 0.55, 1.0], np.float32) + warm * np.array([1.0, 0.62, 0.32], np.float32)
            sky = sky + tw * shape * color
        # Moonlight: sky brightening, a halo, scattered most near the horizon.
        if st.moon_alt > -3:
            m = 0.035 * st.moon_illum**1.5 * np.clip((st.moon_alt + 3) / 25.0, 0, 1)
            halo = np.exp(-g.angular_distance(st.moon_alt, st.moon_az) / 14.0)
            sky = sky + (m * (0.55 + 0.5 * (1 - sin_alt) + 2.5 * halo))[..., None] * np.array(
                [0.6, 0.72, 1.0], np.float32
            )
        return sky.astype(np.float32)

    def _window(self, tex: np.ndarray, st: FrameState, speed: float) -> np.ndarray:
        n = self.half.size
        ox = int(np.mod(n + st.minute * self.wind[0] * speed, n * 2 - 1))
        oy = int(np.mod(n + st.minute * self.wind[1] * speed, n * 2 - 1))
        return tex[oy : oy + n, ox : ox + n]

    def _clouds(self, st: FrameState) -> np.ndarray:
        """Cloud opacity 0..1 on the half grid: cumulus-like cover plus a thin cirrus haze."""
        g = self.half
        if st.cloudiness <= 0.01:
            return np.zeros(g.alt.shape, np.float32)
        thr = self.cloud_levels[int(round(100 * (1.0 - min(st.cloudiness, 1.0))))]
        cover = np.clip((self._window(self.cloud_tex, st, 1.0) - thr) / 0.12, 0, 1)
        haze = 0.45 * st.cloudiness * self._window(self.haze_tex, st, 1.6)
        opacity = np.maximum(cover, haze)
        # Clouds near the horizon look thicker (longer path).
        return np.clip(opacity * (1.0 + 0.6 * (1 - np.sin(np.radians(np.maximum(g.alt, 1.0))))), 0, 1).astype(np.float32)

    @staticmethod
    def _curtain(d: np.ndarray, k: np.ndarray, width: float, sigma: float) -> np.ndarray:
        """Line-of-sight integral through a Gaussian curtain, normalised to 1 looking up along it.

        The emission is exp(-(dv/width)^2) across the curtain times exp(-((h-hc)/sigma)^2) in
        height; along a ray v(h) = v(hc) + k (h - hc), so the integral of the two Gaussians is
        closed-form: sigma w / sqrt(k^2 sigma^2 + w^2) exp(-d^2 / (k^2 sigma^2 + w^2)).
        """
        q = (k * sigma) ** 2 + width**2
        return (width / np.sqrt(q)) * np.exp(-(d**2) / q)

    def _aurora(self, st: FrameState, frame_rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Green and red emission (linear radiance) on the half grid, the green of the diffuse and
        pulsating patches (part of ``green``; the morphology truth compares it with the arcs'), and
        the green of the newer forms by name (``corona``, ``pulsating``), for the truth's ``form``."""
        g = self.half
        a = st.activity
        green = np.zeros(g.alt.shape, np.float32)
        red = np.zeros(g.alt.shape, np.float32)
        diffuse = np.zeros(g.alt.shape, np.float32)
        forms: dict[str, np.ndarray] = {}
        strength = 0.6 * max(a - 0.3, 0.0) ** 1.1
        pulsating = self._pulsating(st, frame_rng)
        if pulsating is not None:
            forms["pulsating"] = pulsating
            green += pulsating
            diffuse += pulsating
        if strength <= 0:
            return green, red, diffuse, forms
        u, v, k = self.u, self.v, self.dvdh
        # Quiet arcs sit low in the north; activity pushes them overhead and south.
        v0 = 520.0 - 330.0 * min(a, 2.2) + self.drift + 25 * np.sin(st.minute / 37.0)
        weights = (1.0, np.clip(a - 0.7, 0, 1), np.clip(a - 1.3, 0, 1))
        for arc, w in zip(self.arcs, weights):
            if w <= 0:
                continue
            phase = 2 * np.pi * (u / arc["fold_len"]) + arc["fold_speed"] * st.minute / 10.0
            center = v0 - arc["offset"] + arc["curvature"] * u**2 + arc["fold_amp"] * (0.6 + 0.4 * a) * np.sin(phase)
            width = arc["width"] * (1 + 0.5 * a)
            # Rays: structure along the arc, sharper when active.
            idx = ((u + 2048 + st.minute * 2.0 * arc["fold_speed"] + arc["ray_phase"]) % 4096).astype(np.int32)
            rays = 1.0 - min(0.25 + 0.3 * a, 0.8) * self.ray_tex[idx]
            hg, sg = GREEN_HEIGHT_KM
            hr, sr = RED_HEIGHT_KM
            d_g = center - (v + k * (hg - REF_HEIGHT_KM))
            d_r = center - (v + k * (hr - REF_HEIGHT_KM))
            e = w * strength * rays
            green += e * self._curtain(d_g, k, width, sg)
            red += e * (0.03 + 0.22 * arc["red_frac"]) * self._curtain(d_r, k, width * 3.0, sr)
        if a > 1.0:  # diffuse/patchy aurora equatorward of the arcs
            patch = np.clip((v - (v0 - 400.0)) / -250.0, 0, 1) * self.diffuse_tex
            patchy = (0.12 * (a - 1.0) * strength * patch).astype(np.float32)
            diffuse += patchy
            green += patchy
        if a > CORONA_ACTIVITY:  # rays along the field lines overhead, converging on the magnetic zenith
            idx = ((self.corona_angle / (2 * np.pi) + 0.5) * 2047 + st.minute * 3.0).astype(np.int32) % 2048
            radial = np.exp(-self.corona_r / 0.3) * (1.0 - np.exp(-((self.corona_r / 0.05) ** 2)))
            sector = self.corona_envelope[((self.corona_angle / (2 * np.pi) + 0.5) * 2047).astype(np.int32)]
            corona = (0.6 * strength * min(a - CORONA_ACTIVITY, 0.6) * self.corona_rays[idx] * sector * radial).astype(np.float32)
            forms["corona"] = corona
            green += corona
            red += 0.15 * corona
        return green, red, diffuse, forms

    def _pulsating(self, st: FrameState, frame_rng: np.random.Generator) -> np.ndarray | None:
        """Pulsating aurora's green, or None: in the morning sector at moderate activity, patches
        south of the zenith region, each on or off this minute (their periods, seconds to tens of
        seconds, are far shorter than the frame interval, so each frame sees a fresh draw)."""
        lo, hi = PULSATING_SUN_AZ_DEG
        a = st.activity
        if not (lo <= st.sun_az <= hi) or a < 0.35 or st.sun_alt > -10:
            return None
        n = int(self.patch_id.max())
        on = np.concatenate([[0.0], frame_rng.random(n) < 0.5]).astype(np.float32)
        lit = on[self.patch_id] * self.patch_soft
        south = np.clip((150.0 - self.v) / 200.0, 0, 1)  # overhead and equatorward of the arcs' usual place
        return (0.09 * min(a, 1.5) * lit * south).astype(np.float32)

    def folded(self, activity: float) -> bool:
        """Whether the night's arcs at ``activity`` are discrete, folded forms rather than a quiet
        arc: a second arc is lit at a fifth of the first's strength or more (activity > 0.9), or the
        main arc's fold amplitude exceeds 2.5 times its width (per-night parameters; both grow
        with activity)."""
        arc = self.arcs[0]
        return activity > 0.9 or arc["fold_amp"] * (0.6 + 0.4 * activity) > 2.5 * arc["width"] * (1 + 0.5 * activity)

    # ----------------------------------------------------------------- stars (full grid)
    def _stars(self, st: FrameState, frame_rng: np.random.Generator) -> np.ndarray:
        f = self.full
        ha = np.radians(st.lst_deg) - self.star_ra
        dec, lat = self.star_dec, self.lat
        sin_alt = np.sin(dec) * np.sin(lat) + np.cos(dec) * np.cos(lat) * np.cos(ha)
        alt = np.degrees(np.arcsin(np.clip(sin_alt, -1, 1)))
        az = np.degrees(np.arctan2(-np.cos(dec) * np.sin(ha), np.sin(dec) * np.cos(lat) - np.cos(dec) * np.sin(lat) * np.cos(ha)))
        up = alt > 1.0
        x, y = f.pixel_of(alt[up], np.mod(az[up], 360))
        xi = np.clip(np.round(x).astype(int), 0, f.size - 1)
        yi = np.clip(np.round(y).astype(int), 0, f.size - 1)
        # Extinction towards the horizon, twinkling.
        ext = np.exp(-0.25 / np.maximum(np.sin(np.radians(alt[up])), 0.05))
        flux = self.star_flux[up] * ext * frame_rng.uniform(0.75, 1.25, up.sum())
        img = np.zeros((f.size, f.size), np.float32)
        np.add.at(img, (yi, xi), flux)
        sigma = 0.6 * f.size / 720.0 + 0.25
        return cv2.GaussianBlur(img, (0, 0), sigma) * (2 * np.pi * sigma**2) ** 0.5

    # ----------------------------------------------------------------- the frame
    def render(self, st: FrameState, frame_seed: int = 0) -> tuple[np.ndarray, dict]:
        """One RGB uint8 frame and its ground truth.

        Returns
        -------
        frame : numpy.ndarray
            ``size x size x 3`` uint8 RGB, black outside the sky circle.
        truth : dict
            ``aurora_visible`` (bool: enough sky pixels where the aurora lifts the recorded
            brightness by >= 8 DN), ``aurora_area`` (that fraction of the sky circle),
            ``aurora_peak_dn``, ``cloud_cover`` (mean opacity in the sky circle), ``morphology``
            (:func:`morphology_class`) and ``form``, a finer truth: ``corona`` or ``pulsating``
            where that form makes a quarter of the visible aurora's area or more, else the
            morphology class of visible aurora, else ``none``.
        """
        frame_rng = np.random.default_rng([self.seed, frame_seed])
        g = self.half
        sky = self._background(st)
        cloud = self._clouds(st)
        green, red, diffuse, forms = self._aurora(st, frame_rng)
        aur = green[..., None] * GREEN + red[..., None] * RED
        if st.activity > 1.5:
            aur += (0.15 * (st.activity - 1.5) * green)[..., None] * BLUE_N2
        if self.look.aurora_whitening:  # a saturating sensor records bright aurora paler than its lines
            w = self.look.aurora_whitening
            aur = (1 - w) * aur + w * aur.mean(-1, keepdims=True) * 1.6
        trans = (1.0 - 0.92 * cloud)[..., None]
        # Clouds glow with what lights them: city below, Moon, twilight, and the aurora above.
        cloud_light = 0.9 * sky + cv2.GaussianBlur(aur, (0, 0), g.size / 30.0) * 0.45 + np.array([0.011, 0.0105, 0.01], np.float32)
        above = sky * 0.5 + aur
        smooth = sky * 0.5 + above * trans + cloud[..., None] * cloud_light
        trees = self.tree_mask_half[..., None]
        smooth = np.where(trees, 0.25 * sky * 0.3 + 0.0004, smooth)

        full = cv2.resize(smooth, (self.size, self.size), interpolation=cv2.INTER_LINEAR)
        cloud_full = cv2.resize(cloud, (self.size, self.size), interpolation=cv2.INTER_LINEAR)
        point = self._stars(st, frame_rng)
        if st.moon_alt > 0:  # the Moon's disk, blooming (blurred only in a window around it)
            mx, my = self.full.pixel_of(np.array([st.moon_alt]), np.array([st.moon_az]))
            r = max(2, self.size // 180)
            half_win = 8 * r
            x0, y0 = int(mx[0]) - half_win, int(my[0]) - half_win
            win = np.zeros((2 * half_win, 2 * half_win), np.float32)
            cv2.circle(win, (half_win, half_win), r, 3.0 * (0.3 + st.moon_illum), -1)
            win = cv2.GaussianBlur(win, (0, 0), self.size / 240.0)
            ys, xs = slice(max(y0, 0), min(y0 + 2 * half_win, self.size)), slice(max(x0, 0), min(x0 + 2 * half_win, self.size))
            point[ys, xs] += win[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0]
        full += (point * (1.0 - 0.95 * cloud_full) * self.sky_free_full)[..., None]

        # Camera: colour balance and exposure, vignetting, gamma (lookup table), read noise, black outside the circle.
        look = self.look
        if look.white_balance != (1.0, 1.0, 1.0) or look.exposure != 1.0:
            full *= np.asarray(look.white_balance, np.float32) * np.float32(look.exposure)
        lin = np.clip(full * self.vignette, 0, 1, out=full)
        dn = GAMMA_LUT[(lin * (len(GAMMA_LUT) - 1)).astype(np.int32)]
        oy, ox = frame_rng.integers(0, self.size, 2)
        dn += self.noise[oy : oy + self.size, ox : ox + self.size]
        dn[~self.full.inside] = 0
        frame = np.clip(dn, 0, 255).astype(np.uint8)

        # Truth: where would the aurora alone change the recorded green channel by >= 8 DN?
        aur_att = (aur * trans)[..., 1] * (~trees[..., 0])
        base = np.clip((sky * 0.5 + sky * 0.5 * trans[..., 0:1] + cloud[..., None] * cloud_light)[..., 1], 0, 1)
        gain = look.exposure * look.white_balance[1]  # the night's camera records the green this much brighter

        def lift_dn(att: np.ndarray) -> np.ndarray:  # what an emission adds to the recorded green, in DN
            return 255.0 * (np.clip(gain * (base + att), 0, 1) ** (1 / 2.2) - np.clip(gain * base, 0, 1) ** (1 / 2.2))

        lift = lift_dn(aur_att)
        vis = (lift >= 8.0) & g.inside
        area = float(vis.sum() / g.inside.sum())
        cloud_cover = float(cloud[g.inside].mean())
        visible = area >= 0.004

        def area_of(emission: np.ndarray) -> float:  # the sky fraction this green emission alone lifts by >= 8 DN
            e_att = (emission[..., None] * GREEN * trans)[..., 1] * (~trees[..., 0])
            return float(((lift_dn(e_att) >= 8.0) & g.inside).sum() / g.inside.sum())

        diffuse_area = area_of(diffuse) if visible and diffuse.any() else 0.0
        morphology = morphology_class(visible, diffuse_area / max(area, 1e-9), self.folded(st.activity), cloud_cover, st.moon_alt, st.moon_illum)
        form = morphology if visible else "none"
        for name in ("corona", "pulsating"):  # a finer truth than the six classes: corona counts as discrete, pulsating as diffuse
            if visible and name in forms and area_of(forms[name]) >= 0.25 * area:
                form = name
                break
        truth = {
            "aurora_visible": bool(visible),
            "aurora_area": area,
            "aurora_peak_dn": float(lift.max()),
            "cloud_cover": cloud_cover,
            "morphology": morphology,
            "form": form,
        }
        return frame, truth


def morphology_class(visible: bool, diffuse_share: float, folded: bool, cloud_cover: float, moon_alt: float, moon_illum: float) -> str:
    """The frame's OATH-style class (:data:`aurora_sw.model.tasks.MORPHOLOGY_CLASSES`).

    Aurora first: ``diffuse`` when the diffuse patches alone make at least a quarter of the visible
    aurora's area (``diffuse_share``), else ``discrete`` for folded or multiple arcs, else ``arc``. Without
    visible aurora: ``cloudy`` at a mean cloud opacity of 0.4 or more, ``moon`` with the Moon up and
    at least 30 % lit, else ``clear`` (twilight included: OATH has no twilight class).
    """
    if visible:
        return "diffuse" if diffuse_share >= 0.25 else "discrete" if folded else "arc"
    if cloud_cover >= 0.4:
        return "cloudy"
    return "moon" if moon_alt > 0 and moon_illum >= 0.3 else "clear"
