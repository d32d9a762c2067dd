"""Character helpers: UDP coordinates of a known shape, moving and re-centring."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from avatar_app.rig import Character, SkinnedMesh, recentred, rest_udp_coordinates, translated

from rig_helpers import bar_character, chain_skeleton


def _box_character() -> Character:
    corners = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (0.0, 2.0) for z in (-0.25, 0.25)])
    skel = chain_skeleton(1, root=(0.0, 1.0, 0.0))
    tris = [(0, 1, 2), (1, 3, 2), (4, 6, 5), (5, 6, 7)]
    mesh = SkinnedMesh(corners, tris, np.zeros((8, 1)), np.ones((8, 1)), np.linalg.inv(skel.rest_world_matrices))
    return Character(skel, mesh, name="box")


def test_udp_coordinates_of_a_box():
    udp = rest_udp_coordinates(_box_character())
    corners = _box_character().mesh.positions
    np.testing.assert_allclose(
        udp, np.stack([corners[:, 0] / 2 + 0.5, corners[:, 1] / 2, corners[:, 2] / 2 + 0.5], axis=1), atol=1e-7
    )


def test_udp_calibration_hook_permutes_and_flips_axes():
    box = _box_character()
    plain = rest_udp_coordinates(box)
    swap_xz_flip_y = np.array([[0, 0, 1, 0], [0, -1, 0, 1], [1, 0, 0, 0]], dtype=float)
    np.testing.assert_allclose(
        rest_udp_coordinates(box, swap_xz_flip_y),
        np.stack([plain[:, 2], 1 - plain[:, 1], plain[:, 0]], axis=1),
        atol=1e-7,
    )


def test_udp_coordinates_do_not_depend_on_where_the_character_stands():
    box = _box_character()
    moved = translated(box, [3.0, -1.0, 0.5])
    np.testing.assert_allclose(moved.rest_vertices(), box.rest_vertices() + [3.0, -1.0, 0.5], atol=1e-6)
    np.testing.assert_allclose(rest_udp_coordinates(moved), rest_udp_coordinates(box), atol=1e-6)


def test_recentred_puts_feet_on_the_floor():
    c = recentred(translated(bar_character(), [1.0, 2.0, 3.0]))
    lo, hi = c.rest_bounds()
    np.testing.assert_allclose([(lo[0] + hi[0]) / 2, lo[1], (lo[2] + hi[2]) / 2], 0.0, atol=1e-6)


def test_importing_the_rig_pulls_in_no_gl_qt_or_torch():
    code = (
        "import sys, avatar_app.rig; bad = {'torch', 'moderngl', 'PyQt6', 'cv2'} & set(sys.modules); print(sorted(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
