"""Live level of detail: fewer triangles over the same vertices, nearly the same UDP picture."""

import numpy as np
import pytest

from avatar_app.raster.character_view import CharacterView
from avatar_app.raster.lod import decimate_triangles

pytest.importorskip("mannequin")


@pytest.fixture(scope="module")
def character():
    from avatar_app.rig import build_default_avatar

    return build_default_avatar()


def test_reduced_triangles_index_the_original_vertices(character):
    mesh = character.mesh
    tri = decimate_triangles(character.rest_vertices(), mesh.triangles, mesh.part_ids, 0.75)
    assert tri.dtype == np.int32 and tri.min() >= 0 and tri.max() < len(mesh.positions)
    assert 0.2 * len(mesh.triangles) < len(tri) < 0.4 * len(mesh.triangles)
    assert np.all((tri[:, 0] != tri[:, 1]) & (tri[:, 1] != tri[:, 2]) & (tri[:, 0] != tri[:, 2]))


def test_zero_reduction_is_the_exact_mesh(character):
    tri = decimate_triangles(character.rest_vertices(), character.mesh.triangles, character.mesh.part_ids, 0.0)
    np.testing.assert_array_equal(tri, character.mesh.triangles)


def test_reduced_mesh_draws_nearly_the_same_udp_map(character):
    rest = character.rest_vertices()
    with CharacterView(character, 256, reduction=0.0) as full, CharacterView(character, 256, reduction=0.75) as live:
        a = full.render_vertices(rest, udp_only=True).udp
        b = live.render_vertices(rest, udp_only=True).udp
    ma, mb = a[..., 3] > 0, b[..., 3] > 0
    assert (ma & mb).sum() / (ma | mb).sum() > 0.97
    diff = np.abs(a[ma & mb, :3] - b[ma & mb, :3])
    assert np.median(diff) < 2e-3 and np.percentile(diff, 99) < 0.03
