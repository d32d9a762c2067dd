"""The proxy's moving face: eyelid-and-brow patches over the eyes and a mouth that opens.

Built on the head's front surface (:class:`~avatar_app.rig.head_parts.FrontSurface`) around the
rig's eye discs (their anchors are not touched), rigid on the head, each piece with its morph
targets (bind-space offsets per expression name):

* per eye a skin-coloured patch (its own part, ``eyelid``, so live decimation leaves it whole)
  from the eye's upper rim (the lash line) up past the brow, 3.5 mm off
  the surface (in front of the iris disc at 2.5 mm). Blinking pulls its lower rows down to
  below the eye's lower rim, so a closed eye shows the patch, i.e. the skin and lash line
  above the eye by their rest-pose UDP coordinates; the emotions move its brow rows (up for
  surprise, inner ends down for anger, up for sorrow) and half-close the lids (joy, relief);
* a mouth inside (its own part, ``mouth``, dark red) at the drawn mouth's place, 1.5 mm in
  front of the skin: shut (zero height: its triangles cover no pixel, so it changes no rest
  raster) in the rest pose, opened to their shapes by the vowels A I U E O and the emotions.

Everything is built for the character's left eye and mirrored here, so the face is
mirror-symmetric and ``blinkLeft`` moves the +x eye (the character's left).
"""

from __future__ import annotations

import numpy as np

from avatar_app.rig.head_parts import FrontSurface
from avatar_app.rig.mesh_parts import MeshPart, grid_triangles, rigid_weights

EYELID_PART, MOUTH_PART = "eyelid", "mouth"
MOUTH_COLOR = (0.42, 0.1, 0.14)
PATCH_LIFT_M, MOUTH_LIFT_M = 0.0035, 0.0015

# the rig's eye disc (head_parts.eyes): centre offset and eye-white radii, in metres at head scale 1
EYE_X, EYE_DY, EYE_RX, EYE_RY = 0.031, -0.012, 0.0135, 0.017
_COLS, _ROWS = 9, 10  # both patches under lod.MIN_PART_TRIANGLES: live decimation keeps them whole
_LID_TOP = 0.42  # patch parameter v where the lid ends and the brow begins
_BROW = 0.68  # from here up the brow rows move as one
# emotion: (lid closure 0..1, brow raise at the inner end, at the outer end (metres at scale 1))
_EMOTION_FACE = {
    "happy": (0.55, 0.0015, 0.0015),
    "angry": (0.2, -0.0035, 0.001),
    "sad": (0.25, 0.003, -0.0015),
    "relaxed": (0.4, -0.001, -0.001),
    "surprised": (0.0, 0.0045, 0.004),
}
# mouth shape: (half width, half height, centre drop) in metres at scale 1
_MOUTH_SHAPE = {
    "aa": (0.0105, 0.0085, 0.003),
    "ih": (0.0125, 0.003, 0.001),
    "ou": (0.0055, 0.005, 0.002),
    "ee": (0.0115, 0.005, 0.0015),
    "oh": (0.0075, 0.007, 0.0025),
    "happy": (0.011, 0.004, 0.001),
    "surprised": (0.006, 0.0065, 0.003),
}
_MOUTH_REST = (0.010, 0.0)  # shut: half width, half height
_MIRROR = np.array([-1.0, 1.0, 1.0])
_SWAP = {"blinkLeft": "blinkRight", "blinkRight": "blinkLeft"}


def _on_surface(surface: FrontSurface, xy: np.ndarray, lift: float) -> np.ndarray:
    return np.column_stack([xy, surface(xy[:, 0], xy[:, 1]) + lift])


