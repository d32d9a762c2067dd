"""The previews: the output over a checkerboard (alpha shows), with camera and UDP-map insets.

Painted as QImages in QLabels (QOpenGLWidget would need an X server). The window's timer
hands in numpy pictures; nothing here runs on a pipeline thread.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QSize, Qt
from PyQt6.QtGui import QImage, QPixmap
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from avatar_app.pipeline import pictures


def qimage_from_rgb(rgb: np.ndarray) -> QImage:
    """uint8 RGB [H, W, 3] -> a QImage that owns its pixels."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class ImageLabel(QLabel):
    """A QLabel that shows the newest picture scaled to fit (aspect kept), or a placeholder text."""

    def __init__(self, placeholder: str = "", minimum: QSize | None = None, parent=None):
        super().__init__(placeholder, parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(QSize(96, 72) if minimum is None else minimum)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setStyleSheet("QLabel { background: #202124; color: #9aa0a6; border-radius: 4px; }")
        self.setWordWrap(True)
        self._placeholder = placeholder
        self._image: QImage | None = None
        self.pictures_shown = 0  # how many pictures it has been given (tests, stats)

    def set_picture(self, rgb: np.ndarray) -> None:
        self._image = qimage_from_rgb(rgb)
        self.pictures_shown += 1
        self._rescale()

    def clear_picture(self, text: str | None = None) -> None:
        self._image = None
        self.clear()
        self.setText(self._placeholder if text is None else text)

    @property
    def has_picture(self) -> bool:
        return self._image is not None

    def picture(self) -> QImage | None:
        return self._image

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._image is None:
            return
        target = self.contentsRect().size()
        if target.width() < 2 or target.height() < 2:
            return
        pixmap = QPixmap.fromImage(self._image).scaled(
            target, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        self.setPixmap(pixmap)


def _captioned(caption: str, widget: QWidget) -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    label = QLabel(caption)
    label.setStyleSheet("color: palette(mid); font-size: 11px;")
    layout.addWidget(label)
    layout.addWidget(widget, 1)
    return box


class PreviewView(QWidget):
    """The output (checkerboard behind it) and, below, the camera with landmarks and the UDP map."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.output = ImageLabel("no frames yet", QSize(256, 256))
        self.output.setToolTip("What the outputs get, over a checkerboard where the avatar is transparent")
        self.camera = ImageLabel("camera: not used by this source", QSize(160, 120))
        self.camera.setToolTip("The camera picture the pose is read from, with the tracked landmarks")
        self.udp = ImageLabel("UDP map", QSize(120, 120))
        self.udp.setToolTip("The UDP map the renderer gets: rest-pose x, y, z as red, green, blue")

        insets = QHBoxLayout()
        insets.setSpacing(8)
        insets.addWidget(_captioned("Camera + landmarks", self.camera), 4)
        insets.addWidget(_captioned("UDP map", self.udp), 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(_captioned("Output", self.output), 4)
        inset_box = QWidget()
        inset_box.setLayout(insets)
        inset_box.setMaximumHeight(200)
        layout.addWidget(inset_box, 1)

    def show_frame(self, premultiplied: np.ndarray) -> None:
        self.output.set_picture(pictures.over_checkerboard(premultiplied))

    def show_camera(self, rgb: np.ndarray, landmarks=None) -> None:
        self.camera.set_picture(pictures.camera_picture(rgb, landmarks))

    def show_udp(self, udp: np.ndarray) -> None:
        self.udp.set_picture(pictures.udp_picture(udp))

    def reset_insets(self, camera_text: str) -> None:
        self.camera.clear_picture(camera_text)
        self.udp.clear_picture()
