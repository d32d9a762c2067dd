"""The window's settings, kept between runs as a small TOML file in the user config directory.

Read with ``tomllib``; written by the tiny writer below (flat tables of strings, whole
numbers, floats and booleans are all we store). A value of the wrong type or an unknown
key is ignored with a warning, so an old or hand-edited file never stops the app.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path

log = logging.getLogger(__name__)

FILE_NAME = "settings.toml"
APP_DIR = "avatar_app"


@dataclass
class AppSettings:
    # [character]
    character: str = ""  # a character folder or a .glb/.vrm body; "" = the built-in character
    framing: str = ""  # full | knee | waist | bust; "" = the character's own (from its fit)
    sheet_dir: str = ""  # "" = the character's sheet
    # [source]
    source: str = "demo"  # demo | webcam | vmc | motion | video
    camera: str = "0"  # a camera index or a device path
    vmc_port: int = 39539
    motion_file: str = ""
    video_file: str = ""
    udp_detector: bool = False
    springs: bool = True  # spring-bone physics (hair, skirt)
    # [render]
    renderer: str = "auto"  # auto | conr | proxy
    backend: str = "torch-cpu"
    precision: str = "fp32"
    size: int = 256  # the frames' (output) size
    internal_size: int = 0  # CoNR's own size; 0 = the measured default for the size (PipelineSettings.internal_size)
    views: int = 0  # 0 = every view of the sheet
    frames_in_flight: int = 1  # CoNR on the CPU: frames rendered at once (PipelineSettings.frames_in_flight)
    inbetween: str = ""  # "" = off | repeat | warp (PipelineSettings.inbetween)
    # [output]
    virtual_camera: bool = False
    virtual_camera_backend: str = ""  # "" = the first pyvirtualcam backend that works
    record_dir: str = ""  # "" = ~/Videos if it exists, else the home folder
    browser_source: bool = False
    browser_port: int = 8765
    background: str = "#00ff00"  # behind the avatar where an output has no alpha
    # [mic]
    mic: bool = False  # the mouth from the microphone (PipelineSettings.mic)
    mic_device: str = ""  # a device's name, or file:PATH.wav; "" = the system's default input
    mic_gain_db: float = 0.0
    mic_gate_db: float = -45.0
    # [control]
    hotkeys: str = ""  # a line per key: KEY EXPRESSION MODE [SECONDS] (pipeline.hotkeys)
    api: bool = False  # the local control API (pipeline.control_api)
    api_port: int = 8770
    api_remote: bool = False  # listen on every interface, not 127.0.0.1 only
    # [live]
    autostart: bool = True
    fps: float = 30.0
    idle_life: bool = True  # a lost or idle source breathes and sways (PipelineSettings.idle_life)
    # [window]
    width: int = 1180
    height: int = 760


SECTIONS = {
    "character": ("character", "framing", "sheet_dir"),
    "source": ("source", "camera", "vmc_port", "motion_file", "video_file", "udp_detector", "springs"),
    "render": ("renderer", "backend", "precision", "size", "internal_size", "views", "frames_in_flight", "inbetween"),
    "output": (
        "virtual_camera",
        "virtual_camera_backend",
        "record_dir",
        "browser_source",
        "browser_port",
        "background",
    ),
    "mic": ("mic", "mic_device", "mic_gain_db", "mic_gate_db"),
    "control": ("hotkeys", "api", "api_port", "api_remote"),
    "live": ("autostart", "fps", "idle_life"),
    "window": ("width", "height"),
}
assert sorted(k for keys in SECTIONS.values() for k in keys) == sorted(f.name for f in fields(AppSettings))


def default_settings_path() -> Path:
    """``$XDG_CONFIG_HOME/avatar_app/settings.toml`` (else the platform's config folder)."""
    base = os.environ.get("XDG_CONFIG_HOME")
    if not base:
        if sys.platform == "win32":
            base = os.environ.get("APPDATA") or str(Path.home() / "AppData" / "Roaming")
        elif sys.platform == "darwin":
            base = str(Path.home() / "Library" / "Application Support")
        else:
            base = str(Path.home() / ".config")
    return Path(base) / APP_DIR / FILE_NAME


def load_settings(path: Path) -> tuple[AppSettings, list[str]]:
    """(settings, warnings). A missing file gives the defaults; a broken one too, with a warning."""
    settings = AppSettings()
    if not path.is_file():
        return settings, []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return settings, [f"settings file {path} is unreadable ({exc}); using the defaults"]
    warnings = []
    types = {f.name: type(getattr(settings, f.name)) for f in fields(AppSettings)}
    for section, values in data.items():
        known = SECTIONS.get(section)
        if known is None or not isinstance(values, dict):
            warnings.append(f"settings file {path}: unknown section [{section}] ignored")
            continue
        for key, value in values.items():
            if key not in known:
                warnings.append(f"settings file {path}: unknown key {section}.{key} ignored")
                continue
            want = types[key]
            if want is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if type(value) is not want:
                warnings.append(
                    f"settings file {path}: {section}.{key} should be {want.__name__}, found {value!r}; "
                    f"using {getattr(settings, key)!r}"
                )
                continue
            if want is float and not math.isfinite(value):  # TOML's nan/inf: the writer cannot hold them
                warnings.append(
                    f"settings file {path}: {section}.{key} should be a finite number, found {value!r}; "
                    f"using {getattr(settings, key)!r}"
                )
                continue
            setattr(settings, key, value)
    for warning in warnings:
        log.warning("%s", warning)
    return settings, warnings


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"TOML cannot hold {value!r} here")
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        escaped = "".join(c if c >= " " and c != "\x7f" else f"\\u{ord(c):04x}" for c in escaped)
        return f'"{escaped}"'
    raise TypeError(f"cannot write {type(value).__name__} to the settings file")


def dumps(settings: AppSettings) -> str:
    values = asdict(settings)
    blocks = []
    for section, keys in SECTIONS.items():
        blocks.append(f"[{section}]\n" + "".join(f"{key} = {toml_value(values[key])}\n" for key in keys))
    return "# avatar_app settings (written by the app; edit while it is closed)\n\n" + "\n".join(blocks)


def save_settings(settings: AppSettings, path: Path) -> None:
    """Write atomically (a crash mid-write leaves the old file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(dumps(settings), encoding="utf-8")
    os.replace(tmp, path)