def _eye_patch(surface: FrontSurface, head_centre: np.ndarray, head: int, s: float):
    cx, cy, rx, ry = EYE_X * s, head_centre[1] + EYE_DY * s, EYE_RX * s, EYE_RY * s
    half_width = 1.28 * rx
    x = cx + np.linspace(-half_width, half_width, _COLS)
    rim = ry * np.sqrt(np.clip(1.0 - ((x - cx) / (rx * 1.04)) ** 2, 0.0, 1.0))
    upper, lower = cy + rim + 0.0004 * s, cy - rim - 0.0008 * s  # lash line; just below the lower rim
    top = cy + 2.45 * ry
    v = np.linspace(0.0, 1.0, _ROWS)[:, None]
    y_rest = upper[None, :] + v * (top - upper[None, :])
    lid_top = upper + _LID_TOP * (top - upper)
    xs = np.broadcast_to(x, y_rest.shape)

    def target(closure: float, inner: float, outer: float) -> np.ndarray:
        in_lid = v < _LID_TOP
        lid_edge = upper + closure * (lower - upper)
        y_lid = lid_edge[None, :] + (v / _LID_TOP) * (lid_top - lid_edge)[None, :]
        u = (x - cx) / half_width  # -1 at the inner (nose) end, +1 at the outer
        raise_m = s * (0.5 * (inner + outer) + 0.5 * (outer - inner) * u)
        ramp = np.clip((v - _LID_TOP) / (_BROW - _LID_TOP), 0.0, 1.0)
        y = np.where(in_lid, y_lid, y_rest + ramp * raise_m[None, :])
        return _on_surface(surface, np.column_stack([xs.reshape(-1), y.reshape(-1)]), PATCH_LIFT_M * s)

    rest = target(0.0, 0.0, 0.0)
    deltas = {"blinkLeft": target(1.0, 0.0, 0.0) - rest}
    for name, (closure, inner, outer) in _EMOTION_FACE.items():
        deltas[name] = target(closure, inner, outer) - rest
    j, w = rigid_weights(len(rest), head)
    return MeshPart(EYELID_PART, rest, grid_triangles(_ROWS, _COLS, wrap=False), j, w), deltas


def _mouth(surface: FrontSurface, centre_y: float, head: int, s: float):
    rings, segments = 4, 20
    r = np.repeat(np.linspace(0.0, 1.0, rings)[1:], segments)
    a = np.tile(2 * np.pi * np.arange(segments) / segments, rings - 1)
    unit = np.concatenate([[[0.0, 0.0]], np.column_stack([r * np.cos(a), r * np.sin(a)])])

    def shape(half_width: float, half_height: float, drop: float) -> np.ndarray:
        xy = unit * np.array([half_width, half_height]) * s + np.array([0.0, centre_y - drop * s])
        return _on_surface(surface, xy, MOUTH_LIFT_M * s)

    rest = shape(*_MOUTH_REST, 0.0)
    deltas = {name: shape(*dims) - rest for name, dims in _MOUTH_SHAPE.items()}
    fan = [(0, 1 + k, 1 + (k + 1) % segments) for k in range(segments)]
    quads = grid_triangles(rings - 1, segments, wrap=True) + 1
    j, w = rigid_weights(len(rest), head)
    return MeshPart(MOUTH_PART, rest, np.concatenate([np.array(fan), quads]), j, w), deltas


def face_parts(
    surface: FrontSurface, head_centre: np.ndarray, chin_y: float, head: int, head_scale: float = 1.0
) -> list[tuple[MeshPart, dict[str, np.ndarray]]]:
    """[(part, {expression: offsets [V,3]})]: the left eye patch, its mirror image, the mouth.

    The mouth sits where the drawn look paints it: 30% of the way from the chin to the eyes.
    """
    left, left_deltas = _eye_patch(surface, head_centre, head, head_scale)
    right = MeshPart(EYELID_PART, left.positions * _MIRROR, left.triangles[:, ::-1].copy(), left.joints, left.weights)
    right_deltas = {_SWAP.get(n, n): d * _MIRROR for n, d in left_deltas.items()}
    eye_y = head_centre[1] + EYE_DY * head_scale
    mouth, mouth_deltas = _mouth(surface, chin_y + 0.3 * (eye_y - chin_y), head, head_scale)
    return [(left, left_deltas), (right, right_deltas), (mouth, mouth_deltas)]
