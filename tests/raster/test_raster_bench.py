"""The benchmark entry point the lead's tools/bench.py calls."""

from __future__ import annotations

from avatar_app.raster.bench import bench_raster, ellipsoid_mesh


def test_bench_reports_milliseconds_for_each_mode(gl_context):
    results = bench_raster(size=128, n_triangles=2000, repeats=2, color_samples=2)
    assert set(results) == {
        "udp_ms", "udp_min_ms", "udp_color_ms", "udp_color_min_ms", "udp_color_msaa_ms", "udp_color_msaa_min_ms"
    }
    assert all(value > 0 for value in results.values())


def test_bench_mesh_has_about_the_requested_triangle_count():
    for n_triangles in (2000, 50_000):
        mesh = ellipsoid_mesh(n_triangles)
        assert abs(mesh.num_triangles - n_triangles) < 0.02 * n_triangles
        assert mesh.has_colors and mesh.positions[:, 1].min() >= -1e-6  # stands on y = 0
