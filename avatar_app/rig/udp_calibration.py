"""The affine map from our rig's UDP convention to the one the official CoNR weights learnt.

The official weights were trained on UDP maps from a generator that was never published,
so the cube they expect is ours permuted, flipped, scaled and shifted in some unknown way
(DESIGN §4). Their network carries a UDP detector (picture -> UDP), so the map can be
measured: run the detector on a character's sheet views, pair each pixel's detected xyz
with the xyz our fitted proxy gives the same pixel, and fit ``theirs ≈ A @ ours + t``.

Why robust: the detector is noisy and the proxy does not match the drawing everywhere
(hair, sleeves, silhouette edges), so a large share of pairs are plain wrong. Plain least
squares is pulled towards those; the fit here starts from it, runs a convex robust
solve (soft-L1, whose optimum does not depend on the start), then a redescending one
(Cauchy, which stops listening to gross outliers) with its scale re-estimated from the
residuals, and finishes with least squares over the inliers only.

The result lives in ``udp_map.json`` beside the weights and goes into
:func:`avatar_app.rig.character.rest_udp_coordinates` as its ``calibration``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from avatar_app.core.atomic import write_text_atomic
from avatar_app.core.errors import InputError, SettingError

log = logging.getLogger(__name__)

__all__ = [
    "UDP_MAP_FILENAME",
    "CalibrationFileError",
    "UdpAffine",
    "calibrate",
    "correspondences",
    "fit_udp_affine",
    "load_udp_affine",
    "save_udp_affine",
]

UDP_MAP_FILENAME = "udp_map.json"
SCHEMA = "avatar_app/udp_map"
SCHEMA_VERSION = 1

MIN_POINTS = 200  # 12 unknowns; far more pairs than that before outliers can be told apart
MAX_POINTS = 20_000
MIN_SPREAD_RATIO = 0.02  # thinnest / widest spread of our points; below it they are a plane or a line
MAX_CONDITION = 100.0  # of the fitted 3x3 part; a permutation with sane scales is ~1
MIN_SCALE = 0.2  # of the fitted 3x3 part: their body is not 5x thinner than ours along an axis
MIN_INLIER_FRACTION = 0.3
MAX_NOISE_SIGMA = 0.1  # UDP units: pairs scattered wider than this agree on no map
INLIER_SIGMAS = 3.5  # a 3-D Gaussian residual stays inside 3.5 sigma 99% of the time
SIGMA_FLOOR = 1e-4  # UDP units (~0.2 mm on a body): keeps noise-free data from a zero scale
MAD_TO_SIGMA = 1.4826
REFINE_ROUNDS = 3

_STATS = ("num_points", "inlier_fraction", "median_residual", "inlier_threshold", "condition")
_PAIRS_FIX = "make them with correspondences()"
_RECALIBRATE = "calibrate the UDP map again for these weights (udp_calibration.calibrate, then save_udp_affine)"


class CalibrationFileError(InputError):
    """A UDP calibration file (``udp_map.json``) is missing or unusable."""


@dataclass(frozen=True, eq=False)
class UdpAffine:
    """``theirs = matrix[:, :3] @ ours + matrix[:, 3]`` on UDP xyz, with how well it fitted.

    ``inlier_fraction``: share of the fitted pairs within ``inlier_threshold`` (UDP units)
    of the map; ``median_residual``: median distance over all pairs; ``condition``: of the
    3x3 part. ``meta``: where the fit came from (weights, character, views), JSON values.
    """

    matrix: np.ndarray
    num_points: int = 0
    inlier_fraction: float = 1.0
    median_residual: float = 0.0
    inlier_threshold: float = 0.0
    condition: float = 1.0
    meta: Mapping = field(default_factory=dict)

    def __post_init__(self):
        matrix = np.array(self.matrix, dtype=np.float64)
        if matrix.shape != (3, 4) or not np.all(np.isfinite(matrix)):
            raise SettingError(
                "UDP affine matrix",
                "a finite 3x4 array [A | t]",
                f"shape {matrix.shape}" if matrix.shape != (3, 4) else "non-finite values",
                "fit it with fit_udp_affine() or pass np.hstack([A, t[:, None]])",
            )
        matrix.setflags(write=False)
        object.__setattr__(self, "matrix", matrix)
        object.__setattr__(self, "meta", dict(self.meta))

    @classmethod
    def identity(cls) -> UdpAffine:
        return cls(np.eye(3, 4))

    def apply(self, xyz) -> np.ndarray:
        """``[..., 3]`` UDP xyz in our convention -> theirs (float64, not clipped)."""
        xyz = np.asarray(xyz, dtype=np.float64)
        if xyz.shape[-1:] != (3,):
            raise SettingError("UDP xyz", "an array [..., 3]", f"shape {xyz.shape}", "pass x, y, z in the last axis")
        return xyz @ self.matrix[:, :3].T + self.matrix[:, 3]

    def summary(self) -> str:
        """One line for logs and the CLI: each of their axes from ours, and the fit quality."""
        terms = []
        for row, name in zip(self.matrix, "xyz"):
            axis = int(np.argmax(np.abs(row[:3])))
            terms.append(f"{name}' ≈ {row[axis]:+.3f}·{'xyz'[axis]} {row[3]:+.3f}")
        return (
            f"{', '.join(terms)} ({self.inlier_fraction:.0%} of {self.num_points} pairs inliers, "
            f"median residual {self.median_residual:.4f})"
        )

    def to_dict(self) -> dict:
        stats = {name: getattr(self, name) for name in _STATS}
        return {"matrix": self.matrix.tolist(), "stats": stats, "meta": dict(self.meta)}

    @classmethod
    def from_dict(cls, data: Mapping, source: object = "UDP affine") -> UdpAffine:
        """The inverse of :meth:`to_dict`; errors name ``source`` (the file, when loading)."""
        if not isinstance(data, Mapping) or "matrix" not in data:
            found = f"keys {sorted(data)}" if isinstance(data, Mapping) else type(data).__name__
            raise CalibrationFileError(source, "an object with 'matrix' (3x4)", found, _RECALIBRATE)
        try:
            matrix = np.array(data["matrix"], dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise CalibrationFileError(source, "'matrix' as 3 rows of 4 numbers", str(err), _RECALIBRATE) from None
        if matrix.shape != (3, 4) or not np.all(np.isfinite(matrix)):
            found = f"shape {matrix.shape}" if matrix.shape != (3, 4) else "non-finite values"
            raise CalibrationFileError(source, "'matrix' as 3 rows of 4 finite numbers", found, _RECALIBRATE)
        stats = data.get("stats", {})
        meta = data.get("meta", {})
        if not isinstance(stats, Mapping) or not isinstance(meta, Mapping):
            raise CalibrationFileError(source, "'stats' and 'meta' as objects", "something else", _RECALIBRATE)
        try:
            values = {name: float(stats[name]) for name in _STATS if name in stats}
        except (TypeError, ValueError) as err:
            raise CalibrationFileError(source, "numeric 'stats'", str(err), _RECALIBRATE) from None
        if "num_points" in values:
            values["num_points"] = int(values["num_points"])
        return cls(matrix, meta=meta, **values)


def correspondences(
    ours,
    theirs,
    *,
    min_mask: float = 0.5,
    max_points: int = MAX_POINTS,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Paired xyz ``([N,3], [N,3])`` float64 from pixels where both UDP maps are visible.

    ``ours`` / ``theirs``: one UDP map (H×W×4 array or UdpMap) or a list of them, view by
    view; both masks must be at least ``min_mask``. xyz are used as stored (no division by
    a fractional mask: such edge pixels are few and the robust fit treats them as noise).
    More than ``max_points`` pairs are subsampled with a fixed ``seed``, so the same maps
    always give the same pairs.
    """
    ours_views, theirs_views = _as_views(ours, "ours"), _as_views(theirs, "theirs")
    if len(ours_views) != len(theirs_views):
        raise SettingError(
            "UDP views",
            f"as many detected maps as ours ({len(ours_views)})",
            f"{len(theirs_views)}",
            "pass one detected UDP map per sheet view, in the same order",
        )
    if not 0.0 < min_mask <= 1.0:
        raise SettingError("min_mask", "a visibility in (0, 1]", repr(min_mask), "use 0.5")
    if max_points < MIN_POINTS:
        raise SettingError("max_points", f"at least {MIN_POINTS}", repr(max_points), f"use {MAX_POINTS}")
    ours_xyz, theirs_xyz = [], []
    for i, (mine, other) in enumerate(zip(ours_views, theirs_views)):
        if mine.shape != other.shape:
            raise SettingError(
                f"UDP view {i}",
                f"the detected map the size of ours {mine.shape}",
                f"{other.shape}",
                "run the detector on the sheet view at the size our UDP was rendered at",
            )
        for name, udp in (("ours", mine), ("theirs", other)):
            if not np.all(np.isfinite(udp)):
                raise SettingError(
                    f"UDP view {i} ({name})",
                    "finite values",
                    f"{int((~np.isfinite(udp)).sum())} NaN/inf values",
                    "check the detector's output (or the raster) for this view",
                )
        both = (mine[..., 3] >= min_mask) & (other[..., 3] >= min_mask)
        ours_xyz.append(mine[both, :3])
        theirs_xyz.append(other[both, :3])
    ours_xyz = np.concatenate(ours_xyz).astype(np.float64)
    theirs_xyz = np.concatenate(theirs_xyz).astype(np.float64)
    if len(ours_xyz) < MIN_POINTS:
        raise SettingError(
            "UDP views",
            f"at least {MIN_POINTS} pixels visible in both our map and the detected one",
            f"{len(ours_xyz)} over {len(ours_views)} views",
            "check the views and maps are the same drawings in the same framing, or lower min_mask",
        )
    if len(ours_xyz) > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(len(ours_xyz), max_points, replace=False))
        ours_xyz, theirs_xyz = ours_xyz[keep], theirs_xyz[keep]
    return ours_xyz, theirs_xyz


