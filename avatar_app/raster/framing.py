"""Framings: where the picture's bottom edge cuts the body, and cameras that keep to it.

Most drawings and streams show a character knee-up, waist-up or bust, not full body.
A framing is named by the world height of the picture's bottom edge, the *cut*,
measured on the character's rest skeleton (``character.humanoid`` joints at
``skeleton.rest_world_matrices[:, :3, 3]``), so it means the same on any body:

* ``full``: the soles (the lowest rest vertex). Nothing is cut: the picture's bottom
  edge lies ``margin`` below the feet, exactly :func:`target_camera` (as before framings).
* ``knee``: just below the knees, :data:`KNEE_DROP` of the shin (knee to ankle joint)
  under the knee joints (``left/rightLowerLeg``), so the kneecaps are in the picture.
* ``waist``: the top of the thighs, :data:`WAIST_DROP` of the thigh under the hip
  sockets (``left/rightUpperLeg``): the crotch line, the whole pelvis in the picture.
* ``bust``: the bottom of the chest, the ``chest`` joint (without one,
  :data:`BUST_FALLBACK` of the way from ``spine`` to ``neck``/``head``).

Heights of left and right joints are averaged. A cut framing's bottom edge *is* the cut,
as in a drawing cut at the edge of the paper; above the top of the head it keeps
:data:`CUT_HEADROOM` of the cut-to-top span for nods and bounces, plus ``margin``.

Live, :class:`FollowCamera` moves a framed camera with the body (never zooming) so a
lean, a step or a crouch does not carry the head out of a waist-up picture.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, replace

import numpy as np

from avatar_app.core.errors import SettingError
from avatar_app.raster.camera import OrthographicCamera, auto_frame

__all__ = [
    "FRAMINGS",
    "FollowCamera",
    "RestMeasures",
    "classify_cut",
    "cut_height",
    "drawing_camera",
    "framed_camera",
    "measure",
    "target_camera",
]

FRAMINGS = ("full", "knee", "waist", "bust")  # from the widest picture to the closest
KNEE_DROP = 0.15
WAIST_DROP = 0.10
BUST_FALLBACK = 0.3
CUT_HEADROOM = 0.08
# Room above the rest pose for raised arms and jumps, as a fraction of the rest height:
# the full-body camera stays fixed for a whole sequence, so the avatar never "zooms".
HEADROOM = 0.18

_FRAMING_HINT = "pass one of 'full', 'knee', 'waist', 'bust', or a cut height in metres"


@dataclass(frozen=True, eq=False)
class RestMeasures:
    """What framing reads from a character's rest pose, measured once (see :func:`measure`).

    Stands in for the character wherever this module takes one: skinning the rest pose
    again per call would cost ~10 ms.
    """

    name: str
    bounds: tuple[np.ndarray, np.ndarray]  # rest vertices' (min, max) corners
    joints: np.ndarray  # rest joint world positions [J, 3]
    humanoid: dict[str, int]

    def rest_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.bounds

    @property
    def sole(self) -> float:
        return float(self.bounds[0][1])

    @property
    def top(self) -> float:
        return float(self.bounds[1][1])

    def height_of(self, *bones: str) -> float:
        """Mean rest height of the joints of ``bones``; SettingError names any that are missing."""
        missing = [bone for bone in bones if bone not in self.humanoid]
        if missing:
            raise SettingError(
                "framing",
                f"a character whose humanoid map has {', '.join(bones)}",
                f"{self.name} without {', '.join(missing)}",
                "map those joints to VRM humanoid bones in the character file, or use framing 'full'",
            )
        return float(np.mean([self.joints[self.humanoid[bone], 1] for bone in bones]))

    def joint(self, bone: str) -> int:
        self.height_of(bone)
        return self.humanoid[bone]


def measure(character) -> RestMeasures:
    """A Character's rest measures (a RestMeasures passes through unchanged)."""
    if isinstance(character, RestMeasures):
        return character
    lo, hi = character.rest_bounds()
    joints = np.asarray(character.skeleton.rest_world_matrices[:, :3, 3], dtype=np.float64)
    return RestMeasures(character.name, (np.asarray(lo), np.asarray(hi)), joints, dict(character.humanoid))


