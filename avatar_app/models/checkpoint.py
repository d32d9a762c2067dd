"""Loading and saving the official four-file CoNR checkpoint layout, strictly.

A folder holds ``udpparsernet.pth``, ``target_pose_encoder.pth``, ``shader.pth``
and ``rgbadecodernet.pth``, each a plain state_dict. Files are read with
``torch.load(weights_only=True)`` (no pickled code runs), mapped through
:func:`~avatar_app.models.conr.checkpoint_filter_fn`, and must then match the
network key for key and shape for shape; anything else is a
:class:`~avatar_app.core.errors.CheckpointError` that lists the first offending
keys and says what to do.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
from pathlib import Path

import torch

from avatar_app.core.errors import CheckpointError
from avatar_app.models.conr import NETWORK_NAMES, CoNR, checkpoint_filter_fn

__all__ = [
    "CHECKPOINT_FILES",
    "PRESET_FILE",
    "read_state_dict",
    "torch_load_data",
    "load_state_dict_strict",
    "load_conr_weights",
    "save_conr_weights",
    "weights_preset",
    "load_weights_folder",
    "save_weights_folder",
    "weights_fingerprint",
]

log = logging.getLogger(__name__)

CHECKPOINT_FILES = {name: f"{name}.pth" for name in NETWORK_NAMES}
PRESET_FILE = "model.json"  # {"preset": "lite"} beside the four files; absent = official
_SHOW = 5  # offending keys listed per kind


def _fix(preset: str) -> str:
    return (
        f"point to a folder with the official CoNR weights ({', '.join(CHECKPOINT_FILES.values())}) "
        f"that match the '{preset}' preset, or write synthetic ones with "
        f"`python tools/make_random_weights.py DIR --preset {preset}`"
    )


def torch_load_data(path: str | Path, expected: str, fix: str) -> object:
    """``torch.load(weights_only=True)``: tensors and plain data (dict, list, str, numbers) only.

    Any other Python object in the pickle -- a class to build, a function to call, i.e. code
    that a plain ``torch.load`` would run while reading -- is refused before anything runs, so
    a file received from someone else can never execute code here. A refused or damaged file
    becomes a :class:`CheckpointError` naming ``expected`` and ``fix``.
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "weights only load failed" not in str(err).lower():
            raise CheckpointError(path, expected, f"an unreadable file (UnpicklingError: {err})", fix) from err
        raise CheckpointError(
            path,
            expected,
            f"Python objects besides tensors and plain data ({_refusal_reason(err)}); refused, nothing in it ran",
            f"do not trust this file: {fix}",
        ) from err
    except MemoryError:
        raise
    except Exception as err:  # noqa: BLE001 - a damaged file makes torch.load raise almost anything
        raise CheckpointError(path, expected, f"an unreadable file ({type(err).__name__}: {err})", fix) from err


def _refusal_reason(err: Exception) -> str:
    """The line of torch's weights-only message that names the refused object, without its advice
    (load with ``weights_only=False``, or allow the global: exactly what an untrusted file must not get)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    for line in lines:
        if "unsupported" in line.lower() or "GLOBAL" in line:
            return line.removeprefix("WeightsUnpickler error: ").split(". Please")[0].rstrip(".")[:200]
    return "an object torch's safe loader does not allow"


def read_state_dict(path: str | Path, preset: str = "official") -> dict:
    """``torch.load`` one checkpoint file as data only; a corrupt or unsafe file becomes a CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "a checkpoint file", "no such file", _fix(preset))
    obj = torch_load_data(
        path,
        "a PyTorch state_dict saved with torch.save",
        "the file is corrupt or truncated (an interrupted download?), or not a plain state_dict; "
        "download it again. " + _fix(preset),
    )
    if not isinstance(obj, dict):
        raise CheckpointError(path, "a state_dict (dict of tensors)", f"a {type(obj).__name__}", _fix(preset))
    return obj


def _summarise(items: list[str], total: int) -> str:
    more = f", ... ({total - len(items)} more)" if total > len(items) else ""
    return ", ".join(items) + more


