"""A built-in, looping procedural motion: idle sway, a wave, a short dance.

Everything is written as VRM normalized-bone rotations (:class:`HumanoidPose`),
so it drives any skeleton with a humanoid map. Identity is the VRM T-pose:
arms along +-x, so "arms down" is a rotation of about 75 degrees about z.
Segments are periodic in themselves and cross-fade (slerp, smoothstep) over
``blend`` seconds, including across the loop point, so the motion has no
jumps at any time.

The face has a script too (``expression_at``): a blink every three to four seconds
(once a double blink), talking while it waves (a vowel per syllable, five a second, in
phrases), and a smile through the dance.
"""

from __future__ import annotations

import math

import numpy as np

from avatar_app.rig.expressions import Expression, blink_shape
from avatar_app.rig.humanoid import BONE_INDEX, HumanoidPose
from avatar_app.rig.quaternion import identity_quat, quat_from_axis_angle, quat_from_euler, quat_multiply, quat_slerp

_NB = len(BONE_INDEX)


def _rot(x: float = 0.0, y: float = 0.0, z: float = 0.0) -> tuple[float, float, float]:
    """Euler angles in degrees, applied as R = Rz Ry Rx (z outermost); converted in :func:`_pose`."""
    return (z, y, x)


def _pose(bones: dict[str, tuple[float, float, float]], hips=(0.0, 0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    q = identity_quat(_NB)
    index = [BONE_INDEX[name] for name in bones]
    q[index] = quat_from_euler(np.radians(np.array(list(bones.values()))), "ZYX")  # one batched conversion
    return q, np.asarray(hips, dtype=np.float64)


def _relaxed_arms(sway: float = 0.0) -> dict[str, tuple[float, float, float]]:
    return {
        "leftUpperArm": _rot(z=-72 + sway, y=-6),
        "rightUpperArm": _rot(z=72 + sway, y=6),
        "leftLowerArm": _rot(y=-12),
        "rightLowerArm": _rot(y=12),
        "leftHand": _rot(z=-5),
        "rightHand": _rot(z=5),
    }


def idle(t: float):
    breath = math.sin(2 * math.pi * t / 4.0)
    sway = math.sin(2 * math.pi * t / 8.0)
    bones = _relaxed_arms(2.0 * breath)
    bones.update(
        spine=_rot(x=1.5 * breath, z=2.0 * sway),
        chest=_rot(x=1.0 * breath),
        neck=_rot(z=-1.5 * sway),
        head=_rot(x=2.0 * math.sin(2 * math.pi * t / 5.0), y=6.0 * math.sin(2 * math.pi * t / 8.0 + 1.0)),
    )
    return _pose(bones, hips=(0.012 * sway, 0.002 * breath, 0.0))


def wave(t: float):
    bones = _relaxed_arms()
    beat = math.sin(2 * math.pi * t * 1.6)
    bones.update(
        rightUpperArm=_rot(z=-25, y=-20),  # raised out to the side
        rightLowerArm=_rot(z=-62 + 20 * beat),  # forearm up, waving in the frontal plane
        rightHand=_rot(z=8 * beat),
        spine=_rot(z=-3),
        head=_rot(z=6, y=-8, x=-3),
    )
    return _pose(bones)


def dance(t: float):
    beat = 2 * math.pi * t / 1.0  # one step per second
    s, c = math.sin(beat), math.cos(beat)
    bounce = 0.5 - 0.5 * math.cos(2 * beat)  # twice per step
    bones = {
        "spine": _rot(y=14 * s, z=4 * s),
        "chest": _rot(y=8 * s, x=4 * bounce),
        "head": _rot(z=-8 * s, x=-4 * bounce),
        "leftUpperArm": _rot(z=-55 + 25 * s, y=-25),
        "rightUpperArm": _rot(z=55 + 25 * s, y=25),
        "leftLowerArm": _rot(y=-70 - 25 * c),
        "rightLowerArm": _rot(y=70 - 25 * c),
        "leftUpperLeg": _rot(x=-18 * bounce - 8 * max(s, 0.0), z=2),
        "rightUpperLeg": _rot(x=-18 * bounce - 8 * max(-s, 0.0), z=-2),
        "leftLowerLeg": _rot(x=34 * bounce + 16 * max(s, 0.0)),
        "rightLowerLeg": _rot(x=34 * bounce + 16 * max(-s, 0.0)),
        "leftFoot": _rot(x=-16 * bounce),
        "rightFoot": _rot(x=-16 * bounce),
    }
    return _pose(bones, hips=(0.06 * s, -0.055 * bounce, 0.0))


def _smoothstep(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x)


class DemoMotion:
    """``pose_at(t)`` -> :class:`HumanoidPose`; loops every ``duration`` seconds."""

    segments = (("idle", idle, 4.0), ("wave", wave, 4.0), ("dance", dance, 8.0))
    has_expressions = True

    def __init__(self, blend: float = 0.6):
        self.blend = float(blend)
        self.duration = sum(length for _, _, length in self.segments)

    def segment_at(self, t: float) -> str:
        t = t % self.duration
        for name, _, length in self.segments:
            if t < length:
                return name
            t -= length
        return self.segments[-1][0]

    def pose_at(self, t: float) -> HumanoidPose:
        t = float(t) % self.duration
        start = 0.0
        for k, (_, _, length) in enumerate(self.segments):
            if t < start + length or k == len(self.segments) - 1:
                break
            start += length
        fn = self.segments[k][1]
        local = t - start
        rot, hips = fn(local)
        # fade in from the previous segment over the first `blend` seconds
        if local < self.blend:
            prev_name, prev_fn, prev_len = self.segments[k - 1]
            prev_rot, prev_hips = prev_fn(prev_len + local)
            w = _smoothstep(local / self.blend)
            rot = quat_slerp(prev_rot, rot, np.full(_NB, w))
            hips = (1 - w) * prev_hips + w * hips
        return HumanoidPose(rot, hips)

    # the face's script over one loop (seconds): blink starts, phrases (start, end), vowels in turn
    blinks = (1.3, 4.6, 7.9, 8.12, 11.2, 14.5)
    phrases = ((4.3, 5.5), (5.9, 7.5))  # whole syllables: the mouth is shut at each end
    syllable_s = 0.2
    vowels = ("aa", "ih", "oh", "ee", "aa", "ou", "ee", "oh", "aa")

    def expression_at(self, t: float) -> Expression:
        t = float(t) % self.duration
        lids = max(blink_shape(t - b) for b in (*self.blinks, self.blinks[0] + self.duration))
        values = {"blink": lids}
        for start, end in self.phrases:
            if start <= t < end:
                k = int((t - start) / self.syllable_s)
                phase = (t - start) / self.syllable_s - k
                values[self.vowels[k % len(self.vowels)]] = 0.8 * math.sin(math.pi * phase)
        dance_start = self.segments[0][2] + self.segments[1][2]
        values["happy"] = 0.7 * _smoothstep((t - dance_start) / 0.5) * _smoothstep((self.duration - t) / 0.5)
        return Expression.of(**values)


class TurnMotion:
    """The idle motion turning slowly on the spot about the vertical, a full turn every
    ``duration`` seconds (the front, one side, the back, the other side): every side of the
    character in one clip (``render --motion turn``)."""

    has_expressions = False

    def __init__(self, duration: float = 12.0):
        self.duration = float(duration)

    def pose_at(self, t: float) -> HumanoidPose:
        rot, hips = idle(float(t) % self.duration)
        rot = np.array(rot, dtype=np.float64, copy=True)
        yaw = quat_from_axis_angle(
            np.array([0.0, 1.0, 0.0]), 2.0 * math.pi * (float(t) % self.duration) / self.duration
        )
        hip = BONE_INDEX["hips"]
        rot[hip] = quat_multiply(yaw, rot[hip])
        return HumanoidPose(rot, hips)
