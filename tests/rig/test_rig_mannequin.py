"""The proxy body read from mannequin-x, in our convention."""

from __future__ import annotations

import numpy as np
import pytest

from avatar_app.rig import RigFileError, load_mannequin_body
from avatar_app.rig import mannequin as mannequin_module
from avatar_app.rig.humanoid import HUMANOID_BONES, REQUIRED_BONES


def test_counts_and_humanoid_names(body):
    assert body.mesh.num_vertices == 24256 and len(body.mesh.triangles) == 48396
    skel = body.skeleton
    assert skel.num_joints == 52
    assert set(skel.names) <= set(HUMANOID_BONES) and set(REQUIRED_BONES) <= set(skel.humanoid)
    assert skel.parents[skel.index("leftIndexProximal")] == skel.index("leftHand")  # SMPL-X's L_Hand dropped
    assert body.mesh.joints.shape[1] == 4


def test_metres_feet_on_floor_centred(body):
    lo, hi = body.rest_bounds()
    assert lo[1] == pytest.approx(0.0, abs=1e-6) and hi[1] == pytest.approx(1.73, abs=0.01)
    assert (lo[0] + hi[0]) / 2 == pytest.approx(0.0, abs=1e-3) and (lo[2] + hi[2]) / 2 == pytest.approx(
        0.0, abs=1e-6
    )  # x=0: symmetry plane


def test_arm_angle_zero_gives_the_t_pose_of_the_asset(body):
    body = load_mannequin_body(arm_angle_deg=0.0)
    skel = body.skeleton
    world = skel.rest_world_matrices[:, :3, 3]
    arm = world[skel.index("leftLowerArm")] - world[skel.index("leftUpperArm")]
    assert abs(np.degrees(np.arctan2(arm[1], arm[0]))) < 1e-6  # the upper arm is horizontal
    assert body.rest_bounds()[1][0] - body.rest_bounds()[0][0] > body.rest_height()  # why we use an A-pose


def test_missing_package_says_how_to_install(monkeypatch):
    def no_package(name):
        raise ModuleNotFoundError(name)

    monkeypatch.setattr(mannequin_module.resources, "files", no_package)
    with pytest.raises(
        RigFileError, match=r"mannequin-x: expected the installed 'mannequin-x' package.*Fix: pip install mannequin-x"
    ):
        load_mannequin_body()
