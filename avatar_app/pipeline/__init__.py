"""The hot loop: source -> pose -> rig + spring bones -> UDP raster -> render -> sinks.

* `LivePipeline(source, renderer, sinks, character=..., size=...)`: named threads joined
  by latest-value slots, per-stage timings, end-to-end latency, fps, clean shutdown
  (see ``live.py`` for the thread layout and the error policy).
* Sources (`PoseSource`): `MotionSource` (demo motion, BVH), `VmcSource`,
  `CameraPoseSource` (webcam/video -> mediapipe -> retarget), `UdpDetectorSource`.
* Renderers (`AvatarRenderer`): `ConrRenderer` (the product) and `ProxyRenderer` (the
  rig's flat colours; previews, and the fallback when no trained weights are found).
* `parse_source_spec` / `parse_sink_spec` / `open_source` / `open_sink`: what the CLI's
  ``--source`` and ``--sink`` mean.
"""

from avatar_app.pipeline.camera_sources import CameraPoseSource, UdpDetectorSource, letterbox
from avatar_app.pipeline.live import LiveFrame, LivePipeline
from avatar_app.pipeline.renderers import AvatarRenderer, ConrRenderer, ProxyRenderer
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
    "ProxyRenderer",
    "SinkSpec",
    "SourceSpec",
    "Ticker",
    "UdpDetectorSource",
    "VmcSource",
    "format_stage_table",
    "format_status_line",
    "letterbox",
    "open_sink",
    "open_source",
    "parse_sink_spec",
    "parse_source_spec",
]
