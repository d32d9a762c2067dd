"""The OpenGL rasterizer: posed mesh + camera -> UDP map (and a toon colour image).

Why it is built this way:

* The UDP target is RGBA32F with no multisampling and no blending: a UDP pixel
  is a coordinate on the body, and an average of two coordinates across an
  edge is a point on neither surface. Each covered pixel holds the nearest
  surface's interpolated rest-pose xyz exactly, alpha 1; everything else is 0.
* Without antialiasing the colour image comes from the same draw call as a
  second render target, so it costs almost nothing extra (llvmpipe spends its
  time on per-triangle setup, not on fragments). With ``color_samples`` > 0
  colour gets its own multisampled pass and resolve.
* The projection is flipped vertically so GL's bottom-up readback already
  has image row 0 at the top: no per-frame flip copy, arrays stay C-contiguous.
* With a :class:`~avatar_app.raster.drawn_look.DrawnLook` the colour is drawn instead by the
  drawn pass (:mod:`avatar_app.raster.drawn_pass`: colour per fragment from the rest
  position, cel shading, contour lines), after the UDP pass, which stays as it is.
* Static vertex data is uploaded once per mesh; per frame only positions are
  written, and only when :meth:`RasterMesh.update` ran. Framebuffers and the
  numpy readback buffers are allocated once.
"""

from __future__ import annotations

import logging
import threading
import weakref
from dataclasses import dataclass

import numpy as np

from avatar_app.core.errors import InputError, SettingError
from avatar_app.core.frames import UdpMap, check_model_size
from avatar_app.raster.camera import OrthographicCamera, PerspectiveCamera
from avatar_app.raster.context import create_headless_context
from avatar_app.raster.drawn_look import DrawnLook
from avatar_app.raster.drawn_pass import DrawnPass
from avatar_app.raster.mesh import RasterMesh

log = logging.getLogger(__name__)

_VERTEX_SHADER = """
uniform mat4 view_projection;
in vec3 in_position;
#ifdef WITH_UDP
in vec3 in_udp;
out vec3 v_udp;
#endif
#ifdef WITH_COLOR
in vec4 in_color;
out vec4 v_color;
#endif
void main() {
    gl_Position = view_projection * vec4(in_position, 1.0);
#ifdef WITH_UDP
    v_udp = in_udp;
#endif
#ifdef WITH_COLOR
    v_color = in_color;
#endif
}
"""

_FRAGMENT_SHADER = """
#ifdef WITH_UDP
in vec3 v_udp;
layout(location = 0) out vec4 out_udp;
#endif
#ifdef WITH_COLOR
in vec4 v_color;
layout(location = COLOR_LOCATION) out vec4 out_color;
#endif
void main() {
#ifdef WITH_UDP
    out_udp = vec4(v_udp, 1.0);
#endif
#ifdef WITH_COLOR
    out_color = vec4(v_color.rgb * v_color.a, v_color.a);  // premultiplied
#endif
}
"""

# GL clip y up -> image row 0 at the top (see module docstring).
_FLIP_Y = np.diag([1.0, -1.0, 1.0, 1.0])


def _program(ctx, with_udp: bool, with_color: bool):
    defines = "#version 330\n"
    defines += "#define WITH_UDP\n" if with_udp else ""
    defines += f"#define WITH_COLOR\n#define COLOR_LOCATION {1 if with_udp else 0}\n" if with_color else ""
    return ctx.program(vertex_shader=defines + _VERTEX_SHADER, fragment_shader=defines + _FRAGMENT_SHADER)


@dataclass(frozen=True, eq=False)
class RasterResult:
    """One rendered frame: ``udp`` float32 [H, W, 4] and ``color`` premultiplied float32 [H, W, 4] or None.

    Arrays returned by :meth:`Rasterizer.render` without ``out`` are the
    rasterizer's own buffers and are overwritten by its next render: call
    :meth:`copy` (or pass ``out``) to keep a frame, e.g. across threads.
    """

    udp: np.ndarray
    color: np.ndarray | None = None

    def copy(self) -> RasterResult:
        return RasterResult(self.udp.copy(), None if self.color is None else self.color.copy())

    def udp_map(self, timestamp: float = 0.0) -> UdpMap:
        """The UDP as the pipeline's frame type (shares memory; copy first to keep it)."""
        return UdpMap(self.udp, timestamp)


