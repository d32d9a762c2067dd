"""Where TensorRT engines live and when they must be rebuilt (DESIGN.md §5 "TensorRT").

An engine is tied to its ONNX graph, its shape profile, its precision, the TensorRT
version that built it and the GPU's compute capability. The cache key is a SHA-256 over
all of them; each engine ``engines/<graph>-<key16>.engine`` has a JSON sidecar
``.engine.json`` recording the same fields, so :func:`validate` can say *why* an engine
is stale (each differing field, old -> new). No TensorRT needed here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from avatar_app.core.atomic import write_text_atomic

__all__ = [
    "DEFAULT_PROFILE",
    "EngineSpec",
    "file_sha256",
    "engine_paths",
    "write_sidecar",
    "read_sidecar",
    "validate",
    "lookup",
]

SIDECAR_FORMAT = 1
DEFAULT_PROFILE = {"min": 1, "opt": 4, "max": 8}  # view counts (the batch dimension)


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class EngineSpec:
    """Everything an engine depends on. ``profile``: views min/opt/max."""

    onnx_sha256: str
    precision: str
    tensorrt_version: str
    compute_capability: str  # "8.9"
    profile: dict = field(default_factory=lambda: dict(DEFAULT_PROFILE))
    graph: str = "frame_renderer"

    @classmethod
    def for_onnx(
        cls, onnx_path, precision: str, tensorrt_version: str, compute_capability: str, profile=None, graph=None
    ):
        onnx_path = Path(onnx_path)
        return cls(
            file_sha256(onnx_path),
            precision,
            str(tensorrt_version),
            str(compute_capability),
            dict(profile or DEFAULT_PROFILE),
            graph or onnx_path.stem,
        )

    def fields(self) -> dict:
        d = asdict(self)
        d["profile"] = {k: int(d["profile"][k]) for k in ("min", "opt", "max")}
        return d

    @property
    def key(self) -> str:
        text = json.dumps(self.fields(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def engine_paths(directory, spec: EngineSpec) -> tuple[Path, Path]:
    """``(engine, sidecar)`` paths for ``spec`` under ``directory`` (normally ``engines/``)."""
    engine = Path(directory) / f"{spec.graph}-{spec.key[:16]}.engine"
    return engine, engine.with_name(engine.name + ".json")


def write_sidecar(path, spec: EngineSpec, **extra) -> Path:
    """Write the sidecar atomically (``extra``: build seconds, host, ... informational only)."""
    data = {"format": SIDECAR_FORMAT, "key": spec.key, **spec.fields(), "info": extra}
    return write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True))


def read_sidecar(path) -> dict | None:
    """The sidecar's fields, or None if missing or unreadable."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def validate(sidecar: dict | None, current: EngineSpec) -> list[str]:
    """Reasons the engine described by ``sidecar`` must be rebuilt for ``current`` (empty: reuse it)."""
    if sidecar is None:
        return ["no engine sidecar (never built, or unreadable)"]
    if sidecar.get("format") != SIDECAR_FORMAT:
        return [f"sidecar format: {sidecar.get('format')} -> {SIDECAR_FORMAT}"]
    reasons = []
    for name, new in current.fields().items():
        old = sidecar.get(name)
        if name == "profile" and isinstance(old, dict):
            for k in ("min", "opt", "max"):
                if old.get(k) != new[k]:
                    reasons.append(f"profile.{k}: {old.get(k)} -> {new[k]}")
        elif old != new:
            if name == "onnx_sha256":
                old, new = (str(old)[:12] if old else old), new[:12]
            reasons.append(f"{name}: {old} -> {new}")
    return reasons


def lookup(directory, spec: EngineSpec) -> tuple[Path, list[str]]:
    """``(engine path, reasons to rebuild)``; reasons is empty when the engine can be used.

    When no engine matches ``spec``, the reasons compare against the newest engine built
    for the same graph, so the log says what changed (a new driver's GPU, a re-export...).
    """
    engine, sidecar = engine_paths(directory, spec)
    if engine.is_file():
        return engine, validate(read_sidecar(sidecar), spec)
    others = sorted(Path(directory).glob(f"{spec.graph}-*.engine.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for other in others:
        data = read_sidecar(other)
        if data is not None:
            return engine, validate(data, spec)
    return engine, [f"no engine built yet for {spec.graph}"]