def fit_udp_affine(
    ours_xyz,
    theirs_xyz,
    *,
    min_inlier_fraction: float = MIN_INLIER_FRACTION,
) -> UdpAffine:
    """The robust affine ``theirs ≈ A @ ours + t`` (see the module docstring for the steps).

    Refused with a SettingError: fewer than MIN_POINTS pairs, our points on a plane or a
    line (the map off it is unknown), inliers scattered wider than MAX_NOISE_SIGMA, a
    near-singular fitted 3x3 part (theirs collapse), or fewer than ``min_inlier_fraction``
    of the pairs agreeing with the fit. The start is local (no random sampling), so it
    breaks down at about half the pairs wrong; past that the noise check refuses the fit
    rather than return a wrong map.
    """
    from scipy.optimize import least_squares

    ours_xyz, theirs_xyz = _check_pairs(ours_xyz, theirs_xyz)
    ours_h = np.hstack([ours_xyz, np.ones((len(ours_xyz), 1))])
    # residual (i, k) = ours_h[i] . M[k] - theirs[i, k]: linear, so the Jacobian is constant
    jacobian = np.zeros((len(ours_h), 3, 12))
    for k in range(3):
        jacobian[:, k, 4 * k : 4 * k + 4] = ours_h
    jacobian = jacobian.reshape(-1, 12)

    def residuals(params: np.ndarray) -> np.ndarray:
        return (ours_h @ params.reshape(3, 4).T - theirs_xyz).ravel()

    start = np.linalg.lstsq(ours_h, theirs_xyz, rcond=None)[0].T
    params = start.ravel()
    for loss in ("soft_l1",) + ("cauchy",) * REFINE_ROUNDS:
        f_scale = _robust_sigma(residuals(params))
        params = least_squares(residuals, params, jac=lambda _: jacobian, loss=loss, f_scale=f_scale).x
    distance = np.linalg.norm(residuals(params).reshape(-1, 3), axis=1)
    threshold = INLIER_SIGMAS * _robust_sigma(residuals(params))
    inliers = distance <= threshold
    if inliers.sum() >= MIN_POINTS:  # the unbiased finish: least squares over the inliers only
        params = np.linalg.lstsq(ours_h[inliers], theirs_xyz[inliers], rcond=None)[0].T.ravel()
        distance = np.linalg.norm(residuals(params).reshape(-1, 3), axis=1)
        inliers = distance <= threshold
    if threshold > INLIER_SIGMAS * MAX_NOISE_SIGMA:
        raise SettingError(
            "UDP calibration",
            f"pairs that agree with one map to within a noise of {MAX_NOISE_SIGMA:g} (UDP units)",
            f"a noise of {threshold / INLIER_SIGMAS:.3g} even after dropping outliers",
            "check the views and our UDP maps show the same pose in the same framing and order",
        )
    matrix = params.reshape(3, 4)
    singular = np.linalg.svd(matrix[:, :3], compute_uv=False)
    condition = float(singular[0] / singular[-1]) if singular[-1] > 0 else math.inf
    if condition > MAX_CONDITION or singular[-1] < MIN_SCALE:
        raise SettingError(
            "UDP calibration",
            f"a map that keeps the cube 3-D (scales at least {MIN_SCALE:g}, condition at most {MAX_CONDITION:g})",
            f"scales {np.round(singular, 3).tolist()}: the detected xyz collapse onto a plane or a line",
            "check the detector is the official one and sees the drawings (not blank views)",
        )
    affine = UdpAffine(
        matrix,
        num_points=len(ours_xyz),
        inlier_fraction=float(inliers.mean()),
        median_residual=float(np.median(distance)),
        inlier_threshold=float(threshold),
        condition=condition,
    )
    if affine.inlier_fraction < min_inlier_fraction:
        raise SettingError(
            "UDP calibration",
            f"at least {min_inlier_fraction:.0%} of the pairs agreeing with the fitted map",
            f"{affine.inlier_fraction:.0%} ({affine.summary()})",
            "check the views and our UDP maps show the same pose in the same framing and order",
        )
    log.info("UDP calibration: %s", affine.summary())
    return affine


