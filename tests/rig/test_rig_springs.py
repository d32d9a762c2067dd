"""Spring bones: settling, energy, stability under abuse, determinism, collisions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from avatar_app.rig import (
    CharacterAnimator,
    Collider,
    ColliderGroup,
    RigFileError,
    SpringBoneSystem,
    SpringChain,
    SpringJointSettings,
    SpringSettings,
    forward_kinematics,
)
from avatar_app.rig.quaternion import quat_from_axis_angle
from avatar_app.rig.springs import REFERENCE_DT

from rig_helpers import chain_skeleton


def _hanging_system(settings: SpringJointSettings, count: int = 5, step=(0.1, 0.0, 0.0), colliders=(), groups=()):
    """A free chain: joint 0 is the fixed root, joints 1..count-1 spring (the last one is the tail)."""
    skel = chain_skeleton(count + 1, step=step)
    chain = SpringChain(tuple(range(1, count + 1)), tuple(settings for _ in range(count)), tuple(range(len(groups))))
    return skel, SpringBoneSystem(skel, SpringSettings((chain,), tuple(colliders), tuple(groups)))


def _run(skel, system, frames: int, dt: float, root_motion=None):
    """Positions [frames, J, 3] of the spring-driven skeleton."""
    out = []
    for i in range(frames):
        pose = skel.rest_pose()
        if root_motion is not None:
            root_motion(pose, i * dt)
        world = forward_kinematics(skel, pose)
        out.append(forward_kinematics(skel, system.step(pose, world, dt))[:, :3, 3])
    return np.array(out)


def test_a_chain_released_horizontally_settles_under_gravity_with_decaying_energy():
    gravity = 0.2
    skel, system = _hanging_system(SpringJointSettings(stiffness=0.0, gravity_power=gravity, drag=0.15))
    dt = 1.0 / 60.0
    pos = _run(skel, system, 600, dt)
    tails = pos[:, 2:, :]  # moving joints
    g = gravity / REFERENCE_DT  # the VRM gravity term is an acceleration of gravity_power / (1/60 s)
    velocity = np.gradient(tails, dt, axis=0)
    energy = (0.5 * np.sum(velocity**2, axis=-1) + g * tails[..., 1]).sum(axis=1)
    # hangs straight down under its first joint (x = 0.1) at the end
    np.testing.assert_allclose(pos[-1, 1:, 0], 0.1, atol=1e-3)
    np.testing.assert_allclose(pos[-1, 1:, 1], 1.0 - 0.1 * np.arange(5), atol=1e-3)
    # energy decays: each second's peak is below the previous one's, and it ends at the bottom
    peaks = [energy[k : k + 60].max() for k in range(10, 600, 60)]
    assert all(b <= a + 1e-6 for a, b in zip(peaks, peaks[1:])), peaks
    lowest = g * np.sum(1.0 - 0.1 * np.arange(1, 5))
    assert energy[-1] - lowest < 1e-3 * (energy[0] - lowest)


def test_bone_lengths_are_kept_exactly():
    skel, system = _hanging_system(SpringJointSettings(stiffness=0.5, gravity_power=0.5, drag=0.1))
    pos = _run(
        skel, system, 120, 1 / 60, root_motion=lambda pose, t: pose.translations.__setitem__(0, [math.sin(9 * t), 1, 0])
    )
    lengths = np.linalg.norm(np.diff(pos[:, 1:], axis=1), axis=-1)
    np.testing.assert_allclose(lengths, 0.1, atol=1e-9)


def _abuse(seed: int, steps: int):
    """Random root motion with teleports and random frame intervals up to 1/15 s.

    Yields (spring-driven positions, the system, the animated positions the springs started from)."""
    settings = SpringJointSettings(stiffness=0.8, gravity_power=0.3, drag=0.2, hit_radius=0.02)
    colliders = (Collider(0, (0.0, -0.15, 0.0), 0.08), Collider(0, (0.1, -0.3, 0.0), 0.05, (-0.1, -0.3, 0.0)))
    skel, system = _hanging_system(
        settings, count=6, step=(0.0, -0.08, 0.02), colliders=colliders, groups=(ColliderGroup((0, 1)),)
    )
    rng = np.random.default_rng(seed)
    position = np.array([0.0, 1.0, 0.0])
    angle = 0.0
    for _ in range(steps):
        if rng.random() < 0.02:  # teleport
            position = rng.uniform(-5, 5, 3)
            angle = rng.uniform(-math.pi, math.pi)
        else:  # jittery tracking
            position = position + rng.normal(0.0, 0.03, 3)
            angle += rng.normal(0.0, 0.1)
        dt = float(np.exp(rng.uniform(math.log(1 / 240), math.log(1 / 15))))
        pose = skel.rest_pose()
        pose.translations[0] = position
        pose.rotations[0] = quat_from_axis_angle([0.3, 1.0, 0.2], angle)
        world = forward_kinematics(skel, pose)
        yield forward_kinematics(skel, system.step(pose, world, dt))[:, :3, 3], system, world[:, :3, 3]


def test_ten_thousand_abusive_steps_stay_finite_and_never_stretch():
    rest_lengths = np.linalg.norm([0.0, -0.08, 0.02])
    worst = 0.0
    for positions, system, _ in _abuse(seed=7, steps=10_000):
        assert np.all(np.isfinite(positions)) and np.all(np.isfinite(system._cur))
        lengths = np.linalg.norm(np.diff(positions[1:], axis=0), axis=1)
        worst = max(worst, float(np.max(np.abs(lengths / rest_lengths - 1.0))))
    assert worst < 0.05  # the requirement; in fact rotations only, so lengths are exact
    assert worst < 1e-9


def test_identical_inputs_give_identical_outputs_that_the_springs_moved():
    runs = [[(p.copy(), animated) for p, _, animated in _abuse(seed=3, steps=400)] for _ in range(2)]
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(*runs))
    # Identical, and not because the springs did nothing: the tails lag behind the animated pose.
    lag = np.array([np.linalg.norm(p[2:] - animated[2:], axis=1).max() for p, animated in runs[0]])
    assert np.median(lag) > 0.05, np.median(lag)


def test_reset_replays_identically():
    skel, system = _hanging_system(SpringJointSettings(stiffness=0.3, gravity_power=0.4, drag=0.1))
    motion = lambda pose, t: pose.translations.__setitem__(0, [0.3 * math.sin(5 * t), 1, 0])  # noqa: E731
    a = _run(skel, system, 90, 1 / 50, motion)
    system.reset()
    b = _run(skel, system, 90, 1 / 50, motion)
    assert np.array_equal(a, b)
    c = _run(skel, system, 90, 1 / 50, motion)  # no reset: the chain starts from where b left it swinging
    assert np.abs(c - b).max() > 0.01, "without reset the springs carry their state over"


@pytest.mark.parametrize("fps", [15, 24, 30, 60, 144])
def test_frame_rate_does_not_change_the_motion(fps):
    """Same root motion sampled at different frame rates: the chain follows the same path."""
    settings = SpringJointSettings(stiffness=0.6, gravity_power=0.3, drag=0.3)

    def motion(pose, t):
        pose.translations[0] = [0.25 * math.sin(2 * math.pi * 0.7 * t), 1.0, 0.0]

    skel, reference = _hanging_system(settings, step=(0.0, -0.1, 0.0))
    ref = _run(skel, reference, 360, 1 / 120, motion)  # 3 s
    skel, system = _hanging_system(settings, step=(0.0, -0.1, 0.0))
    frames = 3 * fps
    got = _run(skel, system, frames, 1 / fps, motion)
    # compare at shared instants (every 1/3 s), after the first second
    for k in range(3, 9):
        t = k / 3.0  # frame i shows the chain driven up to time i * dt
        a = ref[round(t * 120)]
        b = got[round(t * fps)]
        assert np.max(np.linalg.norm(a - b, axis=1)) < 0.02, (fps, t)


def test_a_teleport_reseats_the_chain_on_the_pose():
    skel, system = _hanging_system(
        SpringJointSettings(stiffness=0.2, gravity_power=0.5, drag=0.05), step=(0.1, 0.0, 0.0)
    )
    _run(skel, system, 30, 1 / 60)  # swinging down
    pose = skel.rest_pose()
    pose.translations[0] = [40.0, 1.0, -7.0]
    pos = forward_kinematics(skel, system.step(pose, forward_kinematics(skel, pose), 1 / 60))[:, :3, 3]
    # one frame after the jump the chain is close to its (horizontal) animated pose again, not whipped far away
    rest = forward_kinematics(skel, pose)[:, :3, 3]
    assert np.max(np.linalg.norm(pos - rest, axis=1)) < 0.05


@pytest.mark.parametrize("shape", ["sphere", "capsule"])
def test_colliders_push_tails_out(shape):
    hit = 0.02
    settings = SpringJointSettings(stiffness=0.0, gravity_power=0.5, drag=0.3, hit_radius=hit)
    # the chain hangs straight down from (0,1,0); put the collider across its path
    if shape == "sphere":
        collider = Collider(0, (0.03, -0.25, 0.0), 0.06)
    else:
        collider = Collider(0, (0.03, -0.25, -0.3), 0.06, (0.03, -0.25, 0.3))
    skel, system = _hanging_system(
        settings, step=(0.0, -0.1, 0.0), colliders=(collider,), groups=(ColliderGroup((0,)),)
    )
    pos = _run(skel, system, 300, 1 / 60)[-1]
    centre = np.array([0.03, 0.75, 0.0])
    if shape == "sphere":
        dist = np.linalg.norm(pos[2:] - centre, axis=1)
    else:
        dist = np.linalg.norm((pos[2:] - centre)[:, :2], axis=1)
    assert np.all(dist >= 0.06 + hit - 1e-3), dist
    assert pos[-1, 0] < -0.01  # pushed aside


def test_default_avatar_stays_put_in_its_rest_pose(default_avatar):
    anim = CharacterAnimator(default_avatar)
    rest = default_avatar.skeleton.rest_pose()
    first = anim.update(rest, 1 / 60)
    for _ in range(119):
        last = anim.update(rest, 1 / 60)
    moved = np.linalg.norm(last - first, axis=1)
    assert moved.max() < 0.05  # twin-tail tips sag about 4 cm under gravity (skirt hem 3 cm), then hold


def test_chains_out_of_order_are_rejected():
    skel = chain_skeleton(4)
    bad = SpringSettings((SpringChain((3, 2)),))
    with pytest.raises(RigFileError, match="'j3' is not above 'j2'"):
        SpringBoneSystem(skel, bad)
    twice = SpringSettings((SpringChain((1, 2)), SpringChain((1, 3))))
    with pytest.raises(RigFileError, match="each joint in one chain only"):
        SpringBoneSystem(skel, twice)