def target_camera(character, aspect: float = 1.0, margin: float = 0.03, view_dir=(0.0, 0.0, 1.0)) -> OrthographicCamera:
    """A fixed orthographic camera showing the whole body with headroom, from ``view_dir``.

    Reads only ``character.rest_bounds()``, so a :class:`RestMeasures` will do.
    """
    lo, hi = character.rest_bounds()
    height = hi[1] - lo[1]
    half_width = max(abs(lo[0]), abs(hi[0]), 0.35 * height)
    envelope = np.array(
        [[sx * half_width, y, z] for sx in (-1, 1) for y in (lo[1], hi[1] + HEADROOM * height) for z in (lo[2], hi[2])]
    )
    return auto_frame(envelope, aspect, margin, view_dir)


def cut_height(character, framing: str) -> float:
    """World height (y) of ``framing``'s cut on ``character``'s rest skeleton (module docstring)."""
    m = measure(character)
    if framing == "full":
        return m.sole
    if framing == "knee":
        knee = m.height_of("leftLowerLeg", "rightLowerLeg")
        return knee - KNEE_DROP * (knee - m.height_of("leftFoot", "rightFoot"))
    if framing == "waist":
        hip = m.height_of("leftUpperLeg", "rightUpperLeg")
        return hip - WAIST_DROP * (hip - m.height_of("leftLowerLeg", "rightLowerLeg"))
    if framing == "bust":
        if "chest" in m.humanoid:
            return m.height_of("chest")
        spine = m.height_of("spine")
        above = "neck" if "neck" in m.humanoid else "head"
        return spine + BUST_FALLBACK * (m.height_of(above) - spine)
    raise SettingError("framing", f"one of {FRAMINGS}", repr(framing), _FRAMING_HINT)


def classify_cut(character, cut_y: float) -> str:
    """The framing whose cut is nearest ``cut_y``: a fitter's measured cut, named.

    Boundaries lie halfway between neighbouring cuts (mid-shin, mid-thigh, the belly);
    a bottom edge below the soles cuts nothing and is ``full``. A cut at or above the
    head joint leaves no head in the picture and raises SettingError.
    """
    m = measure(character)
    cut_y = _checked_cut(m, cut_y, allow_below=True)
    cuts = [cut_height(m, framing) for framing in FRAMINGS]
    for framing, low, high in zip(FRAMINGS, cuts, cuts[1:]):
        if cut_y < 0.5 * (low + high):
            return framing
    return FRAMINGS[-1]


def _checked_cut(m: RestMeasures, cut_y, allow_below: bool) -> float:
    head = m.height_of("head")
    low = -math.inf if allow_below else m.sole
    number = isinstance(cut_y, numbers.Real) and not isinstance(cut_y, bool)
    if number and low <= float(cut_y) < head:
        return float(cut_y)
    below = "" if allow_below else f"from the soles ({m.sole:.3f} m) "
    raise SettingError(
        "framing",
        f"a cut height (world y, metres) {below}below {m.name}'s head joint ({head:.3f} m)",
        repr(cut_y),
        f"{_FRAMING_HINT}; for a picture whose bottom edge is under the feet use 'full'",
    )


def _cut_of(m: RestMeasures, framing_or_cut) -> float:
    if isinstance(framing_or_cut, str):
        return cut_height(m, framing_or_cut)
    return _checked_cut(m, framing_or_cut, allow_below=False)


def _level_towards_camera(view_dir, setting: str) -> np.ndarray:
    """view_dir's horizontal part, unit length: a level camera keeps the cut a level line."""
    direction = np.asarray(view_dir, dtype=np.float64)
    if direction.shape != (3,) or not np.isfinite(direction).all() or math.hypot(direction[0], direction[2]) < 1e-6:
        raise SettingError(
            setting, "a finite direction with a horizontal part (x, 0, z)", repr(view_dir), "use e.g. (0, 0, 1)"
        )
    level = np.array([direction[0], 0.0, direction[2]])
    return level / np.linalg.norm(level)


def _check_picture(aspect: float, margin: float, where: str) -> None:
    if not (isinstance(aspect, numbers.Real) and math.isfinite(aspect) and aspect > 0):
        raise SettingError(f"{where}(aspect)", "width / height > 0", repr(aspect), "pass width / height of the image")
    if not (isinstance(margin, numbers.Real) and 0.0 <= margin < 0.5):
        raise SettingError(f"{where}(margin)", "a fraction in [0, 0.5)", repr(margin), "use e.g. 0.03")


