"""Source and sink specs as the user writes them (``webcam:1``, ``file:out.mp4`` ...) and opening them.

Parsing checks everything that can be checked without a device (syntax, port ranges,
files that must exist) and raises `SettingError` naming the setting and the fix; the
``open_*`` functions then build the objects. The CLI and the GUI share both.

Sources: ``demo``, ``motion:FILE.bvh``, ``webcam[:N]`` (camera index or device path),
``video:FILE``, ``vmc[:PORT]``. Sinks: ``virtualcam``, ``file:PATH`` (.mp4, .avi, or a
folder for PNG frames with alpha), ``browser[:PORT]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from avatar_app.core.errors import SettingError

SOURCE_SYNTAX = "demo, motion:FILE.bvh, webcam[:N], video:FILE or vmc[:PORT]"
SINK_SYNTAX = "virtualcam, file:PATH (.mp4/.avi, or a folder for PNG frames) or browser[:PORT]"
DEFAULT_VMC_PORT = 39539
DEFAULT_BROWSER_PORT = 8765  # a fixed default, so an OBS Browser Source keeps working across runs


@dataclass(frozen=True)
class SourceSpec:
    kind: str  # "demo" | "motion" | "webcam" | "video" | "vmc"
    path: Path | None = None  # motion, video
    camera: int | str | None = None  # webcam: an index or a device path
    port: int | None = None  # vmc

    @property
    def is_camera(self) -> bool:
        return self.kind in ("webcam", "video")

    def __str__(self) -> str:
        detail = self.path or self.camera if self.kind != "vmc" else self.port
        return self.kind if detail is None else f"{self.kind}:{detail}"


@dataclass(frozen=True)
class SinkSpec:
    kind: str  # "virtualcam" | "file" | "browser"
    path: Path | None = None  # file
    port: int | None = None  # browser (0 picks a free port)
    backend: str | None = None  # virtualcam: a pyvirtualcam backend (None: the first that works)


def _split(text: str, setting: str, syntax: str) -> tuple[str, str | None]:
    if not isinstance(text, str) or not text.strip():
        raise SettingError(setting, syntax, repr(text), f"use e.g. {setting} {syntax.split(',')[0]}")
    kind, sep, rest = text.strip().partition(":")
    return kind.lower(), (rest if sep else None)


def parse_port(text: str, setting: str, default_hint: int) -> int:
    try:
        port = int(text)
    except ValueError:
        raise SettingError(setting, "a port number 0..65535", repr(text), f"use e.g. {default_hint}") from None
    if not 0 <= port <= 65535:
        raise SettingError(
            setting, "a port number 0..65535 (0 picks a free one)", str(port), f"use e.g. {default_hint}"
        )
    return port


def _existing_file(text: str | None, setting: str, what: str) -> Path:
    if not text:
        raise SettingError(
            setting, f"{what} after the colon", "nothing", f"write {setting.split()[-1].rstrip(':')}:PATH"
        )
    path = Path(text).expanduser()
    if not path.is_file():
        raise SettingError(setting, f"an existing {what}", f"no such file {path}", "check the path")
    return path


def parse_source_spec(text: str) -> SourceSpec:
    setting = f"--source {text}"
    kind, rest = _split(text, "--source", SOURCE_SYNTAX)
    if kind == "demo" and rest is None:
        return SourceSpec("demo")
    if kind == "motion":
        return SourceSpec("motion", path=_existing_file(rest, setting, "BVH motion file"))
    if kind == "video":
        return SourceSpec("video", path=_existing_file(rest, setting, "video file"))
    if kind == "webcam":
        if rest is None or rest == "":
            return SourceSpec("webcam", camera=0)
        if rest.isdigit():
            return SourceSpec("webcam", camera=int(rest))
        if rest.startswith("/dev/") or "://" in rest:
            return SourceSpec("webcam", camera=rest)
        raise SettingError(
            setting, "webcam, webcam:N (a camera index) or webcam:/dev/videoN", repr(rest), "use e.g. --source webcam:0"
        )
    if kind == "vmc":
        return SourceSpec("vmc", port=DEFAULT_VMC_PORT if not rest else parse_port(rest, setting, DEFAULT_VMC_PORT))
    raise SettingError("--source", SOURCE_SYNTAX, repr(text), "use e.g. --source demo or --source webcam:0")


def parse_sink_spec(text: str) -> SinkSpec:
    setting = f"--sink {text}"
    kind, rest = _split(text, "--sink", SINK_SYNTAX)
    if kind == "virtualcam" and rest is None:
        return SinkSpec("virtualcam")
    if kind == "file":
        if not rest:
            raise SettingError(setting, "file:PATH", "no path", "use e.g. --sink file:out.mp4 or --sink file:frames/")
        path = Path(rest).expanduser()
        if path.suffix.lower() not in ("", ".mp4", ".avi") and not path.is_dir():
            raise SettingError(
                setting,
                "a .mp4 or .avi file, or a folder for PNG frames",
                f"the extension '{path.suffix}'",
                "use .mp4 (plays anywhere), .avi (lossless) or a folder name (PNG frames with alpha)",
            )
        if not path.parent.exists():
            raise SettingError(
                setting, "a path in an existing folder", f"no folder {path.parent}", f"create {path.parent} first"
            )
        return SinkSpec("file", path=path)
    if kind == "browser":
        return SinkSpec(
            "browser", port=DEFAULT_BROWSER_PORT if not rest else parse_port(rest, setting, DEFAULT_BROWSER_PORT)
        )
    raise SettingError("--sink", SINK_SYNTAX, repr(text), "use e.g. --sink virtualcam or --sink file:out.mp4")


def check_unique_sinks(specs: list[SinkSpec]) -> None:
    paths = [s.path.resolve() for s in specs if s.kind == "file"]
    if len(paths) != len(set(paths)):
        raise SettingError(
            "--sink", "each file at most once", "the same file twice", "give each file sink its own path"
        )
    if sum(s.kind == "virtualcam" for s in specs) > 1:
        raise SettingError("--sink", "one virtualcam sink", "virtualcam twice", "drop the second --sink virtualcam")


def open_source(
    spec: SourceSpec, *, fps: float = 30.0, character=None, size: int = 256, detector=None, capture_factory=None
):
    """Build the source a spec names. ``detector`` (a UDPDetector) turns a camera source into a UDP-detector source."""
    from avatar_app.pipeline.sources import MotionSource, VmcSource

    if detector is not None and not spec.is_camera:
        raise SettingError(
            "--udp-detector",
            "a webcam or video source",
            f"--source {spec}",
            "use --source webcam or --source video:FILE",
        )
    if spec.kind == "demo":
        from avatar_app.rig import DemoMotion

        return MotionSource(DemoMotion(), fps, name="demo")
    if spec.kind == "motion":
        from avatar_app.rig import load_bvh

        return MotionSource(load_bvh(spec.path), fps, name=f"motion {spec.path.name}")
    if spec.kind == "vmc":
        return VmcSource(spec.port, fps=fps)
    from avatar_app.pipeline.camera_sources import CameraPoseSource, UdpDetectorSource
    from avatar_app.tracking.capture import CaptureSource

    options = {} if capture_factory is None else {"capture_factory": capture_factory}
    if spec.kind == "video":
        capture = CaptureSource(str(spec.path), **options)
    else:
        capture = CaptureSource(spec.camera, fps=fps, **options)
    if detector is not None:
        source = UdpDetectorSource(capture, detector, size, fps=fps)
        source.name = f"{spec} (UDP detector)"
        return source
    if character is None:
        raise SettingError(
            "camera source", "the character whose skeleton the landmarks drive", "None", "pass character=..."
        )
    source = CameraPoseSource(capture, character.skeleton, fps=fps)
    source.name = str(spec)
    return source


def open_sink(spec: SinkSpec, *, size: int, fps: float = 30.0, background_rgb=(0, 255, 0), host: str = "127.0.0.1"):
    """The one sink factory: the CLI's ``--sink`` and the window's outputs both open theirs here."""
    from avatar_app.outputs import BrowserSourceSink, FileSink, VirtualCameraSink

    if spec.kind == "virtualcam":
        return VirtualCameraSink(size, size, fps=fps, background_rgb=background_rgb, backend=spec.backend)
    if spec.kind == "file":
        return FileSink(spec.path, fps=fps, background_rgb=background_rgb, width=size, height=size)
    return BrowserSourceSink(host, spec.port, max_fps=fps, width=size, height=size)
