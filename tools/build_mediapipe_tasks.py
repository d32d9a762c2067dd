#!/usr/bin/env python3
"""Build the mediapipe model files in assets/mediapipe/ from the models inside mediapipe 0.10.21.

* ``pose_landmarker_full.task``: a Tasks PoseLandmarker bundle;
* ``face_landmark_468.tflite``: the legacy face-mesh model with image-input metadata, run through the
  Tasks ImageEmbedder (which returns a model's raw output tensors) by avatar_app.tracking.face_mesh.

Why: mediapipe 1.x has only the Tasks API and ships no models, and the app must
work offline. mediapipe 0.10.21's wheel still bundles the legacy pose models
(Apache-2.0). A Tasks ``PoseLandmarker`` ``.task`` file is a ZIP, stored and not
deflated, of ``pose_detector.tflite`` and ``pose_landmarks_detector.tflite``, each
carrying image-input NormalizationOptions metadata:

* detector: mean = std = 127.5 (pixels to [-1, 1]);
* landmark model: mean 0, std 255 (pixels to [0, 1]).

mediapipe's own metadata writer adds that metadata and its own aligned ZipFile
class (``model_asset_bundle_utils.AlignZipFile``) writes the stored, 4-byte-aligned
ZIP, with fixed member timestamps so the build is byte-for-byte reproducible.
0.10.21 needs numpy<2 and protobuf<5, so it runs in a throwaway venv, never in
the app's venv:

    python3 tools/build_mediapipe_tasks.py            # makes /tmp/mp_build if missing
    python3 tools/build_mediapipe_tasks.py --out assets/mediapipe --venv /tmp/mp_build

No FaceLandmarker ``.task`` is built: the Tasks face-landmarks graph wants a
model whose first output holds 478 points (mesh + irises) and whose second is
the face flag, and (for blendshapes) ``face_blendshapes.tflite``. The 0.10.21
wheel has ``face_landmark.tflite`` (468 points) and
``face_landmark_with_attention.tflite`` (seven outputs), and no blendshapes
model, so neither fits; hence the face-mesh model on its own (input 192x192
RGB in [0, 1]: mean 0, std 255). See assets/mediapipe/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

MEDIAPIPE_VERSION = "0.10.21"
BUILD_REQUIREMENTS = [f"mediapipe=={MEDIAPIPE_VERSION}", "numpy<2", "protobuf<5"]
REPO = Path(__file__).resolve().parents[1]

# (name inside the .task, file inside the mediapipe wheel, norm mean, norm std)
POSE_LANDMARKER_FULL = {
    "pose_detector.tflite": ("modules/pose_detection/pose_detection.tflite", 127.5, 127.5),
    "pose_landmarks_detector.tflite": ("modules/pose_landmark/pose_landmark_full.tflite", 0.0, 255.0),
}
TASKS = {"pose_landmarker_full.task": POSE_LANDMARKER_FULL}
# single models: (output name) -> (file inside the wheel, norm mean, norm std)
MODELS = {"face_landmark_468.tflite": ("modules/face_landmark/face_landmark.tflite", 0.0, 255.0)}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _ensure_build_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    probe = f"import mediapipe, sys; sys.exit(0 if mediapipe.__version__ == '{MEDIAPIPE_VERSION}' else 1)"
    if python.exists() and subprocess.run([str(python), "-c", probe], capture_output=True).returncode == 0:
        return python
    print(f"creating build venv {venv} with {' '.join(BUILD_REQUIREMENTS)}", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *BUILD_REQUIREMENTS], check=True)
    return python


def _with_image_metadata(model: bytes, name: str, mean: float, std: float) -> bytes:
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, writer_utils

    writer = metadata_writer.MetadataWriter.create(bytearray(model))
    writer.add_general_info(name, f"{name} from mediapipe {MEDIAPIPE_VERSION}")
    writer.add_image_input(norm_mean=[mean], norm_std=[std])
    # One metadata entry per output (by its own name): without them the writer
    # reuses a single entry object for every output tensor.
    for output_name in writer_utils.get_output_tensor_names(model):
        writer.add_feature_output(name=output_name)
    with_metadata, _json = writer.populate()
    return bytes(with_metadata)


def _build_inside(out_dir: Path) -> None:
    import mediapipe
    from mediapipe.tasks.python.metadata.metadata_writers import model_asset_bundle_utils

    if mediapipe.__version__ != MEDIAPIPE_VERSION:
        raise SystemExit(f"need mediapipe {MEDIAPIPE_VERSION} in this interpreter, found {mediapipe.__version__}")
    package = Path(mediapipe.__file__).parent
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = {"built_with": f"mediapipe=={MEDIAPIPE_VERSION}", "tasks": {}}
    for task_name, members in TASKS.items():
        bundle, sources = {}, {}
        for member, (wheel_path, mean, std) in members.items():
            raw = (package / wheel_path).read_bytes()
            bundle[member] = _with_image_metadata(raw, Path(member).stem, mean, std)
            sources[member] = {
                "from": f"mediapipe/{wheel_path}",
                "sha256_source": _sha256(raw),
                "norm_mean": mean,
                "norm_std": std,
            }
        task_path = out_dir / task_name
        # mediapipe's aligned, stored-only ZipFile; fixed timestamps make the build reproducible
        with model_asset_bundle_utils.AlignZipFile(task_path, mode="w", alignment=4) as zf:
            for member, data in bundle.items():
                zf.writestr(zipfile.ZipInfo(member, date_time=(1980, 1, 1, 0, 0, 0)), data)
        with zipfile.ZipFile(task_path) as zf:  # the Tasks loader mmaps members: they must be stored
            assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist()), "bundle members must be stored"
            assert sorted(zf.namelist()) == sorted(bundle), zf.namelist()
        manifest["tasks"][task_name] = {"sha256": _sha256(task_path.read_bytes()), "members": sources}
        print(f"wrote {task_path} ({task_path.stat().st_size} bytes)", flush=True)
    for model_name, (wheel_path, mean, std) in MODELS.items():
        raw = (package / wheel_path).read_bytes()
        model_path = out_dir / model_name
        model_path.write_bytes(_with_image_metadata(raw, Path(model_name).stem, mean, std))
        manifest.setdefault("models", {})[model_name] = {
            "sha256": _sha256(model_path.read_bytes()),
            "from": f"mediapipe/{wheel_path}",
            "sha256_source": _sha256(raw),
            "norm_mean": mean,
            "norm_std": std,
        }
        print(f"wrote {model_path} ({model_path.stat().st_size} bytes)", flush=True)
    license_src = Path(mediapipe.__file__).parents[1] / f"mediapipe-{MEDIAPIPE_VERSION}.dist-info" / "LICENSE"
    if license_src.exists():
        (out_dir / "LICENSE").write_bytes(license_src.read_bytes())
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "assets" / "mediapipe", help="output folder")
    parser.add_argument("--venv", type=Path, default=Path("/tmp/mp_build"), help="throwaway build venv")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inside:
        _build_inside(args.out.resolve())
        return 0
    python = _ensure_build_venv(args.venv)
    env = dict(os.environ, PYTHONNOUSERSITE="1")
    cmd = [str(python), str(Path(__file__).resolve()), "--inside", "--out", str(args.out.resolve())]
    return subprocess.run(cmd, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
