"""The committed mediapipe model bundle: what tools/build_mediapipe_tasks.py promises (no mediapipe needed)."""

from __future__ import annotations

import hashlib
import json
import zipfile

from avatar_app.tracking.landmarks import DEFAULT_POSE_MODEL


def test_bundled_task_file_is_a_stored_zip_matching_its_manifest():
    manifest = json.loads((DEFAULT_POSE_MODEL.parent / "manifest.json").read_text())
    entry = manifest["tasks"][DEFAULT_POSE_MODEL.name]
    assert hashlib.sha256(DEFAULT_POSE_MODEL.read_bytes()).hexdigest() == entry["sha256"]
    with zipfile.ZipFile(DEFAULT_POSE_MODEL) as zf:
        assert sorted(zf.namelist()) == ["pose_detector.tflite", "pose_landmarks_detector.tflite"]
        assert all(info.compress_type == zipfile.ZIP_STORED for info in zf.infolist())
    assert "Apache License" in (DEFAULT_POSE_MODEL.parent / "LICENSE").read_text()


def test_face_mesh_model_matches_its_manifest():
    from avatar_app.tracking.landmarks import DEFAULT_FACE_MODEL

    manifest = json.loads((DEFAULT_FACE_MODEL.parent / "manifest.json").read_text())
    entry = manifest["models"][DEFAULT_FACE_MODEL.name]
    assert hashlib.sha256(DEFAULT_FACE_MODEL.read_bytes()).hexdigest() == entry["sha256"]
    assert (entry["norm_mean"], entry["norm_std"]) == (0.0, 255.0)
