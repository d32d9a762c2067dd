"""The shipped default character: its sheet, its exact UDP maps, its symmetry."""

import sys
from pathlib import Path

import numpy as np
import pytest

from avatar_app.io.sheet import load_sheet
from avatar_app.io.udp import load_udp
from avatar_app.rig import load_gltf

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "assets" / "characters" / "default"
sys.path.insert(0, str(ROOT / "tools"))


@pytest.fixture(scope="module")
def character():
    return load_gltf(DEFAULT / "avatar.glb")


@pytest.fixture(scope="module")
def rerendered(character):
    from make_default_avatar import render_sheet

    return render_sheet(character, 512)


def test_sheet_loads_as_four_transparent_views():
    sheet = load_sheet(DEFAULT / "sheet", size=256)
    assert sheet.num_views == 4
    coverage = sheet.alpha.reshape(4, -1).mean(axis=1) / 255
    assert np.all((coverage > 0.05) & (coverage < 0.6)), coverage


def reference_udp(vertices, triangles, camera, size: int) -> np.ndarray:
    """The UDP map [S,S,4] an orthographic ``camera`` should see, by casting each pixel centre's ray in numpy.

    Independent of the rasterizer: the UDP of a surface point is its rest position in the unit cube of
    DESIGN §4 (x/H + 0.5, y/H, z/H + 0.5 about the rest bounding box), interpolated over the nearest
    triangle whose projection contains the pixel centre. Uses only the camera's eye, target, up and
    half_height.
    """
    v = np.asarray(vertices, np.float64)
    lo, hi = v.min(axis=0), v.max(axis=0)
    height, centre = hi[1] - lo[1], 0.5 * (lo + hi)
    vertex_udp = np.stack(
        [(v[:, 0] - centre[0]) / height + 0.5, (v[:, 1] - lo[1]) / height, (v[:, 2] - centre[2]) / height + 0.5], axis=1
    )
    eye, target, up = (np.asarray(x, np.float64) for x in (camera.eye, camera.target, camera.up))
    forward = (target - eye) / np.linalg.norm(target - eye)
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    true_up = np.cross(right, forward)
    col = ((v - target) @ right / camera.half_height + 1.0) * 0.5 * size  # square image: half width = half height
    row = (1.0 - (v - target) @ true_up / camera.half_height) * 0.5 * size
    depth = (v - eye) @ forward
    tri = np.asarray(triangles)
    tc, tr = col[tri], row[tri]  # [T, 3] corners in pixels
    # every (triangle, pixel centre in its bounding box) pair, then the barycentric inside test
    i0 = np.maximum(np.ceil(tc.min(1) - 0.5).astype(int), 0)
    i1 = np.minimum(np.floor(tc.max(1) - 0.5).astype(int), size - 1)
    j0 = np.maximum(np.ceil(tr.min(1) - 0.5).astype(int), 0)
    j1 = np.minimum(np.floor(tr.max(1) - 0.5).astype(int), size - 1)
    nx, ny = np.maximum(i1 - i0 + 1, 0), np.maximum(j1 - j0 + 1, 0)
    n = nx * ny
    t = np.repeat(np.arange(len(tri)), n)
    k = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    px, py = i0[t] + k % nx[t], j0[t] + k // nx[t]
    x, y = px + 0.5, py + 0.5
    ax, ay, bx, by, cx, cy = tc[t, 0], tr[t, 0], tc[t, 1], tr[t, 1], tc[t, 2], tr[t, 2]
    area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
    ok = np.abs(area) > 1e-12
    wa = ((bx - x) * (cy - y) - (by - y) * (cx - x)) / np.where(ok, area, 1.0)
    wb = ((cx - x) * (ay - y) - (cy - y) * (ax - x)) / np.where(ok, area, 1.0)
    wc = 1.0 - wa - wb
    inside = ok & (wa >= 0) & (wb >= 0) & (wc >= 0)
    t, px, py, w = t[inside], px[inside], py[inside], np.stack([wa, wb, wc], 1)[inside]
    z = (w * depth[tri[t]]).sum(1)
    pixel = py * size + px
    order = np.lexsort((z, pixel))  # per pixel, nearest first
    nearest = order[np.r_[True, pixel[order][1:] != pixel[order][:-1]]]
    out = np.zeros((size * size, 4))
    out[pixel[nearest], :3] = np.einsum("nk,nkc->nc", w[nearest], vertex_udp[tri[t[nearest]]])
    out[pixel[nearest], 3] = 1.0
    return out.reshape(size, size, 4)


@pytest.fixture(scope="module")
def references(character):
    """{view name: the numpy ray-cast UDP map} for the sheet's cameras (the camera placement is checked below)."""
    from make_default_avatar import sheet_view_names

    from avatar_app.raster.character_view import sheet_cameras

    cameras = sheet_cameras(character)
    rest, triangles = character.rest_vertices(), character.mesh.triangles
    return {name: reference_udp(rest, triangles, cam, 512) for name, cam in zip(sheet_view_names(), cameras)}


