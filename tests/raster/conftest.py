"""One headless GL context for the raster tests; tests skip (with the fix) where none can be made."""

from __future__ import annotations

import pytest

from avatar_app.core.errors import DeviceError
from avatar_app.raster import Rasterizer, create_headless_context


@pytest.fixture(scope="session")
def gl_context():
    try:
        ctx = create_headless_context()
    except DeviceError as exc:
        pytest.skip(str(exc))
    yield ctx
    ctx.release()


@pytest.fixture(scope="module")
def make_rasterizer(gl_context):
    """Rasterizers on the shared context (the path the Qt GUI takes), closed after the module."""
    made = []

    def make(size, **kwargs) -> Rasterizer:
        # A test that made its own context may have left that one current.
        gl_context.__enter__()
        rasterizer = Rasterizer(size, ctx=gl_context, **kwargs)
        made.append(rasterizer)
        return rasterizer

    yield make
    gl_context.__enter__()
    for rasterizer in made:
        rasterizer.close()