def calibrate(
    views_rgba: Sequence[np.ndarray],
    our_udp: Sequence[np.ndarray],
    detect: Callable[[np.ndarray], object],
    *,
    min_mask: float = 0.5,
    max_points: int = MAX_POINTS,
    min_inlier_fraction: float = MIN_INLIER_FRACTION,
) -> UdpAffine:
    """Detect each view's UDP, pair it with ours and fit the map (one call for the fitter).

    ``views_rgba``: the sheet views as the detector takes them (uint8 H×W×3 premultiplied RGB
    or H×W×4 straight RGBA); ``our_udp``: our proxy's UDP of each view at the same H×W,
    made without a calibration. ``detect(view)`` returns an H×W×4 array or a UdpMap, so
    ``Backend.detect`` can be passed as it is.
    """
    if len(views_rgba) != len(our_udp) or not views_rgba:
        raise SettingError(
            "calibration views",
            "one of our UDP maps per sheet view (at least one)",
            f"{len(views_rgba)} views and {len(our_udp)} UDP maps",
            "pass the sheet views and the proxy's UDP maps of the same views, in order",
        )
    ours = _as_views(list(our_udp), "ours")
    theirs = []
    for i, (view, udp) in enumerate(zip(views_rgba, ours)):
        if np.shape(view)[:2] != udp.shape[:2]:
            raise SettingError(
                f"calibration view {i}",
                f"a view the size of our UDP map {udp.shape[:2]}",
                f"{np.shape(view)[:2]}",
                "render our UDP in the sheet view's framing and size",
            )
        detected = detect(view)
        theirs.append(np.asarray(getattr(detected, "data", detected), dtype=np.float32))
    ours_xyz, theirs_xyz = correspondences(ours, theirs, min_mask=min_mask, max_points=max_points)
    return fit_udp_affine(ours_xyz, theirs_xyz, min_inlier_fraction=min_inlier_fraction)