class _GpuMesh:
    """GL buffers and vertex arrays of one RasterMesh."""

    def __init__(self, ctx, programs: dict, mesh: RasterMesh, with_msaa_color: bool):
        self.positions = ctx.buffer(mesh.positions, dynamic=True)
        self.uploaded_version = mesh.version
        self.buffers = [self.positions, ctx.buffer(mesh.rest_udp), ctx.buffer(mesh.triangles)]
        position, udp, index = self.buffers
        self.index_count = mesh.triangles.size
        self.looks: dict = {}  # id(DrawnLook) -> (weakref, buffers), made by the drawn pass
        self.udp_vao = ctx.vertex_array(
            programs["udp"], [(position, "3f", "in_position"), (udp, "3f", "in_udp")], index, index_element_size=4
        )
        self.vertex_arrays = [self.udp_vao]
        self.mrt_vao = self.color_vao = None
        if mesh.colors is not None:
            color = ctx.buffer(mesh.colors)
            self.buffers.append(color)
            self.mrt_vao = ctx.vertex_array(
                programs["udp+color"],
                [(position, "3f", "in_position"), (udp, "3f", "in_udp"), (color, "4f", "in_color")],
                index,
                index_element_size=4,
            )
            self.vertex_arrays.append(self.mrt_vao)
            if with_msaa_color:
                self.color_vao = ctx.vertex_array(
                    programs["color"],
                    [(position, "3f", "in_position"), (color, "4f", "in_color")],
                    index,
                    index_element_size=4,
                )
                self.vertex_arrays.append(self.color_vao)

    def release(self) -> None:
        for _, buffers in self.looks.values():
            buffers.release()
        self.looks = {}
        for obj in self.vertex_arrays + self.buffers:
            obj.release()
        self.vertex_arrays, self.buffers = [], []


