"""BVH motion files: parsing, per-frame local poses, and retargeting to humanoid poses.

Format rules we follow: channel values are degrees and centimetres-or-whatever
(units do not matter: root motion is retargeted in hip heights); rotation
channels compose in the order listed (``Zrotation Xrotation Yrotation`` means
``R = Rz @ Rx @ Ry``); a joint's position channels replace the matching
components of its OFFSET (root motion is absolute, and exporters that put six
channels on every joint repeat the offset there). ``End Site`` blocks become
joints named ``<parent>_end`` so leaf bones have a direction.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from avatar_app.rig.errors import MotionFileError
from avatar_app.rig.expression_track import ExpressionCurve, load_expression_track, side_track_path
from avatar_app.rig.expressions import Expression
from avatar_app.rig.humanoid import HumanoidPose, HumanoidRig
from avatar_app.rig.motion_framing import ROOT_MODES, RootFraming
from avatar_app.rig.quaternion import identity_quat, quat_from_euler, quat_slerp
from avatar_app.rig.retarget import guess_humanoid
from avatar_app.rig.skeleton import Pose, Skeleton

log = logging.getLogger(__name__)

_CHANNELS = {
    "xposition": ("pos", 0),
    "yposition": ("pos", 1),
    "zposition": ("pos", 2),
    "xrotation": ("rot", "X"),
    "yrotation": ("rot", "Y"),
    "zrotation": ("rot", "Z"),
}


class _Tokens:
    def __init__(self, lines: list[str], source: str):
        self.source = source
        self.items = [(tok, n + 1) for n, line in enumerate(lines) for tok in line.split()]
        self.pos = 0

    def peek(self) -> str | None:
        return self.items[self.pos][0] if self.pos < len(self.items) else None

    @property
    def line(self) -> int:
        return self.items[min(self.pos, len(self.items) - 1)][1] if self.items else 1

    def take(self, expected: str | None = None) -> str:
        if self.pos >= len(self.items):
            raise MotionFileError(
                f"{self.source} (end of file)",
                expected or "more of the HIERARCHY",
                "the end of the file",
                "the file is cut short; re-export it",
            )
        tok, line = self.items[self.pos]
        if expected is not None and tok.upper() != expected.upper():
            raise MotionFileError(
                f"{self.source} (line {line})",
                f"'{expected}'",
                f"'{tok}'",
                "fix the HIERARCHY syntax or re-export the file",
            )
        self.pos += 1
        return tok

    def number(self, what: str) -> float:
        line = self.line
        tok = self.take(None)
        try:
            value = float(tok)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):  # inf / nan parse as floats, and poison every pose (tools/fuzz.py)
            raise MotionFileError(
                f"{self.source} (line {line})", f"a finite number for {what}", f"'{tok}'", "fix the value"
            )
        return value


@dataclass(frozen=True, eq=False)
class BvhMotion:
    """A parsed BVH file: its skeleton, per-frame local transforms and timing.

    ``rotations [F,J,4]`` xyzw and ``translations [F,J,3]`` are the local
    transforms of every frame (end-site joints included, at rest). ``expressions``: the
    face's side track (``<file>.expressions.csv``, :mod:`.expression_track`) when there is one.
    """

    skeleton: Skeleton
    rotations: np.ndarray
    translations: np.ndarray
    frame_time: float
    source: str
    expressions: ExpressionCurve | None = None
    root: str = "follow"  # motion_framing.ROOT_MODES: follow, hold or free

    @property
    def has_expressions(self) -> bool:
        return self.expressions is not None

    def expression_at(self, t: float) -> Expression | None:
        return None if self.expressions is None else self.expressions.at(t)

    @property
    def frame_count(self) -> int:
        return len(self.rotations)

    @property
    def duration(self) -> float:
        return self.frame_count * self.frame_time

    def local_pose(self, frame: int) -> Pose:
        return Pose(self.rotations[frame].copy(), self.translations[frame].copy())

    def local_pose_at(self, t: float, loop: bool = True) -> Pose:
        """Pose at time ``t`` seconds, interpolated between frames (slerp / lerp)."""
        f = t / self.frame_time
        last = self.frame_count - 1
        if loop and self.frame_count > 1:
            f = f % self.frame_count
        f = min(max(f, 0.0), float(last))
        i = int(np.floor(f))
        j = (i + 1) % self.frame_count if loop else min(i + 1, last)
        a = f - i
        rot = quat_slerp(self.rotations[i], self.rotations[j], np.full(self.skeleton.num_joints, a))
        trans = (1 - a) * self.translations[i] + a * self.translations[j]
        if j < i:  # wrapping: do not slide the root back across the whole clip
            trans = self.translations[i].copy()
        return Pose(rot, trans)

    @cached_property
    def rig(self) -> HumanoidRig:
        return HumanoidRig(self.skeleton)

    @cached_property
    def framing(self) -> RootFraming:
        """How the clip is turned to the camera and kept in the picture (``root``, :mod:`.motion_framing`)."""
        return RootFraming(lambda t: self.rig.from_pose(self.local_pose_at(t, False)), self.duration, self.root)

    def pose_at(self, t: float, loop: bool = True) -> HumanoidPose:
        """The motion at ``t`` seconds as a skeleton-independent :class:`HumanoidPose`.

        Turned to face the camera at the clip's start, the root from where the first frame
        stands, and followed or held by ``root`` (:mod:`.motion_framing`): capture stages
        put actors anywhere, facing anywhere.
        """
        if loop and self.frame_count > 1:
            t = t % self.duration
        return self.framing.apply(self.rig.from_pose(self.local_pose_at(t, loop)), t)


def load_bvh(path, humanoid: dict[str, str] | None = None, root: str = "follow") -> BvhMotion:
    """Parse a BVH file. ``humanoid`` optionally maps VRM bone names to BVH joint
    names; by default they are guessed from common naming (mixamo, CMU, ...). ``root``:
    follow, hold or free (:mod:`.motion_framing`)."""
    if root not in ROOT_MODES:
        raise MotionFileError("root motion", f"one of {', '.join(ROOT_MODES)}", repr(root), "use follow (the default)")
    path = Path(path)
    if not path.is_file():
        raise MotionFileError(path, "an existing BVH file", "no such file", "check the path")
    source = str(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError:
        lines = path.read_text(encoding="latin-1").splitlines()
    motion_line = next((n for n, line in enumerate(lines) if line.strip().upper() == "MOTION"), None)
    if motion_line is None:
        raise MotionFileError(source, "a MOTION section", "none", "the file is cut short or not a BVH file")
    tokens = _Tokens(lines[:motion_line], source)
    tokens.take("HIERARCHY")
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[list[str]] = []
    while tokens.peek() is not None:
        tokens.take("ROOT")
        try:
            _parse_joint(tokens, -1, names, parents, offsets, channels)
        except RecursionError:
            raise MotionFileError(
                source,
                "a joint hierarchy of a body (tens of joints deep)",
                f"joints nested deeper than {len(names)} levels",
                "the file is broken or not a motion capture; re-export it",
            ) from None
    if not names:
        raise MotionFileError(source, "at least one ROOT joint", "none", "check the HIERARCHY section")
    total = sum(len(c) for c in channels)
    frames, frame_time = _parse_motion(lines, motion_line, total, source)
    if humanoid is None:
        bone_map = guess_humanoid(names, parents)
    else:
        missing = [n for n in humanoid.values() if n not in names]
        if missing:
            raise MotionFileError(
                source,
                "humanoid map targets that are joints of the file",
                f"unknown joints {missing[:5]}",
                "use the joint names from the HIERARCHY",
            )
        bone_map = {bone: names.index(n) for bone, n in humanoid.items()}
    if "hips" not in bone_map:
        raise MotionFileError(
            source,
            "a hips/root joint we can recognise",
            f"joints {names[:6]}...",
            "pass humanoid={'hips': <name>, ...} to load_bvh",
        )
    skeleton = Skeleton(names, parents, np.array(offsets), identity_quat(len(names)), bone_map, source=source)
    rotations, translations = _frames_to_locals(frames, channels, np.array(offsets))
    track = side_track_path(path)
    duration = len(rotations) * frame_time
    expressions = load_expression_track(track, loop_s=duration) if track.is_file() else None
    if expressions is not None:
        log.info("%s: face from %s", source, track.name)
    return BvhMotion(skeleton, rotations, translations, frame_time, source, expressions, root)


def _parse_joint(tokens: _Tokens, parent: int, names, parents, offsets, channels) -> None:
    name = tokens.take()
    index = len(names)
    names.append(name)
    parents.append(parent)
    tokens.take("{")
    tokens.take("OFFSET")
    offsets.append([tokens.number("OFFSET x"), tokens.number("OFFSET y"), tokens.number("OFFSET z")])
    chans: list[str] = []
    if (tokens.peek() or "").upper() == "CHANNELS":
        tokens.take("CHANNELS")
        line = tokens.line
        count_tok = tokens.take()
        if not count_tok.isdecimal():  # isdigit() also takes '²', which int() refuses
            raise MotionFileError(
                f"{tokens.source} (line {line})",
                "a channel count after CHANNELS",
                f"'{count_tok}'",
                "write e.g. 'CHANNELS 3 Zrotation Xrotation Yrotation'",
            )
        for _ in range(int(count_tok)):
            line = tokens.line
            ch = tokens.take()
            if ch.lower() not in _CHANNELS:
                raise MotionFileError(
                    f"{tokens.source} (line {line})",
                    "a channel name among Xposition Yposition Zposition Xrotation Yrotation Zrotation",
                    f"'{ch}' in joint {name!r}",
                    "fix the channel name (or the CHANNELS count)",
                )
            chans.append(ch.lower())
    channels.append(chans)
    while True:
        tok = tokens.peek()
        if tok is None:
            tokens.take("}")
        key = tok.upper()
        if key == "JOINT":
            tokens.take()
            _parse_joint(tokens, index, names, parents, offsets, channels)
        elif key == "END":
            tokens.take()
            tokens.take("Site")
            tokens.take("{")
            tokens.take("OFFSET")
            end_offset = [tokens.number("OFFSET x"), tokens.number("OFFSET y"), tokens.number("OFFSET z")]
            tokens.take("}")
            names.append(f"{name}_end")
            parents.append(index)
            offsets.append(end_offset)
            channels.append([])
        elif key == "}":
            tokens.take()
            return
        else:
            tokens.take("JOINT, End Site or }")


def _parse_motion(lines: list[str], motion_line: int, total: int, source: str) -> tuple[np.ndarray, float]:
    body = [(n + 1, lines[n].strip()) for n in range(motion_line + 1, len(lines))]
    body = [(n, s) for n, s in body if s]
    if (
        len(body) < 2
        or not body[0][1].lower().startswith("frames:")
        or not body[1][1].lower().startswith("frame time:")
    ):
        where = body[0][0] if body else motion_line + 1
        raise MotionFileError(
            f"{source} (line {where})",
            "'Frames: N' and 'Frame Time: T' after MOTION",
            f"'{body[0][1] if body else 'end of file'}'",
            "re-export the file",
        )
    try:
        count = int(body[0][1].split(":", 1)[1])
        frame_time = float(body[1][1].split(":", 1)[1])
    except ValueError:
        raise MotionFileError(
            f"{source} (line {body[0][0]})",
            "an integer frame count and a numeric frame time",
            f"'{body[0][1]}' / '{body[1][1]}'",
            "fix the MOTION header",
        ) from None
    if count < 1 or not 0 < frame_time < math.inf:
        raise MotionFileError(
            f"{source} (line {body[0][0]})",
            "at least one frame and a positive frame time",
            f"Frames: {count}, Frame Time: {frame_time}",
            "fix the MOTION header",
        )
    rows = body[2:]
    if len(rows) < count:
        raise MotionFileError(
            source,
            f"{count} frames of motion (as 'Frames:' says)",
            f"only {len(rows)}",
            "the file is truncated; re-export it or fix 'Frames:'",
        )
    if len(rows) > count:
        log.info("%s: ignoring %d lines after the %d declared frames", source, len(rows) - count, count)
    frames = np.empty((count, total))
    for k, (n, text) in enumerate(rows[:count]):
        values = text.split()
        if len(values) != total:
            raise MotionFileError(
                f"{source} (line {n})",
                f"{total} values per frame (the sum of the CHANNELS counts)",
                f"{len(values)} values in frame {k}",
                "re-export the file; the HIERARCHY and MOTION disagree",
            )
        try:
            frames[k] = [float(v) for v in values]
        except ValueError:
            raise MotionFileError(
                f"{source} (line {n})", "numbers only in frame lines", f"'{text[:40]}'", "fix the value"
            ) from None
        if not np.isfinite(frames[k]).all():
            raise MotionFileError(
                f"{source} (line {n})", "finite numbers in frame lines", f"'{text[:40]}' (inf or nan)", "fix the value"
            )
    return frames, frame_time


def _frames_to_locals(
    frames: np.ndarray, channels: list[list[str]], offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    count = len(frames)
    joints = len(channels)
    rotations = np.broadcast_to(identity_quat(1), (count, joints, 4)).copy()
    translations = np.broadcast_to(offsets, (count, joints, 3)).copy()
    column = 0
    for j, chans in enumerate(channels):
        order = ""
        rot_cols = []
        for ch in chans:
            kind, what = _CHANNELS[ch]
            if kind == "pos":
                translations[:, j, what] = frames[:, column]
            else:
                order += what
                rot_cols.append(column)
            column += 1
        if order:
            rotations[:, j] = quat_from_euler(np.radians(frames[:, rot_cols]), order)
    return rotations, translations
