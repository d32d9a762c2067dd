"""Tracking sources: webcam capture, pose/face landmarks, VMC receiver, smoothing.

Heavy or optional libraries (mediapipe, python-osc) are imported inside the
modules that need them, so importing this package stays cheap.
"""
