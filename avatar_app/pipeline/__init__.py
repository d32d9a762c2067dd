"""The hot loop: source -> pose -> rig + spring bones -> UDP raster -> render -> sinks.

* `build_pipeline(PipelineSettings(...))`: the one way the CLI, the window and the
  benchmarks build a pipeline (``builder.py``); `LiveSession` (``session.py``) is the
  window's worker that starts and stops them.
* `LivePipeline(source, renderer, sinks, character=..., size=...)`: named threads joined
  by latest-value slots, per-stage timings, end-to-end latency, fps, clean shutdown
  (see ``live.py`` for the thread layout and the error policy).
* Sources (`PoseSource`): `MotionSource` (demo motion, BVH), `VmcSource`,
  `CameraPoseSource` (webcam/video -> mediapipe -> retarget), `UdpDetectorSource`.
* Renderers (`AvatarRenderer`): `ConrRenderer` (the product), `ProxyRenderer` (the
  rig's flat colours; previews, and the fallback when no trained weights are found) and
  `UdpRenderer` (the UDP map itself).
* `parse_source_spec` / `parse_sink_spec` / `open_source` / `open_sink`: what the CLI's
  ``--source`` and ``--sink`` mean.
"""

from avatar_app.pipeline.builder import Loaders, PipelineSettings, build_pipeline
from avatar_app.pipeline.camera_sources import CameraPoseSource, UdpDetectorSource, letterbox
from avatar_app.pipeline.live import LiveFrame, LivePipeline
from avatar_app.pipeline.renderers import AvatarRenderer, ConrRenderer, ProxyRenderer, UdpRenderer
from avatar_app.pipeline.sources import IDLE_POSE, MotionSource, PoseHold, PoseSample, PoseSource, Ticker, VmcSource
from avatar_app.pipeline.specs import SinkSpec, SourceSpec, open_sink, open_source, parse_sink_spec, parse_source_spec
from avatar_app.pipeline.status import FpsMeter, PipelineStatus, format_stage_table, format_status_line

__all__ = [
    "IDLE_POSE",
    "AvatarRenderer",
    "CameraPoseSource",
    "ConrRenderer",
    "FpsMeter",
    "LiveFrame",
    "LivePipeline",
    "MotionSource",
    "PipelineStatus",
    "PoseHold",
    "PoseSample",
    "PoseSource",
    "Loaders",
    "PipelineSettings",
    "ProxyRenderer",
    "SinkSpec",
    "SourceSpec",
    "Ticker",
    "UdpDetectorSource",
    "UdpRenderer",
    "VmcSource",
    "build_pipeline",
    "format_stage_table",
    "format_status_line",
    "letterbox",
    "open_sink",
    "open_source",
    "parse_sink_spec",
    "parse_source_spec",
]
