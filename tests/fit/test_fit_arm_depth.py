"""Arms drawn over the body (fit.arm_depth): posed from landmarks in front of or behind the torso.

Each drawing is the proxy itself rendered in a known pose, and its landmarks are that pose's
joints, so the truth the placement must find is the pose the drawing was made from.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from avatar_app.fit.arm_depth import _pixels, place_arms_in_depth
from avatar_app.fit.drawing import Drawing
from avatar_app.fit.landmarks import INDEX, DrawnLandmarks
from avatar_app.fit.objective import WORK_SIZE, Objective, ViewFit, hair_target, target_coverage
from avatar_app.fit.proxy import ProxyModel, Silhouettes, ViewParams
from avatar_app.fit.search import flipped
from avatar_app.raster.character_view import raster_mesh
from avatar_app.raster.rasterizer import Rasterizer
from avatar_app.rig.avatar_style import AvatarStyle

SIZE = 256
FRAME = {"half_height": 0.95, "centre_y": 0.85}
CROSSED = ViewParams(
    **FRAME,
    left_arm=80.0,
    right_arm=80.0,
    left_elbow=100.0,
    right_elbow=95.0,
    left_arm_forward=35.0,
    right_arm_forward=30.0,
    left_elbow_forward=5.0,
    right_elbow_forward=15.0,
)
BEHIND = ViewParams(
    **FRAME,
    left_arm=80.0,
    right_arm=80.0,
    left_elbow=60.0,
    right_elbow=60.0,
    left_arm_forward=-25.0,
    right_arm_forward=-25.0,
    left_elbow_forward=-40.0,
    right_elbow_forward=-40.0,
)
FORWARD_FIELDS = ("left_arm_forward", "right_arm_forward", "left_elbow_forward", "right_elbow_forward")


@pytest.fixture(scope="module")
def model() -> ProxyModel:
    return ProxyModel(AvatarStyle(lower="trousers", hair_style="short"))


@pytest.fixture(scope="module")
def objective():
    with Silhouettes(2 * WORK_SIZE) as silhouettes:
        yield Objective(silhouettes, None, lambda text: None)


def drawing_of(model: ProxyModel, params: ViewParams) -> Drawing:
    """The proxy in ``params``, rendered straight into the fit's square."""
    with Rasterizer(SIZE, color_samples=4) as rasterizer:
        mesh = raster_mesh(model.character)
        mesh.update(model.vertices(params))
        color = rasterizer.render(mesh, params.camera()).color
    square = (np.clip(color, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return Drawing("front", Path("front.png"), SIZE, square, square, False, (1.0, 0.0, 0.0))


def landmarks_of(model: ProxyModel, params: ViewParams, wrist_visibility: float) -> DrawnLandmarks:
    """mediapipe's landmarks where ``params`` puts the joints (the person's left = the proxy's left)."""
    joints = model.joints(params)
    points = np.zeros((33, 2))
    visibility = np.zeros(33)
    for side in ("left", "right"):
        for name, bone, seen in (
            ("shoulder", "UpperArm", 1.0),
            ("elbow", "LowerArm", 0.9),
            ("wrist", "Hand", wrist_visibility),
            ("hip", "UpperLeg", 1.0),
        ):
            points[INDEX[f"{side}_{name}"]] = _pixels(params, SIZE, joints[f"{side}{bone}"][None])[0]
            visibility[INDEX[f"{side}_{name}"]] = seen
    return DrawnLandmarks(points, visibility)


def frontal(params: ViewParams) -> ViewParams:
    """What the silhouette search leaves: the same frontal angles, every segment in the frontal plane."""
    return params.with_values(**dict.fromkeys(FORWARD_FIELDS, 0.0))


def view_of(model, objective, truth: ViewParams, start: ViewParams, wrist_visibility: float) -> ViewFit:
    drawing = drawing_of(model, truth)
    view = ViewFit(
        drawing,
        start,
        landmarks_of(model, truth, wrist_visibility),
        "landmarks",
        target_coverage(drawing),
        hair_target(drawing),
    )
    view.score = objective.score(model, view)
    return view


def test_a_forward_tilt_turns_the_segment_out_of_the_frontal_plane(model):
    """The upper arm's direction is (cos f cos a, -cos f sin a, sin f) for angle a below the
    horizontal and tilt f towards the front (+z), on the left (+x) side."""
    for a, f in ((40.0, 0.0), (80.0, 35.0), (60.0, -25.0)):
        joints = model.joints(ViewParams(left_arm=a, left_arm_forward=f))
        d = joints["leftLowerArm"] - joints["leftUpperArm"]
        d /= np.linalg.norm(d)
        ar, fr = math.radians(a), math.radians(f)
        np.testing.assert_allclose(
            d, [math.cos(fr) * math.cos(ar), -math.cos(fr) * math.sin(ar), math.sin(fr)], atol=1e-6
        )


def test_flipping_a_view_swaps_the_arms_tilts():
    flipped_params = flipped(CROSSED.with_values(left_arm_forward=10.0, right_elbow_forward=-20.0))
    assert flipped_params.right_arm_forward == 10.0
    assert flipped_params.left_elbow_forward == -20.0


def _joints_off(model, found: ViewParams, truth: ViewParams, on_screen: bool = False) -> float:
    """The farthest elbow or wrist from the truth's: in metres, or on screen in the picture's sizes."""
    a, b = model.joints(found), model.joints(truth)
    keys = [f"{side}{bone}" for side in ("left", "right") for bone in ("LowerArm", "Hand")]
    if on_screen:
        return float(
            np.linalg.norm(
                _pixels(truth, SIZE, np.array([a[k] for k in keys]))
                - _pixels(truth, SIZE, np.array([b[k] for k in keys])),
                axis=1,
            ).max()
            / SIZE
        )
    return max(float(np.linalg.norm(a[k] - b[k])) for k in keys)


def test_crossed_arms_are_posed_in_front_of_the_chest(model, objective):
    start = frontal(CROSSED)
    view = view_of(model, objective, CROSSED, start, wrist_visibility=0.8)
    assert _joints_off(model, start, CROSSED) > 0.1  # the frontal arms sit inside the torso
    placements = place_arms_in_depth(objective, model, view)
    assert sorted((p.side, p.drawn) for p in placements) == [("left", "front"), ("right", "front")]
    # where the drawing has them on screen; their depth is only told by which side they are on
    assert _joints_off(model, view.params, CROSSED, on_screen=True) < 0.012
    assert _joints_off(model, view.params, CROSSED) < 0.1  # metres
    joints = model.joints(view.params)
    chest_z = joints["upperChest"][2]
    for side in ("left", "right"):
        assert joints[f"{side}Hand"][2] > chest_z + 0.1  # the forearm crosses in front


def test_hands_behind_the_back_are_posed_behind_it(model, objective):
    start = frontal(BEHIND)
    view = view_of(model, objective, BEHIND, start, wrist_visibility=0.0)
    placements = place_arms_in_depth(objective, model, view)
    assert sorted((p.side, p.drawn) for p in placements) == [("left", "behind"), ("right", "behind")]
    joints = model.joints(view.params)
    for side in ("left", "right"):
        assert joints[f"{side}Hand"][2] < joints["hips"][2] - 0.05
    assert _joints_off(model, view.params, BEHIND, on_screen=True) < 0.012
    assert _joints_off(model, view.params, BEHIND) < 0.1


def test_a_seen_hand_with_a_low_score_counts_as_drawn_where_skin_is_under_it(model, objective):
    """mediapipe scores drawn wrists low; skin at the wrist still says the hand is drawn there."""
    start = frontal(CROSSED)
    view = view_of(model, objective, CROSSED, start, wrist_visibility=0.05)
    drawn = {p.side: p.drawn for p in place_arms_in_depth(objective, model, view)}
    assert "front" in drawn.values()


def test_arms_the_outline_sees_are_left_to_the_silhouette(model, objective):
    """An arm held out to the side is in the outline; a landmark that disagrees (mediapipe
    wrong) would move it off the drawing, so the silhouette's pose is kept."""
    truth = ViewParams(**FRAME, left_arm=20.0, right_arm=20.0)
    view = view_of(model, objective, truth, truth, wrist_visibility=0.9)
    wrong = view.landmarks.points.copy()
    wrong[INDEX["left_wrist"]] = view.landmarks.point("left_shoulder") + [0.0, 60.0]
    wrong[INDEX["left_elbow"]] = view.landmarks.point("left_shoulder") + [0.0, 30.0]
    view.landmarks = DrawnLandmarks(wrong, view.landmarks.visibility)
    placements = place_arms_in_depth(objective, model, view)
    assert {p.side: p.drawn for p in placements} == {"left": "kept", "right": "kept"}
    assert view.params == truth