def framed_camera(
    character, framing_or_cut, aspect: float = 1.0, margin: float = 0.03, view_dir=(0.0, 0.0, 1.0)
) -> OrthographicCamera:
    """An orthographic camera showing ``character`` (at rest) from its cut up, from ``view_dir``.

    ``framing_or_cut``: a name of :data:`FRAMINGS` or a continuous cut height (world y,
    soles <= cut < head joint). ``"full"`` is :func:`target_camera`. Otherwise the bottom
    edge is the cut, the top edge the top of the head plus :data:`CUT_HEADROOM` and
    ``margin`` (a share of the picture height); the width follows from ``aspect``, so a
    close framing may cut the arms at the sides, as a bust drawing does. A cut framing
    looks level (``view_dir``'s y is dropped) so that the cut stays a level line.
    """
    _check_picture(aspect, margin, "framed_camera")
    if framing_or_cut == "full":
        return target_camera(character, aspect, margin, view_dir)
    m = measure(character)
    cut = _cut_of(m, framing_or_cut)
    towards = _level_towards_camera(view_dir, "framed_camera(view_dir)")
    top = m.top + CUT_HEADROOM * (m.top - cut)
    half_height = (top - cut) / (2.0 * (1.0 - margin))
    lo, hi = m.bounds
    centre = np.array([(lo[0] + hi[0]) / 2.0, cut + half_height, (lo[2] + hi[2]) / 2.0])
    # Depth only clips: leave room for limbs reaching toward or away from the camera.
    half_depth = 0.5 * float(np.linalg.norm(hi - lo))
    distance = 2.0 * half_depth + half_height
    return OrthographicCamera(
        eye=tuple(centre + distance * towards),
        target=tuple(centre),
        half_height=float(half_height),
        near=float(distance - half_depth),
        far=float(distance + half_depth),
    )


def drawing_camera(
    rest_vertices, cut_y: float | None, aspect: float = 1.0, margin: float = 0.03, view_dir=(0.0, 0.0, 1.0)
) -> OrthographicCamera:
    """A camera that draws a sheet view cut at ``cut_y`` like a drawing on paper.

    Everything above the cut fits inside ``margin`` (arms included, unlike
    :func:`framed_camera`) and the picture's bottom edge is exactly the cut, so the
    drawn body touches the bottom edge. ``cut_y=None`` frames the whole body.
    """
    points = np.asarray(rest_vertices, dtype=np.float64).reshape(-1, 3)
    if cut_y is None:
        return auto_frame(points, aspect, margin, view_dir)
    kept = points[points[:, 1] >= cut_y]
    if len(kept) == 0:
        raise SettingError("drawing_camera(cut_y)", "a cut below the top of the body", repr(cut_y), "use cut_height()")
    camera = auto_frame(np.concatenate([kept, kept * [1, 0, 1] + [0, cut_y, 0]]), aspect, margin, view_dir)
    _, up, _ = camera.basis()
    lift = cut_y - (camera.target[1] - camera.half_height)  # bottom edge onto the cut (up is +y)
    return replace(camera, eye=tuple(np.add(camera.eye, lift * up)), target=tuple(np.add(camera.target, lift * up)))


