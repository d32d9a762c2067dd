"""The fit's search steps on "drawings" that are proxies rendered by the proxy itself, so the
answer is known: the camera carried to a new shape, the shift search, the other turn, and
the head's size found by the shape search."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from avatar_app.fit.face import DrawnFace
from avatar_app.fit.landmarks import DrawnLandmarks
from avatar_app.fit.objective import WORK_SIZE, Objective, ViewFit
from avatar_app.fit.proxy import ProxyModel, Silhouettes, ViewParams
from avatar_app.fit.search import (
    _same_column,
    align_shift,
    flipped,
    mirrored,
    refine_view,
    try_mirror,
)
from avatar_app.fit.shape_search import ShapeTrial, search_factors
from avatar_app.rig.avatar_style import SHAPE_CONTINUOUS, AvatarStyle
from avatar_app.tracking.pose_layout import NUM_LANDMARKS

START = ViewParams(yaw=0.0, half_height=1.0, centre_y=0.95, left_arm=70.0, right_arm=60.0)


class _Drawn:
    """What the search reads of a drawing here: whether it is cut off at the bottom, and its
    file name's yaw (none)."""

    cut_bottom = False

    def name_yaw(self) -> None:
        return None


@pytest.fixture(scope="module")
def objective():
    with Silhouettes(2 * WORK_SIZE) as silhouettes:
        yield Objective(silhouettes, None, lambda text: None)


def drawn(objective: Objective, model: ProxyModel, params: ViewParams, start: ViewParams) -> ViewFit:
    """A view whose drawing is ``model`` in ``params``, the search starting from ``start``."""
    mask, hair = objective.coverage(model, params)
    view = ViewFit(_Drawn(), start, None, "test", mask, hair)
    view.score = objective.score(model, view)
    return view


def pixel(params: ViewParams, point: np.ndarray) -> np.ndarray:
    return params.camera().project(point[None], 512, 512)[0, :2]


def test_a_carried_camera_keeps_crown_feet_and_hips_on_their_pixels():
    small, big = ProxyModel(AvatarStyle()), ProxyModel(AvatarStyle(head_scale=1.6))
    params = ViewParams(yaw=20.0, half_height=0.8, centre_x=0.05, centre_y=0.9, left_arm=60.0)
    carried = small.carry(params, big, full=True)
    assert carried.half_height != pytest.approx(params.half_height, rel=0.01)  # the head grew: the camera moved

    def anchor_pixels(model: ProxyModel, p: ViewParams) -> np.ndarray:
        """(crown's row, feet's row, hips' column)."""
        crown, feet, _ = model.anchors(p, full=True)
        hips = model.joints(p)["hips"]
        return np.array(
            [pixel(p, hips + [0, crown - hips[1], 0])[1], pixel(p, hips + [0, feet - hips[1], 0])[1], pixel(p, hips)[0]]
        )

    np.testing.assert_allclose(anchor_pixels(small, params), anchor_pixels(big, carried), atol=0.05)


def test_the_shift_search_finds_a_body_placed_off_to_one_side(objective):
    model = ProxyModel(AvatarStyle())
    metres_per_pixel = 2.0 * START.half_height / WORK_SIZE
    start = START.with_values(
        centre_x=START.centre_x + 7 * metres_per_pixel, centre_y=START.centre_y - 3 * metres_per_pixel
    )
    view = drawn(objective, model, START, start)
    assert view.score < 0.85
    align_shift(objective, model, view)
    assert view.params.centre_x == pytest.approx(START.centre_x, abs=0.5 * metres_per_pixel)
    assert view.params.centre_y == pytest.approx(START.centre_y, abs=0.5 * metres_per_pixel)
    assert view.score > 0.99


def test_the_other_turn_is_tried_and_kept_when_it_fits_better(objective):
    model = ProxyModel(AvatarStyle())
    truth = START.with_values(yaw=-30.0)
    assert mirrored(truth).yaw == 30.0 and mirrored(mirrored(truth)) == truth
    assert mirrored(START.with_values(yaw=170.0)).yaw == 190.0  # about the back, not the front
    assert mirrored(START.with_values(yaw=-170.0)).yaw == -190.0  # on its own side: inside the search's range
    assert flipped(START.with_values(yaw=-170.0)).yaw == -10.0
    view = drawn(objective, model, truth, mirrored(truth))
    try_mirror(objective, model, view)
    assert view.params.yaw == pytest.approx(-30.0, abs=4.0)


def test_a_view_started_from_behind_turns_to_the_front_its_face_shows(objective):
    model = ProxyModel(AvatarStyle())
    truth = START.with_values(yaw=-15.0, left_arm=55.0, right_arm=80.0)
    back = flipped(truth)
    assert back.yaw == 195.0 and (back.left_arm, back.right_arm) == (80.0, 55.0)
    same_outline = drawn(objective, model, truth, _same_column(model, truth, back))
    assert objective.silhouette_iou(model, same_outline) > 0.97  # from behind, the outline is the same
    view = drawn(objective, model, truth, back)
    try_mirror(objective, model, view)
    assert abs(view.params.yaw) < 90.0  # the front, where the hair leaves the face open
    assert view.score > 0.97


def test_a_drawing_with_a_drawn_face_stays_a_front_view(objective):
    model = ProxyModel(AvatarStyle())
    truth = START.with_values(yaw=-15.0, left_arm=55.0, right_arm=80.0)
    behind = flipped(truth)
    view = drawn(objective, model, behind, truth)  # an outline and hair that score best from behind
    plain = replace(view)
    try_mirror(objective, model, plain)
    assert abs(plain.params.yaw) > 90.0  # nothing seen of the face: the score decides, from behind
    view.face = DrawnFace("face", offset=0.0, features=3, skin_share=0.4)
    try_mirror(objective, model, view)
    assert abs(view.params.yaw) <= 90.0  # the face is seen: the front, whatever the outline says


def test_mediapipe_landmarks_alone_do_not_make_a_front_view(objective):
    """mediapipe reports a nose and eyes on the back of a drawn head (godette's back view)."""
    model = ProxyModel(AvatarStyle())
    truth = START.with_values(yaw=-15.0, left_arm=55.0, right_arm=80.0)
    view = drawn(objective, model, flipped(truth), truth)
    visibility = np.full(NUM_LANDMARKS, 0.9)
    view.landmarks = DrawnLandmarks(np.zeros((NUM_LANDMARKS, 2)), visibility)
    view.face = DrawnFace("back", skin_share=0.01)
    try_mirror(objective, model, view)
    assert abs(view.params.yaw) > 90.0


def test_the_shape_search_finds_the_heads_size_the_drawing_has(objective):
    true_scale = 1.55  # on the search's five-point grid over SHAPE_CONTINUOUS["head_scale"]
    assert true_scale in np.round(np.linspace(*SHAPE_CONTINUOUS["head_scale"], 5), 2)
    model = ProxyModel(AvatarStyle(head_scale=true_scale))
    view = drawn(objective, model, START, START)
    refine_view(objective, ProxyModel(AvatarStyle()), view)  # the camera that suits the default head
    trial = ShapeTrial(objective, _Cache(), AvatarStyle(), [view])
    for _ in range(2):  # shape and camera alternate, as in fit_views' rounds
        search_factors(trial, fixed=tuple(n for n in SHAPE_CONTINUOUS if n != "head_scale"))
        refine_view(objective, trial.model, view)
        trial.score = view.score
    assert trial.style.head_scale == pytest.approx(true_scale, abs=0.01)
    assert view.score > 0.95


class _Cache:
    def get(self, style: AvatarStyle) -> ProxyModel:
        return ProxyModel(style)
