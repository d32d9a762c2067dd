"""Clothes painted on and puffed out of the body: the top and its sleeves, shorts or trousers, socks, shoes.

The body mesh itself is the clothing: each vertex gets a part (its colour) from its dominant
bone and height (:func:`body_labels`, cached per sleeve/lower choice), and loose clothes
push the labelled vertices off the body (:func:`dressed_positions`):

* ``top_volume`` (0..1): the top stands off the torso along the vertex normals by up to
  25 mm and, below the armpits, drapes: it hangs straight down from the widest point above
  instead of following the waist in (1.0 = a boxy jacket).
* ``sleeve_volume`` (0..1): sleeves stand off the arm bones, more towards the cuff: up to
  10 mm at the shoulder and 45 mm at the wrist (1.0 = bell sleeves).
* ``trouser_looseness`` (0..1, trousers only): the legs stand off the leg bones, 10 mm at
  the hip to 45 mm at the ankle at 1.0 (flares); 0 is leggings.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from avatar_app.rig.proxy_body import ProxyBody, proxy_body

_ANKLE_COVER_Y = 0.13  # trousers end here; the socks show below, the shoes below 0.1 m


@lru_cache(maxsize=16)
def body_labels(sleeves: str = "short", lower: str = "skirt") -> np.ndarray:
    """[V] part name of each body vertex (read-only), for the unshaped body."""
    body = proxy_body()
    hum, rest, pos = body.humanoid, body.joint_positions, body.positions
    bone, raw = body.bones, body.raw_parts
    y = pos[:, 1]
    hips_y = rest[hum["hips"], 1]
    parts = np.full(len(pos), "skin", dtype=object)
    torso = np.isin(bone, ["hips", "spine", "chest", "upperChest"]) & (raw == "body")
    parts[torso & (y < hips_y + 0.04)] = "shorts"
    parts[torso & (y >= hips_y + 0.04) & (y < rest[hum["neck"], 1] - 0.01)] = "top"
    for side in ("left", "right"):
        shoulder = rest[hum[f"{side}UpperArm"]]
        sleeve = np.isin(bone, [f"{side}Shoulder", f"{side}UpperArm"]) & (np.linalg.norm(pos - shoulder, axis=1) < 0.11)
        if sleeves == "long":
            sleeve = np.isin(bone, [f"{side}Shoulder", f"{side}UpperArm", f"{side}LowerArm"])
        if sleeves != "none":
            parts[sleeve] = "top"
        thigh = (bone == f"{side}UpperLeg") & (y > hips_y - 0.12)
        parts[thigh] = "shorts"
        parts[(bone == f"{side}LowerLeg") & (y < 0.47)] = "socks"
        feet = np.isin(bone, [f"{side}Foot", f"{side}Toes"])
        parts[feet] = np.where(y[feet] < 0.1, "shoes", "socks")
        if lower == "trousers":
            legs = np.isin(bone, [f"{side}UpperLeg", f"{side}LowerLeg"]) | (feet & (y >= _ANKLE_COVER_Y))
            parts[legs] = "shorts"
    parts[np.isin(raw, ["joint_L3", "joint_R3"])] = "skin" if sleeves == "none" else "top"  # shoulder balls
    if sleeves == "long":
        parts[np.isin(raw, ["joint_L1", "joint_R1"])] = "top"  # elbows
    parts[np.isin(raw, ["joint_L4", "joint_R4"])] = "shorts"  # hip balls
    parts[raw == "head"] = "skin"
    out = parts.astype(str)
    out.setflags(write=False)
    return out


def dressed_positions(
    body: ProxyBody,
    labels: np.ndarray,
    top_volume: float = 0.0,
    sleeve_volume: float = 0.0,
    trouser_looseness: float = 0.0,
) -> np.ndarray:
    """[V,3] body positions with loose clothes pushed off the body (``body.positions`` when all are 0)."""
    if top_volume == 0.0 and sleeve_volume == 0.0 and trouser_looseness == 0.0:
        return body.positions
    pos = body.positions.copy()
    if top_volume > 0.0:
        pos += _top_offsets(body, labels, top_volume)
    for side in ("left", "right"):
        if sleeve_volume > 0.0:
            limb = ("Shoulder", "UpperArm", "LowerArm", "Hand")
            segments = [(f"{side}UpperArm", f"{side}LowerArm"), (f"{side}LowerArm", f"{side}Hand")]
            on = (labels == "top") & np.isin(body.bones, [f"{side}{b}" for b in limb])
            pos += _limb_offsets(body, on, segments, 0.010 * sleeve_volume, 0.045 * sleeve_volume)
        if trouser_looseness > 0.0:
            segments = [(f"{side}UpperLeg", f"{side}LowerLeg"), (f"{side}LowerLeg", f"{side}Foot")]
            on = (labels == "shorts") & np.isin(body.bones, [f"{side}UpperLeg", f"{side}LowerLeg", f"{side}Foot"])
            pos += _limb_offsets(body, on, segments, 0.010 * trouser_looseness, 0.045 * trouser_looseness)
    return pos


def vertex_normals(positions: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals."""
    p = positions[triangles]
    face = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    normals = np.zeros_like(positions)
    for k in range(3):
        for axis in range(3):
            normals[:, axis] += np.bincount(triangles[:, k], face[:, axis], minlength=len(positions))
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)