def _assert_matches_reference(udp: np.ndarray, reference: np.ndarray, what: str) -> None:
    got, want = udp[..., 3] > 0, reference[..., 3] > 0
    # pixel centres exactly on a silhouette edge may go either way: a few dozen of 262144
    assert np.sum(got != want) <= 1e-4 * got.size, f"{what}: {np.sum(got != want)} silhouette pixels differ"
    both = got & want
    error = np.abs(udp[both, :3] - reference[both, :3]).max(axis=1)
    # where two surfaces meet at a pixel centre the nearer one is a tie: allow 0.1 % of pixels
    assert np.mean(error < 1e-4) > 0.999, f"{what}: {np.mean(error >= 1e-4):.4%} of pixels off"


def test_the_rasterizer_sees_the_rest_position_of_the_surface_each_pixel_ray_hits(rerendered, references):
    for name, _, udp in rerendered:
        _assert_matches_reference(udp, references[name], f"rendered {name}")


def test_stored_udp_maps_hold_the_rest_position_of_the_surface_each_pixel_ray_hits(references):
    for name, reference in references.items():
        _assert_matches_reference(load_udp(DEFAULT / "sheet_udp" / f"{name}.npz").data, reference, f"stored {name}")


def test_stored_sheet_alpha_is_the_ray_cast_silhouette(references):
    import cv2

    for name, reference in references.items():
        alpha = cv2.imread(str(DEFAULT / "sheet" / f"{name}.png"), cv2.IMREAD_UNCHANGED)[..., 3] > 127
        # antialiased edges: only pixels the silhouette edge crosses may differ
        assert np.mean(alpha == (reference[..., 3] > 0)) > 0.995, name


def test_sheet_cameras_look_from_the_front_side_and_back(references):
    """Front on +z with the character's left (+x) on the image's right; the back view mirrored; side from +x."""
    rows, cols = np.indices((512, 512))

    def facing(name):
        udp = references[name]
        covered = udp[..., 3] > 0
        x, z = udp[covered, 0], udp[covered, 2]
        return np.corrcoef(cols[covered], x)[0, 1], np.corrcoef(cols[covered], z)[0, 1], np.median(z), np.median(x)

    front, back, side = facing("0_front"), facing("3_back"), facing("2_side")
    assert front[0] > 0.9 and front[2] > 0.5, front  # x grows to the right; the near (+z) half is seen
    assert back[0] < -0.9 and back[2] < 0.5, back
    assert side[1] < -0.9 and side[3] > 0.5, side  # from +x: +z (the face) to the left, the +x half seen


def test_stored_udp_maps_are_in_the_unit_cube_with_zero_background():
    for path in sorted((DEFAULT / "sheet_udp").glob("*.npz")):
        d = load_udp(path).data
        covered = d[..., 3] > 0
        assert d[~covered].max() == 0.0
        assert d[covered][:, :3].min() >= 0.0 and d[covered][:, :3].max() <= 1.0
        assert set(np.unique(d[..., 3])) == {0.0, 1.0}


def test_front_view_is_mirror_symmetric(rerendered):
    """Flip the front view left-right and map x' -> 1 - x': the same picture.

    Tolerance: the mannequin-x torso itself is up to 16 mm asymmetric (~0.01 in UDP
    units at 1.7 m), so we bound the silhouette IoU and the median/99th percentile.
    """
    _, _, udp = rerendered[0]
    mirrored = udp[:, ::-1].copy()
    mirrored[..., 0] = np.where(mirrored[..., 3] > 0, 1.0 - mirrored[..., 0], 0.0)
    a, b = udp[..., 3] > 0, mirrored[..., 3] > 0
    assert (a & b).sum() / (a | b).sum() > 0.98
    diff = np.abs(udp[a & b, :3] - mirrored[a & b, :3])
    assert np.median(diff) < 2e-3
    assert np.percentile(diff, 99) < 0.03


def test_shipped_character_stands_centred_symmetric_and_facing_the_front(character):
    """Facts of the design, not of our own output: feet on y = 0, about 1.7 m tall, centred, left-right mirror
    symmetric, left hand on +x, face toward +z, with spring chains."""
    from scipy.spatial import cKDTree

    from avatar_app.rig import forward_kinematics

    rest = character.rest_vertices()
    lo, hi = rest.min(axis=0), rest.max(axis=0)
    assert abs(lo[1]) < 1e-6 and 1.5 < hi[1] - lo[1] < 1.9, (lo, hi)
    np.testing.assert_allclose(lo[[0, 2]], -hi[[0, 2]], atol=1e-3)
    distance, _ = cKDTree(rest).query(rest * [-1.0, 1.0, 1.0])
    assert np.percentile(distance, 99) < 0.01 and distance.max() < 0.02  # the torso is up to 16 mm asymmetric
    skeleton = character.skeleton
    joints = forward_kinematics(skeleton, skeleton.rest_pose())[:, :3, 3]
    at = {bone: joints[character.humanoid[bone]] for bone in ("head", "hips", "leftHand", "rightHand")}
    assert at["leftHand"][0] > 0.3 and at["rightHand"][0] < -0.3
    assert at["head"][1] > at["hips"][1] + 0.4
    nose = rest[np.argmax(np.where(rest[:, 1] > at["head"][1], rest[:, 2], -np.inf))]  # frontmost point of the head
    assert nose[2] > at["head"][2] + 0.05 and abs(nose[0]) < 0.02, nose
    assert len(character.springs.chains) > 0
