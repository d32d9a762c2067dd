"""The drawn colour pass on the GL side: a G-buffer draw of a :class:`DrawnLook`, then the edge pass.

The UDP pass is not touched: the rasterizer draws it as always, and this pass draws the
colour of the same mesh and camera on its own framebuffers (one more geometry pass, which
on llvmpipe costs about as much as the UDP pass). Cel shading needs the posed normals: they
are recomputed from the posed positions (area-weighted, three ``bincount`` s) whenever the
mesh's version changes, and uploaded with them.
"""

from __future__ import annotations

import weakref

import numpy as np

from avatar_app.core.errors import InputError
from avatar_app.raster.drawn_glsl import DRAWN_FRAGMENT, DRAWN_VERTEX, EDGES_FRAGMENT, EDGES_VERTEX
from avatar_app.raster.drawn_look import DrawnLook

# a rest-position jump this large between neighbouring pixels is a contour (plus the pixels' own spread)
REST_JUMP_M = 0.03


def posed_normals(positions: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals float32 [V,3] (unit length; zero for unused vertices)."""
    p = positions.astype(np.float32, copy=False)
    a, b, c = p[triangles[:, 0]], p[triangles[:, 1]], p[triangles[:, 2]]
    face = np.cross(b - a, c - a)
    corners = triangles.reshape(-1)
    out = np.empty((len(p), 3), np.float32)
    for axis in range(3):
        out[:, axis] = np.bincount(corners, np.repeat(face[:, axis], 3), minlength=len(p))
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norm, out=out, where=norm > 0)
    return out


class _LookBuffers:
    """GL buffers of one (mesh, look) pair: the look's static data and the posed normals."""

    def __init__(self, ctx, program, positions_buffer, index_buffer, look: DrawnLook, normals: np.ndarray):
        self.normals = ctx.buffer(normals, dynamic=True)
        self.static = [
            ctx.buffer(look.rest_m),
            ctx.buffer(np.ascontiguousarray(look.fields[:, :4])),
            ctx.buffer(np.ascontiguousarray(look.fields[:, 4:])),
            ctx.buffer(np.ascontiguousarray(look.groups)),
        ]
        rest, field0, field1, groups = self.static
        self.vao = ctx.vertex_array(
            program,
            [
                (positions_buffer, "3f", "in_position"),
                (rest, "3f", "in_rest"),
                (field0, "4f", "in_field0"),
                (field1, "4f", "in_field1"),
                (self.normals, "3f", "in_normal"),
                (groups, "1f", "in_group"),
            ],
            index_buffer,
            index_element_size=4,
        )
        self.version = -1

    def release(self) -> None:
        for obj in [self.vao, self.normals, *self.static]:
            obj.release()


class DrawnPass:
    """G-buffer and programs of the drawn look at one size (owned by a Rasterizer)."""

    def __init__(self, ctx, width: int, height: int, depth):
        self.ctx, self.width, self.height = ctx, width, height
        self.program = ctx.program(vertex_shader=DRAWN_VERTEX, fragment_shader=DRAWN_FRAGMENT)
        self.edges = ctx.program(vertex_shader=EDGES_VERTEX, fragment_shader=EDGES_FRAGMENT)
        size = (width, height)
        self.color = ctx.texture(size, 4, dtype="f4")
        self.geom = ctx.texture(size, 4, dtype="f4")
        self.depth_copy = ctx.texture(size, 4, dtype="f4")
        self.final = ctx.texture(size, 4, dtype="f4")
        for texture in (self.color, self.geom, self.depth_copy):
            texture.filter = (ctx.NEAREST, ctx.NEAREST)
        self.gbuffer = ctx.framebuffer([self.color, self.geom, self.depth_copy], depth)
        self.output = ctx.framebuffer([self.final])
        corners = np.array([[-1.0, -1.0], [3.0, -1.0], [-1.0, 3.0]], np.float32)  # one triangle covers the screen
        self.corners = ctx.buffer(corners)
        self.screen = ctx.vertex_array(self.edges, [(self.corners, "2f", "in_corner")])
        for unit, name in enumerate(("color_tex", "geom_tex", "depth_tex")):
            if name in self.edges:
                self.edges[name].value = unit
        self._objects = [self.screen, self.corners, self.gbuffer, self.output]
        self._objects += [self.color, self.geom, self.depth_copy, self.final, self.program, self.edges]

    def buffers(self, gpu_mesh, mesh, look: DrawnLook) -> _LookBuffers:
        if look.num_vertices != mesh.num_vertices:
            raise InputError(
                "Rasterizer.render(look)",
                f"a DrawnLook of this mesh ({mesh.num_vertices} vertices)",
                f"one of {look.num_vertices} vertices",
                "build the look from the character the mesh was made of (full resolution)",
            )
        entry = gpu_mesh.looks.get(id(look))
        if entry is None or entry[0]() is not look:
            if entry is not None:
                entry[1].release()
            normals = posed_normals(mesh.positions, mesh.triangles)
            buffers = _LookBuffers(self.ctx, self.program, gpu_mesh.positions, gpu_mesh.buffers[2], look, normals)
            buffers.version = mesh.version
            gpu_mesh.looks[id(look)] = (weakref.ref(look), buffers)
            return buffers
        buffers = entry[1]
        if buffers.version != mesh.version:
            buffers.normals.write(posed_normals(mesh.positions, mesh.triangles))
            buffers.version = mesh.version
        return buffers

    def render(self, gpu_mesh, mesh, look: DrawnLook, camera, matrix_bytes: bytes, out: np.ndarray) -> None:
        """Draw ``look`` on ``mesh`` (positions already uploaded) into ``out`` (premultiplied RGBA)."""
        buffers = self.buffers(gpu_mesh, mesh, look)
        ctx, program, style = self.ctx, self.program, look.style
        right, up, forward = camera.basis()
        light = np.asarray(style.light, dtype=np.float64)
        light_world = light[0] * right + light[1] * up - light[2] * forward
        line_px = style.line_weight * self.height / 256.0
        values = dict(look.uniforms)
        values.update(
            view_dir=tuple(forward),
            light_dir=tuple(light_world / np.linalg.norm(light_world)),
            line_px=float(line_px),
            line_color=tuple(float(v) for v in style.line_color),
        )
        program["view_projection"].write(matrix_bytes)
        for name, value in values.items():
            if name in program:
                program[name].value = value
        self.gbuffer.use()
        self.gbuffer.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        buffers.vao.render(ctx.TRIANGLES, vertices=gpu_mesh.index_count)

        metres_per_px = 2.0 * getattr(camera, "half_height", 1.0) / self.height
        edges = self.edges
        for name, value in (
            ("line_px", float(line_px)),
            ("rest_jump", REST_JUMP_M + 2.0 * metres_per_px * line_px),
            ("line_color", tuple(float(v) for v in style.line_color)),
            ("line_tint", float(style.line_tint)),
        ):
            if name in edges:
                edges[name].value = value
        self.output.use()
        ctx.disable(ctx.DEPTH_TEST)
        self.color.use(0)
        self.geom.use(1)
        self.depth_copy.use(2)
        self.screen.render(ctx.TRIANGLES, vertices=3)
        ctx.enable(ctx.DEPTH_TEST)
        self.final.read_into(out)

    def release(self) -> None:
        for obj in self._objects:
            obj.release()
        self._objects = []