def _top_offsets(body: ProxyBody, labels: np.ndarray, volume: float) -> np.ndarray:
    """Stand-off along the normals, then below the armpits a drape towards the widest point above."""
    on = (labels == "top") & (body.raw_parts == "body")
    pos = body.positions
    offsets = np.zeros_like(pos)
    near = body.triangles[np.any(on[body.triangles], axis=1)]  # the normals of the top only
    offsets[on] = 0.025 * volume * vertex_normals(pos, near)[on]
    axis_z = body.joint("hips")[2]
    armpit_y = body.joint("leftUpperArm")[1] - 0.09
    torso = pos[on] + offsets[on]
    rel = torso - (0.0, 0.0, axis_z)
    ang = np.arctan2(np.abs(rel[:, 0]), rel[:, 2])  # symmetric: both sides share one profile
    rad = np.hypot(rel[:, 0], rel[:, 2])
    bins = np.linspace(0.0, np.pi, 13)
    rows = np.arange(armpit_y, torso[:, 1].min() - 0.02, -0.02)
    a_bin = np.clip(np.digitize(ang, bins) - 1, 0, 11)
    r_bin = np.clip(np.round((armpit_y - torso[:, 1]) / 0.02).astype(int), 0, len(rows) - 1)
    widest = np.zeros((len(rows), 12))
    np.maximum.at(widest, (r_bin, a_bin), rad)
    widest = np.maximum.accumulate(widest, axis=0)
    below = torso[:, 1] < armpit_y
    target = np.where(below, np.maximum(widest[r_bin, a_bin], rad), rad)
    drape = volume * (target - rad)
    direction = rel / np.maximum(rad, 1e-9)[:, None]
    direction[:, 1] = 0.0
    offsets[on] += drape[:, None] * direction
    return offsets


def _limb_offsets(body: ProxyBody, on: np.ndarray, segments, at_root: float, at_end: float) -> np.ndarray:
    """Radial stand-off from the limb's bone axis, growing linearly from the root to the end."""
    pos = body.positions
    offsets = np.zeros_like(pos)
    if not on.any():
        return offsets
    points = pos[on]
    starts = np.array([body.joint(a) for a, _ in segments])
    ends = np.array([body.joint(b) for _, b in segments])
    best = np.full(len(points), np.inf)
    nearest = np.zeros_like(points)
    along = np.zeros(len(points))
    total = np.sum(np.linalg.norm(ends - starts, axis=1))
    before = 0.0
    for a, b in zip(starts, ends):
        length = np.linalg.norm(b - a)
        t = np.clip((points - a) @ (b - a) / length**2, 0.0, 1.0)
        foot = a + t[:, None] * (b - a)
        dist = np.linalg.norm(points - foot, axis=1)
        closer = dist < best
        best[closer], nearest[closer], along[closer] = dist[closer], foot[closer], (before + t[closer] * length) / total
        before += length
    direction = (points - nearest) / np.maximum(best, 1e-9)[:, None]
    offsets[on] = (at_root + (at_end - at_root) * along)[:, None] * direction
    return offsets
