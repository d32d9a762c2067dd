"""Tracking sources: webcam capture, pose/face landmarks, VMC receiver, smoothing, the microphone's mouth.

Heavy or optional libraries (mediapipe, python-osc, sounddevice) are imported inside the
modules that need them, so importing this package stays cheap.
"""