class Rasterizer:
    """Renders RasterMesh objects into UDP maps at a fixed model size.

    ``size`` is an int (square) or ``(height, width)``, each a multiple of 128.
    ``ctx`` is an existing moderngl context (e.g. the Qt GUI's, made current
    by its owner before each call); without one the rasterizer creates and
    owns a headless EGL context. ``color_samples`` > 0 antialiases the colour
    image with that many MSAA samples (the UDP is never antialiased).

    Use one Rasterizer from the thread that created it (GL contexts are
    per-thread). Release with :meth:`close` or a ``with`` block. With a
    borrowed context, :meth:`render` leaves its own framebuffer bound and
    depth testing on: a Qt widget rebinds its framebuffer before painting.
    """

    def __init__(self, size, *, ctx=None, color_samples: int = 0):
        if isinstance(size, (tuple, list)) and len(size) == 2:
            self.height = check_model_size(size[0], "raster height")
            self.width = check_model_size(size[1], "raster width")
        else:
            self.height = self.width = check_model_size(size, "raster size")
        if not isinstance(color_samples, int) or color_samples < 0:
            raise SettingError(
                "raster color_samples", "0 (off) or a sample count like 4", repr(color_samples), "use 0 or 4"
            )

        self._owns_ctx = ctx is None
        self.ctx = create_headless_context() if ctx is None else ctx
        self._thread = threading.get_ident()
        self._closed = False
        max_samples = self.ctx.max_samples
        if color_samples > max_samples:
            if self._owns_ctx:
                self.ctx.release()
            raise SettingError(
                "raster color_samples",
                f"at most {max_samples} on this GL driver",
                str(color_samples),
                f"use {max_samples} or 0",
            )
        self.color_samples = color_samples

        import moderngl  # lazily: importing avatar_app.raster must not need GL

        self._moderngl = moderngl
        ctx = self.ctx
        self._programs = {
            "udp": _program(ctx, True, False),
            "udp+color": _program(ctx, True, True),
            "color": _program(ctx, False, True),
        }
        gl_size = (self.width, self.height)
        self._udp_texture = ctx.texture(gl_size, 4, dtype="f4")
        self._color_texture = ctx.texture(gl_size, 4, dtype="f4")
        self._depth = ctx.depth_renderbuffer(gl_size)
        self._udp_fbo = ctx.framebuffer([self._udp_texture], self._depth)
        self._mrt_fbo = ctx.framebuffer([self._udp_texture, self._color_texture], self._depth)
        self._gl_objects = [self._udp_fbo, self._mrt_fbo, self._udp_texture, self._color_texture, self._depth]
        if color_samples:
            self._msaa_color = ctx.renderbuffer(gl_size, 4, samples=color_samples, dtype="f4")
            self._msaa_depth = ctx.depth_renderbuffer(gl_size, samples=color_samples)
            self._msaa_fbo = ctx.framebuffer([self._msaa_color], self._msaa_depth)
            self._resolve_fbo = ctx.framebuffer([self._color_texture])
            self._gl_objects[:0] = [self._msaa_fbo, self._resolve_fbo, self._msaa_color, self._msaa_depth]
        self._gl_objects += list(self._programs.values())

        self._drawn = None  # the drawn pass, made on the first render with a look
        self._result = self.allocate_result()
        self._meshes: dict[int, tuple[weakref.ref, _GpuMesh, weakref.finalize]] = {}
        self._dead_meshes: list[int] = []  # appended by finalizers, released on the GL thread
        log.info(
            "Rasterizer %dx%d on %s (colour MSAA %s)", self.width, self.height, self.renderer, color_samples or "off"
        )

    @property
    def renderer(self) -> str:
        return str(self.ctx.info.get("GL_RENDERER", "unknown"))

    def allocate_result(self, with_color: bool = True) -> RasterResult:
        """Zeroed arrays of this rasterizer's size, suitable as ``render(out=...)``."""
        shape = (self.height, self.width, 4)
        return RasterResult(np.zeros(shape, np.float32), np.zeros(shape, np.float32) if with_color else None)

    def render(
        self,
        mesh: RasterMesh,
        camera,
        *,
        udp_only: bool = False,
        out: RasterResult | None = None,
        look: DrawnLook | None = None,
    ) -> RasterResult:
        """Rasterize ``mesh`` seen by ``camera``; colour too when the mesh has colours and not ``udp_only``.

        With ``look`` (a DrawnLook of this mesh) the colour is the drawn look instead, never
        multisampled: its alpha is the UDP mask exactly. Returns ``out`` (filled) or the
        rasterizer's reused buffers; see RasterResult.
        """
        self._enter()
        if not isinstance(mesh, RasterMesh):
            raise InputError(
                "Rasterizer.render(mesh)", "a RasterMesh", type(mesh).__name__, "wrap arrays in RasterMesh(...)"
            )
        if not isinstance(camera, (OrthographicCamera, PerspectiveCamera)):
            raise InputError(
                "Rasterizer.render(camera)",
                "an OrthographicCamera or PerspectiveCamera",
                type(camera).__name__,
                "use auto_frame(...)",
            )
        if look is not None and not isinstance(look, DrawnLook):
            raise InputError("Rasterizer.render(look)", "a DrawnLook or None", type(look).__name__, "use drawn_look()")
        with_color = (mesh.colors is not None or look is not None) and not udp_only
        result = self._result if out is None else self._check_out(out, with_color)

        gpu = self._gpu_mesh(mesh)
        if gpu.uploaded_version != mesh.version:
            gpu.positions.write(mesh.positions)
            gpu.uploaded_version = mesh.version
        matrix = _FLIP_Y @ camera.view_projection(self.width / self.height)
        matrix_bytes = np.ascontiguousarray(matrix.T, dtype=np.float32).tobytes()  # GL is column-major

        ctx, mgl = self.ctx, self._moderngl
        ctx.enable(mgl.DEPTH_TEST)
        ctx.disable(mgl.BLEND | mgl.CULL_FACE)  # two-sided hair/skirt; UDP must never blend
        ctx.depth_func = "<"

        if with_color and look is not None:
            self._programs["udp"]["view_projection"].write(matrix_bytes)
            self._udp_fbo.use()
            self._udp_fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
            gpu.udp_vao.render(mgl.TRIANGLES, vertices=gpu.index_count)
            self._udp_texture.read_into(result.udp)
            if self._drawn is None:
                self._drawn = DrawnPass(ctx, self.width, self.height, self._depth)
            self._drawn.render(gpu, mesh, look, camera, matrix_bytes, result.color)
        elif with_color and not self.color_samples:
            self._programs["udp+color"]["view_projection"].write(matrix_bytes)
            self._mrt_fbo.use()
            self._mrt_fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
            gpu.mrt_vao.render(mgl.TRIANGLES, vertices=gpu.index_count)
            self._udp_texture.read_into(result.udp)
            self._color_texture.read_into(result.color)
        else:
            self._programs["udp"]["view_projection"].write(matrix_bytes)
            self._udp_fbo.use()
            self._udp_fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
            gpu.udp_vao.render(mgl.TRIANGLES, vertices=gpu.index_count)
            self._udp_texture.read_into(result.udp)
            if with_color:
                self._programs["color"]["view_projection"].write(matrix_bytes)
                self._msaa_fbo.use()
                self._msaa_fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
                gpu.color_vao.render(mgl.TRIANGLES, vertices=gpu.index_count)
                ctx.copy_framebuffer(self._resolve_fbo, self._msaa_fbo)
                self._color_texture.read_into(result.color)
        if with_color:
            return result
        return RasterResult(result.udp, None) if result.color is not None else result

    def forget(self, mesh: RasterMesh) -> None:
        """Release the GL buffers of a mesh now (otherwise when the mesh is garbage-collected)."""
        self._enter()
        entry = self._meshes.pop(id(mesh), None)
        if entry is not None:
            entry[2].detach()
            entry[1].release()

    def close(self) -> None:
        """Release every GL object (and the context, when this rasterizer created it)."""
        if self._closed:
            return
        if self._owns_ctx:
            self.ctx.__enter__()
        for _, gpu, finalizer in self._meshes.values():
            finalizer.detach()
            gpu.release()
        self._meshes.clear()
        for obj in self._gl_objects:
            obj.release()
        self._gl_objects = []
        if self._drawn is not None:
            self._drawn.release()
            self._drawn = None
        if self._owns_ctx:
            self.ctx.release()
        self._closed = True

    def __enter__(self) -> Rasterizer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- internals ---------------------------------------------------------

    def _enter(self) -> None:
        if self._closed:
            raise RuntimeError("Rasterizer: used after close(). Fix: create a new Rasterizer")
        if threading.get_ident() != self._thread:
            raise RuntimeError(
                "Rasterizer: expected calls from the thread that created it, found another thread. "
                "Fix: create the Rasterizer inside the thread that renders"
            )
        if self._owns_ctx:
            # Another rasterizer in this thread may have made its own context current.
            self.ctx.__enter__()

    def _gpu_mesh(self, mesh: RasterMesh) -> _GpuMesh:
        while self._dead_meshes:
            entry = self._meshes.pop(self._dead_meshes.pop(), None)
            if entry is not None:
                entry[1].release()
        key = id(mesh)
        entry = self._meshes.get(key)
        if entry is not None and entry[0]() is mesh:
            return entry[1]
        gpu = _GpuMesh(self.ctx, self._programs, mesh, bool(self.color_samples))
        finalizer = weakref.finalize(mesh, self._dead_meshes.append, key)
        self._meshes[key] = (weakref.ref(mesh), gpu, finalizer)
        log.debug("uploaded mesh: %d vertices, %d triangles", mesh.num_vertices, mesh.num_triangles)
        return gpu

    def _check_out(self, out: RasterResult, with_color: bool) -> RasterResult:
        shape = (self.height, self.width, 4)
        arrays = [("udp", out.udp)] + ([("color", out.color)] if with_color else [])
        for name, array in arrays:
            if (
                not isinstance(array, np.ndarray)
                or array.shape != shape
                or array.dtype != np.float32
                or not array.flags.c_contiguous
                or not array.flags.writeable
            ):
                found = (
                    "None"
                    if array is None
                    else f"{getattr(array, 'dtype', type(array).__name__)} {getattr(array, 'shape', '')}"
                )
                raise InputError(
                    f"Rasterizer.render(out.{name})",
                    f"a writable C-contiguous float32 array {shape}",
                    found,
                    "allocate it with Rasterizer.allocate_result()",
                )
        return out
