"""Making a headless OpenGL context, or saying exactly why we cannot.

moderngl is imported here and in rasterizer.py only, lazily, so importing
``avatar_app.raster`` (cameras, meshes) never needs GL.
"""

from __future__ import annotations

import logging
import os

from avatar_app.core.errors import DeviceError

log = logging.getLogger(__name__)

REQUIRED_GL_VERSION = 330
GL_PACKAGES = "libegl1 libgl1 libgles2 libegl-mesa0 libgl1-mesa-dri"


def create_headless_context():
    """Return a new standalone moderngl context (EGL first, then GLX when a display exists).

    glcontext >= 2.4 opens an EGL *device* display, which needs no window
    system. Older glcontext asks for the default display, which Mesa binds to
    X11 and which fails without ``DISPLAY``; ``EGL_PLATFORM=surfaceless``
    redirects that to the surfaceless platform. We set it only when the user
    has not and no window system is around, so a Qt/X11 session keeps its own.
    """
    try:
        import moderngl
    except ImportError as exc:
        raise DeviceError(f"OpenGL: the moderngl package is missing ({exc}). Fix: pip install moderngl") from exc

    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("EGL_PLATFORM", "surfaceless")

    attempts = [("egl", {"backend": "egl"})]
    if os.environ.get("DISPLAY"):
        attempts.append(("x11/glx", {}))
    reasons = []
    for name, kwargs in attempts:
        try:
            ctx = moderngl.create_standalone_context(require=REQUIRED_GL_VERSION, **kwargs)
        # glcontext reports a missing library or a failed eglInitialize as a
        # plain Exception, so nothing narrower catches it.
        except Exception as exc:  # noqa: BLE001
            reasons.append(f"{name}: {exc}")
            continue
        log.info("OpenGL context via %s: %s, GL %s", name, ctx.info.get("GL_RENDERER"), ctx.version_code)
        return ctx
    raise DeviceError(
        "OpenGL: expected a headless OpenGL 3.3+ context, found none ("
        + "; ".join(reasons)
        + f"). Fix: install Mesa's EGL/GL drivers: apt-get install {GL_PACKAGES}"
    )