def load_state_dict_strict(module: torch.nn.Module, state_dict: dict, source: str, preset: str = "official") -> None:
    """Load ``state_dict`` into ``module`` only if keys and shapes match exactly."""
    state_dict = checkpoint_filter_fn(state_dict)
    expected = module.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    mismatched = [
        f"{k} (expected {list(expected[k].shape)}, found {list(v.shape) if torch.is_tensor(v) else type(v).__name__})"
        for k, v in state_dict.items()
        if k in expected and (not torch.is_tensor(v) or tuple(v.shape) != tuple(expected[k].shape))
    ]
    not_float = [
        f"{k} ({v.dtype})"
        for k, v in state_dict.items()
        if k in expected and torch.is_tensor(v) and not v.is_floating_point()
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys: {_summarise(missing[:_SHOW], len(missing))}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys: {_summarise(unexpected[:_SHOW], len(unexpected))}")
    if mismatched:
        problems.append(f"{len(mismatched)} shape mismatches: {_summarise(mismatched[:_SHOW], len(mismatched))}")
    if not_float:
        problems.append(f"{len(not_float)} non-float tensors: {_summarise(not_float[:_SHOW], len(not_float))}")
    if problems:
        raise CheckpointError(
            source,
            f"the {len(expected)} tensors of this network in the '{preset}' preset",
            "; ".join(problems),
            _fix(preset),
        )
    with torch.no_grad():
        module.load_state_dict({k: v.to(torch.float32) for k, v in state_dict.items()}, strict=True)


def load_conr_weights(model: CoNR, folder: str | Path) -> CoNR:
    """Load the four official ``.pth`` files from ``folder`` into ``model`` (in place); returns it."""
    folder = Path(folder)
    preset = model.cfg.name
    if not folder.is_dir():
        raise CheckpointError(
            folder, f"a folder containing {', '.join(CHECKPOINT_FILES.values())}", "no such folder", _fix(preset)
        )
    missing = [f for f in CHECKPOINT_FILES.values() if not (folder / f).is_file()]
    if missing:
        present = sorted(p.name for p in folder.iterdir())[:10]
        raise CheckpointError(
            folder / missing[0],
            f"the folder to contain all of {', '.join(CHECKPOINT_FILES.values())}",
            f"no {', '.join(missing)} (the folder has: {', '.join(present) or 'nothing'})",
            _fix(preset),
        )
    for name, filename in CHECKPOINT_FILES.items():
        path = folder / filename
        load_state_dict_strict(model.network(name), read_state_dict(path, preset), str(path), preset)
        log.info("loaded %s", path)
    return model


def save_conr_weights(model: CoNR, folder: str | Path) -> list[Path]:
    """Write the four-file layout (plain state_dicts, as the reference saves them)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, filename in CHECKPOINT_FILES.items():
        path = folder / filename
        torch.save({k: v.detach().cpu().contiguous() for k, v in model.network(name).state_dict().items()}, path)
        paths.append(path)
    return paths


def weights_preset(folder: str | Path) -> str:
    """The preset named by ``folder/model.json``; ``official`` when there is none."""
    meta = Path(folder) / PRESET_FILE
    if not meta.is_file():
        return "official"
    try:
        preset = json.loads(meta.read_text())["preset"]
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(
            meta,
            'JSON like {"preset": "lite"}',
            f"unreadable content ({type(e).__name__}: {e})",
            "write the preset the weights were trained with (official or lite), "
            "or delete the file for official weights",
        ) from e
    return str(preset)


def load_weights_folder(folder: str | Path, preset: str | None = None) -> CoNR:
    """A CoNR of the folder's preset (``model.json``) with the four files loaded strictly, in eval mode."""
    from avatar_app.models.conr import create_conr

    folder = Path(folder)
    has_meta = (folder / PRESET_FILE).is_file()
    preset = preset or weights_preset(folder)
    try:
        model = load_conr_weights(create_conr(preset, init=False), folder)
    except CheckpointError as err:
        if has_meta or not folder.is_dir():
            raise
        raise CheckpointError(
            err.source,
            err.expected,
            err.found,
            f'{err.fix}; weights of another preset need {PRESET_FILE} beside them, e.g. {{"preset": "lite"}}',
        ) from err
    return model.eval()


def save_weights_folder(model: CoNR, folder: str | Path) -> list[Path]:
    """The four files plus ``model.json`` naming the preset: what :func:`load_weights_folder` reads."""
    paths = save_conr_weights(model, folder)
    meta = Path(folder) / PRESET_FILE
    meta.write_text(json.dumps({"preset": model.cfg.name}) + "\n")
    return paths + [meta]


def weights_fingerprint(module: torch.nn.Module) -> str:
    """SHA-256 over a module's state_dict (keys, shapes and values): part of cache keys."""
    h = hashlib.sha256()
    for k, v in module.state_dict().items():
        t = v.detach().to("cpu").contiguous()
        h.update(k.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()
