"""The voxel-grid lookup of the drawn colours: the k-d tree's answer, read per frame in two gathers."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from avatar_app.infer.drawn_detail import DrawnDetail
from avatar_app.infer.udp_grid import UdpColourGrid
from avatar_app.io.sheet import load_sheet
from avatar_app.io.sheet_udp import load_sheet_udp
from avatar_app.pipeline.defaults import DEFAULT_CHARACTER


def test_a_colour_that_is_a_function_of_the_point_is_read_back_within_half_a_cell():
    """Dense drawn points coloured by position: the grid's answer is the colour of a drawn point
    at most half a cell's diagonal (plus half the points' spacing) from the asked one."""
    rng = np.random.default_rng(0)
    points = rng.uniform(0.3, 0.7, (20000, 3)).astype(np.float32)
    colours = points.copy()  # colour = position: an error in the lookup is an error in colour
    cells = 256
    grid = UdpColourGrid(cKDTree(points), colours, reach=0.02, cells=cells)
    asked = rng.uniform(0.35, 0.65, (5000, 3)).astype(np.float32)
    colour, covered = grid.lookup(asked)
    assert covered.all()
    spacing = 0.4 / 20000 ** (1 / 3)  # mean spacing of the points
    bound = 0.5 * np.sqrt(3) / cells + spacing + 0.5 / 255
    assert np.abs(colour - asked).max(axis=1).max() < bound + spacing  # the nearest point's own spread
    far = np.array([[0.05, 0.05, 0.05], [0.5, 0.5, 0.95], [-3.0, 7.0, 0.5]], np.float32)  # out of reach or grid
    assert not grid.lookup(far)[1].any()


def test_the_grid_gives_the_trees_colours_on_the_default_character():
    """The default character's four drawn views, each view's own UDP map as the frame (points on the
    body the drawings show): grid and tree agree on which pixels are drawn and on their colour.
    Tolerance: at most 0.5% of the visible pixels covered by one and not the other (the reach's edge,
    half a cell out); where both cover a pixel a mean colour difference under 1.5/255 for the plain
    grid (it answers for its cell's centre: the next drawn pixel), and under 3/255 for the app's grid,
    which where views overlap takes the first view's drawing (the tree: whichever view is nearest)."""
    size = 256
    sheet = load_sheet(DEFAULT_CHARACTER / "sheet", size=size)
    udp, _ = load_sheet_udp(DEFAULT_CHARACTER / "sheet_udp", sheet.names, size)
    ranked = DrawnDetail(sheet.rgb_premultiplied, sheet.alpha, udp)
    tree = DrawnDetail(sheet.rgb_premultiplied, sheet.alpha, udp, grid_cells=None)
    plain = UdpColourGrid(tree.tree, tree.colours, tree.reach)
    assert ranked.grid is not None and tree.grid is None
    for view in udp:
        frame = np.ascontiguousarray(view.transpose(1, 2, 0))
        visible = frame[..., 3] > 0.5
        colour_t, covered_t = tree.coverage(frame)
        assert covered_t.sum() > 0.5 * visible.sum()
        colour_p, covered_p = plain.lookup(frame[..., :3])
        colour_r, covered_r = ranked.coverage(frame)
        for colour, covered, bound in ((colour_p, covered_p & visible, 1.5), (colour_r, covered_r, 3.0)):
            assert (covered != covered_t).sum() <= 0.005 * visible.sum()
            both = covered & covered_t
            assert np.abs(colour[both] - colour_t[both]).mean() < bound / 255


def test_where_two_views_draw_the_same_points_the_first_views_drawing_is_shown_not_a_dither():
    rng = np.random.default_rng(4)
    surface = rng.uniform(0.4, 0.6, (4000, 3)).astype(np.float32)
    surface[:, 2] = 0.5
    other = surface + rng.normal(0, 0.001, surface.shape).astype(np.float32)  # the same surface, redrawn
    points = np.concatenate([surface, other])
    colours = np.concatenate([np.tile([[1.0, 0.0, 0.0]], (4000, 1)), np.tile([[0.0, 0.0, 1.0]], (4000, 1))])
    rank = np.repeat([0, 1], 4000)
    asked = np.concatenate([rng.uniform(0.42, 0.58, (2000, 2)), np.full((2000, 1), 0.5)], 1).astype(np.float32)
    colour, covered = UdpColourGrid(cKDTree(points), colours, 0.02, 256, rank=rank).lookup(asked)
    assert covered.all() and (colour[:, 0] == 1.0).mean() > 0.98  # red, but where 4 blues are nearer than a red
    dither, _ = UdpColourGrid(cKDTree(points), colours, 0.02, 256).lookup(asked)
    assert 0.2 < dither[:, 2].mean() < 0.8  # unranked: red and blue pixel by pixel


def test_blocks_filled_when_first_read_give_what_filling_them_all_at_once_gives():
    rng = np.random.default_rng(3)
    points = rng.uniform(0.3, 0.7, (5000, 3)).astype(np.float32)
    colours = rng.uniform(0, 1, (5000, 3)).astype(np.float32)
    tree = cKDTree(points)
    lazy = UdpColourGrid(tree, colours, reach=0.02, cells=128)
    eager = UdpColourGrid(tree, colours, reach=0.02, cells=128, lazy=False)
    assert lazy.filled.sum() == 1 and eager.filled.all()  # lazy: only the empty block so far
    asked = rng.uniform(0.25, 0.75, (3000, 3)).astype(np.float32)
    for got, want in zip(lazy.lookup(asked), eager.lookup(asked)):
        np.testing.assert_array_equal(got, want)
    assert 1 < lazy.filled.sum() < len(lazy.filled)  # the blocks those points read, not all