def save_udp_affine(path: str | Path, affine: UdpAffine, *, meta: Mapping) -> Path:
    """Write ``affine`` (with ``meta``, JSON values) to ``path`` atomically; returns the path.

    The text goes to a temporary file in the same folder, is flushed to disk, then replaces
    ``path`` in one step: a reader sees the old file or the new one, never half of one.
    """
    path = Path(path)
    record = {"schema": SCHEMA, "version": SCHEMA_VERSION, **affine.to_dict(), "meta": dict(meta)}
    try:
        text = json.dumps(record, indent=2, allow_nan=False) + "\n"
    except (TypeError, ValueError) as err:
        raise SettingError(
            "UDP calibration meta", "JSON values (str, numbers, lists, dicts)", str(err), "pass plain values"
        ) from None
    write_text_atomic(path, text, fsync=True)
    return path


def load_udp_affine(path: str | Path) -> UdpAffine:
    """The calibration saved by :func:`save_udp_affine`, checked; ``meta`` as stored."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CalibrationFileError(path, f"a UDP calibration ({UDP_MAP_FILENAME})", "no file", _RECALIBRATE) from None
    except (OSError, UnicodeDecodeError) as err:
        raise CalibrationFileError(path, "a readable UTF-8 JSON file", str(err), _RECALIBRATE) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise CalibrationFileError(path, "valid JSON", f"{err} (a damaged file)", _RECALIBRATE) from None
    schema = data.get("schema") if isinstance(data, dict) else None
    if schema != SCHEMA:
        raise CalibrationFileError(path, f"schema {SCHEMA!r}", repr(schema), f"point at the {UDP_MAP_FILENAME} file")
    version = data.get("version")
    if version != SCHEMA_VERSION:
        newer = isinstance(version, int) and version > SCHEMA_VERSION
        fix = "update avatar_app, which wrote it" if newer else _RECALIBRATE
        raise CalibrationFileError(path, f"version {SCHEMA_VERSION}", repr(version), fix)
    return UdpAffine.from_dict(data, source=path)


def _as_views(udp, name: str) -> list[np.ndarray]:
    """One UDP map or a list of them (arrays or UdpMaps) -> list of float H×W×4 arrays."""
    views = [udp] if np.ndim(getattr(udp, "data", udp)) == 3 else list(udp)
    arrays = [np.asarray(getattr(v, "data", v)) for v in views]
    for i, a in enumerate(arrays):
        if a.ndim != 3 or a.shape[2] != 4 or not np.issubdtype(a.dtype, np.floating):
            raise SettingError(
                f"UDP view {i} ({name})", "a float H×W×4 map (xyz + mask)", f"{a.dtype} {a.shape}", "pass UDP maps"
            )
    if not arrays:
        raise SettingError(f"UDP views ({name})", "at least one map", "none", "pass one UDP map per sheet view")
    return arrays


def _check_pairs(ours_xyz, theirs_xyz) -> tuple[np.ndarray, np.ndarray]:
    ours_xyz = np.asarray(ours_xyz, dtype=np.float64)
    theirs_xyz = np.asarray(theirs_xyz, dtype=np.float64)
    if ours_xyz.ndim != 2 or ours_xyz.shape[1] != 3 or ours_xyz.shape != theirs_xyz.shape:
        raise SettingError(
            "UDP pairs", "two [N, 3] arrays of the same N", f"{ours_xyz.shape} and {theirs_xyz.shape}", _PAIRS_FIX
        )
    if len(ours_xyz) < MIN_POINTS:
        raise SettingError("UDP pairs", f"at least {MIN_POINTS}", f"{len(ours_xyz)}", _PAIRS_FIX)
    if not (np.all(np.isfinite(ours_xyz)) and np.all(np.isfinite(theirs_xyz))):
        raise SettingError("UDP pairs", "finite values", "NaN/inf", _PAIRS_FIX)
    spread = np.linalg.svd(ours_xyz - ours_xyz.mean(axis=0), compute_uv=False)
    if spread[-1] < MIN_SPREAD_RATIO * spread[0]:
        raise SettingError(
            "UDP pairs (ours)",
            f"points spread in 3-D (thinnest/widest spread at least {MIN_SPREAD_RATIO:g})",
            f"{spread[-1] / max(spread[0], 1e-300):.2g}: they lie on a plane or a line",
            "use views from several directions (front and side), or more of the body",
        )
    return ours_xyz, theirs_xyz


def _robust_sigma(residuals: np.ndarray) -> float:
    """Gaussian-equivalent spread of ``residuals`` from their median absolute deviation."""
    mad = np.median(np.abs(residuals - np.median(residuals)))
    return max(float(MAD_TO_SIGMA * mad), SIGMA_FLOOR)