class FollowCamera:
    """A framed camera for live use that moves with the body and never zooms.

    Each :meth:`update` takes the frame's posed joint world positions ``[J, 3]`` and
    moves the picture in its own plane (scale and direction stay those of
    :func:`framed_camera`):

    * sideways, toward the body's horizontal position where the picture's middle is
      at rest (the point of the hips-to-head line at that height), so a bust follows
      the head and a knee-up the hips;
    * up and down with the head's height (a crouch takes the picture down with it);
    * smoothly: the remaining offset decays as ``exp(-t / follow_s)``, the same after
      one second at any frame rate;
    * not at all while the aim stays within ``dead_zone`` (a share of the picture
      height, per axis) of the picture, so idle sway leaves it still;
    * and never so far behind that the head joint comes closer than ``head_margin``
      (a share of the picture's height and width) to an edge: that is a hard clamp.

    The first update after construction or :meth:`reset` jumps to the aim. ``"full"``
    stays :func:`target_camera`, still, as before framings.
    """

    def __init__(
        self,
        character,
        framing_or_cut="full",
        aspect: float = 1.0,
        *,
        margin: float = 0.03,
        view_dir=(0.0, 0.0, 1.0),
        follow_s: float = 0.25,
        dead_zone: float = 0.04,
        head_margin: float = 0.08,
    ):
        share = "a share of the picture in [0, 0.5)"
        for name, value, ok, expected, example in (
            ("follow_s", follow_s, follow_s > 0 and math.isfinite(follow_s), "a time constant in seconds > 0", "0.25"),
            ("dead_zone", dead_zone, 0.0 <= dead_zone < 0.5, share, "0.04 (0 follows every sway)"),
            ("head_margin", head_margin, 0.0 <= head_margin < 0.5, share, "0.08"),
        ):
            if not ok:
                raise SettingError(f"FollowCamera({name})", expected, repr(value), f"use e.g. {example}")
        m = measure(character)
        self.framing = framing_or_cut
        self.follow_s, self.dead_zone, self.head_margin = float(follow_s), float(dead_zone), float(head_margin)
        self.home = framed_camera(m, framing_or_cut, aspect, margin, view_dir)
        self.camera = self.home
        self.follows = framing_or_cut != "full"
        self._joint_count = len(m.joints)
        self._centre: np.ndarray | None = None
        if not self.follows:
            return
        right, up, _ = self.home.basis()
        self._axes = np.stack([right, up])  # world -> picture plane (2, 3)
        self._home_centre = self._axes @ np.asarray(self.home.target)
        self._hips, self._head = m.joint("hips"), m.joint("head")
        rest_hips, rest_head = m.joints[self._hips], m.joints[self._head]
        # Share of the hips-to-head line at the picture's middle, at rest.
        self._along = float(np.clip((self.home.target[1] - rest_hips[1]) / (rest_head[1] - rest_hips[1]), 0.0, 1.0))
        self._offset = self._home_centre - self._aim_point(m.joints)
        half = np.array([self.home.half_height * aspect, self.home.half_height])
        self._dead = self.dead_zone * 2.0 * self.home.half_height
        self._reach = half * (1.0 - 2.0 * self.head_margin)  # head joint to centre, at most

    def reset(self) -> None:
        """Forget the past: the next update jumps to its aim (a new session, a new source)."""
        self._centre = None
        self.camera = self.home

    def update(self, joint_positions, dt: float) -> OrthographicCamera:
        """This frame's camera for the posed joints ``[J, 3]``, ``dt`` seconds after the last."""
        if not self.follows:
            return self.camera
        if not (isinstance(dt, (int, float)) and dt >= 0 and math.isfinite(dt)):
            raise SettingError(
                "FollowCamera.update(dt)", "seconds since the last frame, >= 0", repr(dt), "pass frame_dt"
            )
        joints = self._checked(joint_positions)
        aim = self._aim_point(joints) + self._offset
        if self._centre is None:
            centre = aim
        else:
            error = aim - self._centre
            beyond = np.sign(error) * np.maximum(np.abs(error) - self._dead, 0.0)
            centre = self._centre + (1.0 - math.exp(-dt / self.follow_s)) * beyond
        head = self._axes @ joints[self._head]
        self._centre = np.clip(centre, head - self._reach, head + self._reach)
        self.camera = self._camera_at(self._centre)
        return self.camera

    def settled(self, joint_positions) -> OrthographicCamera:
        """Where the camera comes to rest if the body holds this pose (no state is changed)."""
        if not self.follows:
            return self.home
        joints = self._checked(joint_positions)
        head = self._axes @ joints[self._head]
        return self._camera_at(np.clip(self._aim_point(joints) + self._offset, head - self._reach, head + self._reach))

    def _aim_point(self, joints: np.ndarray) -> np.ndarray:
        hips, head = self._axes @ joints[self._hips], self._axes @ joints[self._head]
        return np.array([hips[0] + self._along * (head[0] - hips[0]), head[1]])

    def _checked(self, joint_positions) -> np.ndarray:
        joints = np.asarray(joint_positions, dtype=np.float64)
        if joints.shape != (self._joint_count, 3):
            raise SettingError(
                "FollowCamera.update(joint_positions)",
                f"posed joint world positions [{self._joint_count}, 3]",
                f"shape {joints.shape}",
                "pass animator.world_matrices[:, :3, 3]",
            )
        return joints

    def _camera_at(self, centre: np.ndarray) -> OrthographicCamera:
        shift = (centre - self._home_centre) @ self._axes
        home = self.home
        return replace(home, eye=tuple(np.add(home.eye, shift)), target=tuple(np.add(home.target, shift)))
