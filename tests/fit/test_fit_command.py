"""`avatar-app fit` end to end on real drawings, then the character it made, used."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from avatar_app.cli.main import main
from avatar_app.fit.run import fit_folder
from avatar_app.fit.search import FitCancelled
from avatar_app.io.character_folder import open_character_folder
from avatar_app.io.sheet import load_sheet
from avatar_app.io.udp import load_udp
from avatar_app.io.udp_sequence import iter_udp_sequence

SIZE = 128


@pytest.fixture(scope="module")
def eileen_character(tmp_path_factory, eileen):
    out = tmp_path_factory.mktemp("characters") / "eileen"
    assert main(["fit", "--sheet", str(eileen), "--out", str(out), "--size", str(SIZE), "--rounds", "1"]) == 0
    return out


def test_fit_writes_a_character_folder(eileen_character, eileen):
    folder = open_character_folder(eileen_character)
    # three drawings of one pose: one view (the calm face) and two expression sheets of it
    assert sorted(p.name for p in folder.sheet_dir.iterdir()) == ["expressions", "happy.png"]
    expressions = folder.sheet_dir / "expressions"
    assert sorted(p.name for p in expressions.iterdir()) == ["mouth_open", "sad"]
    for name, source in (("mouth_open", "very_happy_mouth_open.png"), ("sad", "concerned.png")):
        assert (expressions / name / "happy.png").read_bytes() == (eileen / source).read_bytes()
    assert (eileen_character / "fit.png").is_file() and folder.avatar.is_file()
    assert (eileen_character / "layers.png").is_file()  # the body under her arms, filled (fit.layers)
    assert folder.framing in ("waist", "knee"), "Eileen is drawn down to the thighs"
    info = json.loads((eileen_character / "character.json").read_text())
    assert info["made_by"]["tool"] == "avatar-app fit" and len(info["views"]) == 1
    assert all(v["start"] == "landmarks" for v in info["views"])
    assert info["views"][0]["face"].startswith("a face"), info["views"][0]["face"]
    assert abs(info["views"][0]["params"]["yaw"]) < 35.0, "Eileen is drawn from the front"


def test_each_views_udp_lines_up_with_the_sheet_as_loaded(eileen_character):
    folder = open_character_folder(eileen_character)
    sheet = load_sheet(folder.sheet_dir, size=SIZE)
    for k, view in enumerate(folder.views):
        udp = load_udp(folder.sheet_udp_dir / (view["file"].split("/")[-1][:-4] + ".npz")).data
        assert udp.shape == (SIZE, SIZE, 4)
        drawn = sheet.alpha[k, 0] >= 128
        proxy = udp[..., 3] > 0.5
        overlap = (drawn & proxy).sum() / (drawn | proxy).sum()
        assert overlap >= 0.85, f"{view['file']}: the proxy covers the drawing (IoU {overlap:.3f})"
        assert view["iou"] >= 0.85


def test_render_with_the_character_uses_its_body_and_framing(eileen_character, tmp_path, capsys):
    out = tmp_path / "frames"
    code = main(
        ["render", "--character", str(eileen_character), "--frames", "2", "--size", str(SIZE), "--out", str(out)]
    )
    assert code == 0
    assert "its fitted proxy body" in capsys.readouterr().err
    assert len(list(out.glob("*.png"))) == 2


def test_udp_with_the_character_is_framed_like_its_drawings(eileen_character, tmp_path):
    framed, full = tmp_path / "framed", tmp_path / "full"
    base = ["udp", "--motion", "demo", "--frames", "1", "--size", str(SIZE), "--character", str(eileen_character)]
    assert main([*base, "--out", str(framed)]) == 0
    assert main([*base, "--framing", "full", "--out", str(full)]) == 0
    (a,), (b,) = ([u.data for u in iter_udp_sequence(p)] for p in (framed, full))
    rows_a = np.nonzero(a[..., 3].max(axis=1) > 0.5)[0]
    assert rows_a[-1] == SIZE - 1, "a waist-up picture is cut off at its bottom edge"
    assert a[..., 3].sum() > 1.5 * b[..., 3].sum(), "closer framing: the body fills more of the picture"


def test_a_cancelled_fit_writes_nothing(eileen, tmp_path):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(FitCancelled):
        fit_folder(eileen, tmp_path / "never", size=SIZE, cancel=cancel)
    assert list(tmp_path.iterdir()) == []


def test_fit_refuses_to_write_over_other_files(eileen, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["fit", "--sheet", str(eileen), "--out", str(tmp_path)]) == 2
    assert "--out" in capsys.readouterr().err and (tmp_path / "notes.txt").read_text() == "mine"


def test_fit_weights_solves_and_saves_the_map_the_raster_then_applies(eileen_character, tmp_path):
    """The official weights cannot be had here: their detector is stood in for by a known map of
    our own sheet UDP (with a fifth of its pixels wrong), which the solver must recover."""
    import shutil

    from avatar_app.fit.official import calibrate_official
    from avatar_app.pipeline import PipelineSettings, build_pipeline
    from avatar_app.pipeline.defaults import DEFAULT_WEIGHTS, udp_map_for
    from avatar_app.pipeline.specs import SourceSpec
    from avatar_app.raster.character_view import raster_mesh
    from avatar_app.rig.character import rest_udp_coordinates

    known = np.array([[0.0, -0.9, 0.0, 0.95], [1.1, 0.0, 0.0, -0.05], [0.0, 0.0, 0.8, 0.1]])
    folder = open_character_folder(eileen_character)
    ours = [load_udp(folder.sheet_udp_dir / (v["file"][6:-4] + ".npz")).data for v in folder.views]
    rng = np.random.default_rng(0)
    answers = []
    for udp in ours:
        theirs = udp.copy()
        theirs[..., :3] = udp[..., :3] @ known[:, :3].T + known[:, 3] * udp[..., 3:4]
        wrong = rng.random(udp.shape[:2]) < 0.2
        theirs[wrong, :3] = rng.random((int(wrong.sum()), 3))
        answers.append(theirs)
    weights = tmp_path / "official"
    shutil.copytree(DEFAULT_WEIGHTS, weights)
    affine = calibrate_official(eileen_character, weights, size=SIZE, detect=lambda view: answers.pop(0))
    assert np.abs(affine.matrix - known).max() < 0.01
    saved = udp_map_for(weights)
    assert saved is not None and np.allclose(saved.matrix, affine.matrix)
    assert "udp_map" in json.loads((eileen_character / "character.json").read_text())

    settings = PipelineSettings(
        SourceSpec("demo"), renderer="conr", sheet_dir=folder.sheet_dir, weights=weights, size=SIZE, max_frames=1
    )
    with build_pipeline(settings) as pipeline:
        character = pipeline.character
    assert character.udp_calibration is not None
    plain = rest_udp_coordinates(character.with_udp_map(None))
    expected = np.clip(plain @ affine.matrix[:, :3].T + affine.matrix[:, 3], 0.0, 1.0)
    assert np.allclose(raster_mesh(character).rest_udp, expected, atol=1e-5)


def skin_blob(path):
    """A person-shaped silhouette in skin with a cap of dark hair: a face with nothing drawn in it
    (no eyes, no mouth), and no person for mediapipe."""
    import cv2

    from fit_helpers import write_rgba

    rgba = np.zeros((400, 200, 4), np.uint8)
    cv2.ellipse(rgba, (100, 50), (34, 40), 0, 0, 360, (240, 200, 170, 255), -1)  # head
    cv2.ellipse(rgba, (100, 42), (36, 34), 0, 180, 360, (70, 45, 30, 255), -1)  # hair on top
    cv2.rectangle(rgba, (60, 90), (140, 250), (240, 200, 170, 255), -1)  # body
    cv2.rectangle(rgba, (65, 250), (95, 390), (240, 200, 170, 255), -1)  # legs
    cv2.rectangle(rgba, (105, 250), (135, 390), (240, 200, 170, 255), -1)
    return write_rgba(path, rgba)


def test_a_view_nothing_tells_the_side_of_is_asked_for_not_guessed(tmp_path, capsys):
    skin_blob(tmp_path / "drawings" / "blob.png")
    base = ["fit", "--sheet", str(tmp_path / "drawings"), "--size", str(SIZE), "--rounds", "0"]
    assert main([*base, "--out", str(tmp_path / "asked")]) == 2
    err = capsys.readouterr().err
    assert "blob.png" in err and "cannot tell the front from the back" in err and "--facing blob=front" in err
    assert not (tmp_path / "asked").exists()
    assert main([*base, "--out", str(tmp_path / "told"), "--facing", "blob=back"]) == 0
    info = json.loads((tmp_path / "told" / "character.json").read_text())
    assert abs(abs(info["views"][0]["params"]["yaw"]) - 180.0) <= 50.0, "the side the user gave"


def test_a_facing_for_a_file_that_is_not_a_view_is_refused(tmp_path, capsys):
    skin_blob(tmp_path / "drawings" / "blob.png")
    code = main(["fit", "--sheet", str(tmp_path / "drawings"), "--out", str(tmp_path / "c"), "--facing", "bob=left"])
    assert code == 2 and "--facing" in capsys.readouterr().err


def test_two_characters_in_one_folder_are_refused(tmp_path, eileen, capsys):
    """Two front views in different colours: Eileen, and Eileen recoloured and moved (another
    character of the same build, drawn in another pose)."""
    import cv2

    from avatar_app.fit.face import skin_mask

    from fit_helpers import read_rgba, write_rgba

    folder = tmp_path / "drawings"
    rgba = read_rgba(eileen / "happy.png")
    write_rgba(folder / "first.png", rgba)
    other = rgba.copy()
    rgb = np.ascontiguousarray(other[..., :3])
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    hsv[..., 0] = (hsv[..., 0].astype(int) + 60) % 180  # hair and clothes turned by 120 degrees of hue
    other[..., :3] = np.where(skin_mask(rgb)[..., None], rgb, cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB))
    other = cv2.warpAffine(other, np.float32([[0.85, 0, 30], [0, 1, 0]]), other.shape[1::-1])  # not a variant
    write_rgba(folder / "second.png", other)
    out = tmp_path / "both"
    assert main(["fit", "--sheet", str(folder), "--out", str(out), "--size", str(SIZE), "--rounds", "0"]) == 2
    err = capsys.readouterr().err
    assert "two front views in different colours: first.png and second.png" in err and "own folder" in err
    assert not out.exists()
