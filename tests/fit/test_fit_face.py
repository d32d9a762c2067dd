"""The drawn face tells the front of a drawing from its back (a silhouette cannot), on real
drawings and on the rig's own drawings of held-out characters seen from both sides."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from avatar_app.fit.drawing import load_drawings
from avatar_app.fit.face import DrawnFace, find_face
from avatar_app.fit.proxy import ProxyModel
from avatar_app.raster.camera import yaw_view_dir
from avatar_app.raster.framing import cut_height, drawing_camera
from avatar_app.raster.rasterizer import Rasterizer

SIZE = 512
CASES = 30


def head_box_on(camera, model: ProxyModel, params) -> tuple[float, float, float, float]:
    """The proxy's head (every vertex above the neck) in the drawing's pixels, widened as the fit does."""
    vertices = model.vertices(params)
    head = vertices[vertices[:, 1] > model.joints(params)["neck"][1] + 0.02]
    right, up, _ = camera.basis()
    scale = (SIZE / 2) / camera.half_height
    cols = SIZE / 2 + (head - np.array(camera.target)) @ right * scale
    rows = SIZE / 2 - (head - np.array(camera.target)) @ up * scale
    w, h = cols.max() - cols.min(), rows.max() - rows.min()
    return cols.min() - 0.2 * w, rows.min() - 0.1 * h, cols.max() + 0.2 * w, rows.max() + 0.05 * h


@pytest.fixture(scope="module")
def seen_from_both_sides(load_tool):
    """{"front": [DrawnFace], "back": [DrawnFace]} for held-out characters drawn by the rig."""
    tool = load_tool("evaluate_fit")
    found = {"front": [], "back": []}
    with Rasterizer(SIZE) as rasterizer:
        for k in range(CASES):
            case = tool.make_case(k, 1)
            model = ProxyModel(case["style"])
            front = (7.0 * k) % 50.0 - 25.0  # square on to 25 degrees off, either way
            for side, turn in (("front", 0.0), ("back", 180.0)):
                params = replace(case["params"], yaw=front + turn)
                drawing = tool.draw(dict(case, params=params), rasterizer)
                vertices = model.vertices(params)
                cut = None if case["framing"] == "full" else cut_height(model.character, case["framing"])
                camera = drawing_camera(vertices, cut, view_dir=yaw_view_dir(params.yaw))
                found[side].append(find_face(drawing, head_box_on(camera, model, params)))
    return found


def test_no_back_of_a_head_is_taken_for_a_face(seen_from_both_sides):
    kinds = [f.kind for f in seen_from_both_sides["back"]]
    assert "face" not in kinds, kinds
    assert kinds.count("back") >= 0.8 * CASES, kinds


def test_the_front_shows_a_face_and_never_the_back_of_a_head(seen_from_both_sides):
    kinds = [f.kind for f in seen_from_both_sides["front"]]
    assert "back" not in kinds, kinds
    assert kinds.count("face") >= 0.75 * CASES, kinds


@pytest.mark.parametrize("character", ["eileen", "sylvie"])
def test_real_drawings_show_their_faces_mirrored_too(character, request):
    for drawing in load_drawings(request.getfixturevalue(character), SIZE):
        rgba = np.concatenate([drawing.straight_rgb(), drawing.square[..., 3:]], axis=2)
        alpha = drawing.mask
        rows, cols = np.nonzero(alpha.any(axis=1))[0], np.nonzero(alpha.any(axis=0))[0]
        # the head: the top third of a knee-up drawing, its middle half across
        box = (cols[0] + 0.2 * np.ptp(cols), rows[0], cols[-1] - 0.2 * np.ptp(cols), rows[0] + 0.35 * np.ptp(rows))
        mirrored_box = (SIZE - box[2], box[1], SIZE - box[0], box[3])
        for picture, where in ((rgba, box), (np.ascontiguousarray(rgba[:, ::-1]), mirrored_box)):
            face = find_face(picture, where)
            assert face.kind == "face" and face.features >= 2, (drawing.name, face)


def test_a_face_allows_front_turns_and_refuses_the_back():
    square_on = DrawnFace("face", offset=0.02, features=4)
    assert square_on.allows(10.0) and square_on.allows(-60.0) and not square_on.allows(180.0)
    to_the_left = DrawnFace("face", offset=-0.6, features=2)  # the face at the head's left: yaw > 0
    assert to_the_left.allows(70.0) and not to_the_left.allows(-70.0)
    back = DrawnFace("back", skin_share=0.0)
    assert back.allows(170.0) and not back.allows(0.0)
    assert DrawnFace("unknown").allows(0.0) and DrawnFace("unknown").allows(180.0)
