"""The status bar: pipeline phase, fps, per-stage milliseconds, end-to-end latency and warnings.

Fed a `SessionSnapshot` by the window's timer a few times a second; it only formats.
"""

from __future__ import annotations

from PyQt6.QtWidgets import QLabel, QStatusBar

from avatar_app.pipeline.status import ordered_stages

PHASE_COLOURS = {"running": "#188038", "starting": "#b06000", "stopping": "#b06000", "failed": "#d93025"}


def stage_text(stages_ms) -> str:
    return (
        " · ".join(f"{name} {stages_ms[name]['p50_ms']:.1f}" for name in ordered_stages(stages_ms)) + " ms"
        if stages_ms
        else ""
    )


def warnings_for(snapshot, extra: list[str] = ()) -> list[str]:
    """What deserves the user's eye: a failure, a source that is not simply running, extra notes."""
    warnings = []
    if snapshot.phase in ("failed", "running") and snapshot.message:  # running: changed weights that did not load
        warnings.append(snapshot.message)
    status = snapshot.status
    if status is not None and status.source not in ("running", "") and snapshot.phase == "running":
        warnings.append(f"source: {status.source}")
    warnings.extend(extra)
    return warnings


class StatsBar(QStatusBar):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.phase = QLabel("stopped")
        self.fps = QLabel("")
        self.stages = QLabel("")
        self.latency = QLabel("")
        self.warnings = QLabel("")
        self.warnings.setStyleSheet("color: #b06000;")
        for label, stretch in ((self.phase, 0), (self.fps, 0), (self.stages, 0), (self.latency, 0), (self.warnings, 1)):
            self.addWidget(label, stretch)

    def show_snapshot(self, snapshot, extra_warnings: list[str] = ()) -> None:
        phase = snapshot.phase
        text = phase if phase not in ("starting", "stopping") else f"{phase}: {snapshot.message}"
        self.phase.setText(f"● {text}")
        self.phase.setStyleSheet(f"color: {PHASE_COLOURS.get(phase, '#5f6368')};")
        status = snapshot.status
        live = status is not None and phase == "running"
        self.fps.setText(f"{status.fps:.1f} fps" if live else "")
        self.stages.setText(stage_text(status.stages_ms) if live else "")
        self.stages.setToolTip(self._drops(status) if status is not None else "")
        lat = status.latency_ms if live else {}
        self.latency.setText(f"latency {lat['p50_ms']:.0f} ms (p95 {lat['p95_ms']:.0f})" if lat else "")
        warnings = warnings_for(snapshot, extra_warnings)
        self.warnings.setText(" | ".join(w.splitlines()[0] for w in warnings))
        self.warnings.setToolTip("\n\n".join(warnings))

    @staticmethod
    def _drops(status) -> str:
        return "frames dropped (newer ones replaced them): " + ", ".join(f"{k} {v}" for k, v in status.dropped.items())
