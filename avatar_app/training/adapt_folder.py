"""``avatar-app adapt`` on a character folder: its inputs, its work files, its adapted weights.

::

    CHAR/.adapt/state.pt     everything a resumed run needs (model, optimiser, step, best)
    CHAR/.adapt/preview.png  before / now, rewritten every few minutes
    CHAR/weights/            the best weights (four files + model.json), adapt.json, preview.png

Every file is written to a temporary name and renamed, so a crash, Ctrl-C or a full disk
leaves the old file or the new one. ``weights/`` is replaced as a whole: a folder that
exists always holds a complete set, and everything that loads the character
(``CharacterFolder.weights``) uses it.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from avatar_app.core.atomic import write_text_atomic
from avatar_app.core.errors import CheckpointError, InputError, SettingError
from avatar_app.io.character_folder import open_character_folder
from avatar_app.io.sheet import load_sheet
from avatar_app.io.sheet_udp import load_sheet_udp
from avatar_app.models import save_weights_folder
from avatar_app.training.adapt import Adapter, AdaptInputs, AdaptProgress, AdaptSettings
from avatar_app.training.adapt_data import AdaptSheet
from avatar_app.training.adapt_progress import BEFORE, PrepareProgress, PrepareStatus, adapt_stages
from avatar_app.training.resume_file import load_resume_file, save_resume_file

log = logging.getLogger(__name__)

__all__ = ["DiskFullError", "adapt_folder", "inputs_from_folder"]

WORK = ".adapt"
STATE = "state.pt"
FIT_FIX = "run avatar-app fit --sheet {root}/sheet --out {root} first (it writes sheet_udp/)"


class DiskFullError(InputError):
    """No room for the adaptation's files."""


def inputs_from_folder(root: str | Path, size: int) -> AdaptInputs:
    """A character folder's sheet, each view's fitted UDP at ``size``, proxy, framing and face."""
    from avatar_app.rig import load_gltf
    from avatar_app.rig.avatar_style import AvatarStyle
    from avatar_app.training.drawn_family import face_region_udp

    folder = open_character_folder(root)
    sheet = load_sheet(folder.sheet_dir, size=size)
    if not folder.sheet_udp_dir.is_dir():
        raise SettingError(folder.root, "sheet_udp/ (each view's fitted UDP map)", "none", FIT_FIX.format(root=root))
    udps, missing = load_sheet_udp(folder.sheet_udp_dir, sheet.names, size)
    if udps is None:
        found = f"no map for {', '.join(missing)}"
        raise SettingError(folder.sheet_udp_dir, "one UDP map per drawing in sheet/", found, FIT_FIX.format(root=root))
    character = load_gltf(folder.avatar)
    region = None
    if folder.proxy:
        try:
            region = face_region_udp(character, AvatarStyle.from_dict(folder.proxy))
        except (KeyError, TypeError, ValueError) as exc:  # a hand-made body: no face weighting
            log.info("%s: no face region from character.json's proxy (%s)", root, exc)
    framing = folder.cut if folder.cut is not None else folder.framing
    adapt_sheet = AdaptSheet(sheet.rgb_premultiplied, sheet.alpha, udps)
    return AdaptInputs(adapt_sheet, character, framing, region, folder.name)


def _check_room(root: Path, needed: int) -> None:
    free = shutil.disk_usage(root).free
    if free < needed:
        raise DiskFullError(
            root,
            f"{needed / 2**20:.0f} MiB free for the adapted weights and the run's state",
            f"{free / 2**20:.0f} MiB free",
            "free some disk space and run adapt again (it resumes)",
        )


def _raise_if_disk_full(exc: OSError, path: Path) -> None:
    if exc.errno == errno.ENOSPC:
        raise DiskFullError(path, "room to write", "the disk is full", "free some space and run adapt again") from exc


_STATE_TENSORS = ("model", "optimizer", "best_state")  # the rest of Adapter.state() is JSON
_STATE_FIX = "pass --restart (or delete {work}) to start the adaptation over"


def _save_state(path: Path, state: dict) -> None:
    tensors = {k: state[k] for k in _STATE_TENSORS}
    meta = {k: v for k, v in state.items() if k not in _STATE_TENSORS}
    try:
        save_resume_file(path, "adaptation state", tensors, meta)
    except OSError as exc:
        _raise_if_disk_full(exc, path)
        raise


def _load_state(path: Path) -> dict:
    """Data only: a state.pt received with a character folder cannot run code (resume_file)."""
    fix = _STATE_FIX.format(work=path.parent)
    tensors, meta = load_resume_file(path, "adaptation state", _STATE_TENSORS, fix)
    if not {"step", "elapsed", "best_loss", "history", "settings"} <= set(meta):
        raise CheckpointError(path, "step, elapsed, best_loss, history and settings", f"keys {sorted(meta)}", fix)
    return {**meta, **tensors}


def _resume(adapter: Adapter, path: Path) -> None:
    state = _load_state(path)
    try:
        adapter.load_state(state, path)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:  # a forged or mismatched state
        found = f"a state that does not fit this adaptation ({type(exc).__name__}: {str(exc)[:200]})"
        raise CheckpointError(
            path, "an adaptation state of this character", found, _STATE_FIX.format(work=path.parent)
        ) from exc


def _over_grey(rgba: np.ndarray) -> np.ndarray:
    rgb = rgba[:3] + 0.5 * (1.0 - rgba[3:4])
    return (np.clip(rgb, 0, 1).transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)


def preview_picture(adapter: Adapter, before: list[np.ndarray]) -> np.ndarray:
    """Rows: the first drawing | its render now; then held-out poses: lookup target | before | now."""
    sheet = adapter.inputs.sheet
    view = sheet.rgba()[0]
    rows = [
        np.concatenate(
            [_over_grey(view), _over_grey(adapter.render(sheet.udp[0])), *[np.full_like(_over_grey(view), 128)]], 1
        )
    ]
    for i, first in enumerate(before):
        udp = adapter.holdout.udp[i]
        rows.append(
            np.concatenate(
                [
                    _over_grey(adapter.holdout.rgba[i] * (adapter.holdout.rgb_weight[i] > 0)),
                    _over_grey(first),
                    _over_grey(adapter.render(udp)),
                ],
                1,
            )
        )
    return np.concatenate(rows, 0)


def _write_png(path: Path, rgb: np.ndarray) -> None:
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.tobytes())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def export_weights(adapter: Adapter, root: Path, report: dict, preview: np.ndarray | None) -> Path:
    """``root/weights/`` replaced as a whole by the best weights, adapt.json and the preview."""
    final = root / "weights"
    tmp = Path(tempfile.mkdtemp(prefix=".weights.", dir=root))
    try:
        save_weights_folder(adapter.best_model(), tmp)
        write_text_atomic(tmp / "adapt.json", json.dumps(report, indent=2) + "\n")
        if preview is not None:
            _write_png(tmp / "preview.png", preview)
        for file in tmp.iterdir():  # mkdtemp/mkstemp make them private; weights are ordinary files
            file.chmod(0o644)
        tmp.chmod(0o755)
        old = None
        if final.exists():
            old = root / f".weights.old.{os.getpid()}"
            os.replace(final, old)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        _raise_if_disk_full(exc, final)
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


@dataclass
class AdaptResult:
    weights: Path
    report: dict
    finished: bool  # False: cancelled (the best weights so far were still written)


def adapt_folder(
    root: str | Path,
    s: AdaptSettings,
    *,
    init: str | Path,
    restart: bool = False,
    cancel: Callable[[], bool] = lambda: False,
    report: Callable[[AdaptProgress], None] = lambda p: None,
    note: Callable[[str], None] = lambda text: None,
    steps: int | None = None,
    preparing: Callable[[PrepareStatus], None] = lambda status: None,
) -> AdaptResult:
    """Adapt ``init`` (a weights folder) to the character in ``root``; resumes ``root/.adapt/``.

    ``preparing`` hears how the preparation goes (stage, units, time left) until training starts;
    ``report`` then hears every training step."""
    root = Path(root)
    t0 = time.perf_counter()
    inputs = inputs_from_folder(root, s.size)
    _check_room(root, 4 * sum(f.stat().st_size for f in Path(init).glob("*.pth")) + (16 << 20))
    work = root / WORK
    state_path = work / STATE
    if restart and work.exists():
        shutil.rmtree(work)
    note(f"adapt {inputs.name}: {inputs.sheet.views} view(s) at {s.size}², rendering {s.poses + s.holdout} poses ...")
    resuming = state_path.is_file()
    fresh = not resuming and not (work / "before.npy").is_file()
    plan = adapt_stages(s.poses, s.holdout, scoring=not resuming, before=fresh)
    progress = PrepareProgress(plan, report=preparing)
    adapter = Adapter(inputs, Path(init), s, cancel=cancel, progress=progress)
    resumed_from = 0
    if resuming:
        _resume(adapter, state_path)
        resumed_from = adapter.step
        note(f"resuming at step {adapter.step} ({adapter.elapsed / 60:.1f} of {s.minutes:g} minutes)")
    adapter.score_start()
    adapter.prepare_training()
    first = _first_renders(adapter, work, progress)  # after the poses: a run cancelled before them writes nothing
    work.mkdir(parents=True, exist_ok=True)
    checkpoint = lambda: _save_state(state_path, adapter.state())  # noqa: E731
    preview = lambda: _write_png(work / "preview.png", preview_picture(adapter, first))  # noqa: E731
    finished = adapter.run_until(
        s.minutes * 60.0, cancel=cancel, report=report, checkpoint=checkpoint, preview=preview, steps=steps
    )
    picture = preview_picture(adapter, first)
    _write_png(work / "preview.png", picture)
    result = {
        "character": inputs.name,
        "init": str(init),
        "finished": finished,
        "steps": adapter.step,
        "resumed_from": resumed_from,
        "train_seconds": round(adapter.elapsed, 1),
        "wall_seconds_this_run": round(time.perf_counter() - t0, 1),
        "device": str(adapter.device),
        "views": inputs.sheet.views,
        "holdout_loss_before": adapter.history.holdout[0][2],
        "holdout_loss_best": round(adapter.best_loss, 5),
        "history": asdict(adapter.history),
        "settings": asdict(s),
    }
    weights = export_weights(adapter, root, result, picture)
    return AdaptResult(weights, result, finished)


def _first_renders(adapter: Adapter, work: Path, progress: PrepareProgress) -> list[np.ndarray]:
    """The starting weights' renders of the first held-out poses (kept for previews across resumes)."""
    path = work / "before.npy"
    if path.is_file():
        before = _read_before(path, adapter.holdout.rgba[0].shape)
        if before is not None:
            return before
    if adapter.step > 0:  # resumed without it (or with an unusable one): no "before" column
        progress.skip(BEFORE)
        return [np.zeros_like(adapter.holdout.rgba[i]) for i in range(2)]
    progress.begin(BEFORE)
    out = []
    for i in range(2):
        out.append(adapter.render(adapter.holdout.udp[i]))
        progress.advance(BEFORE)
    work.mkdir(parents=True, exist_ok=True)
    np.save(path, np.stack(out))
    return out


def _read_before(path: Path, shape: tuple) -> list[np.ndarray] | None:
    """The saved "before" renders; None (with a warning) for a file that is not two float maps.

    ``allow_pickle=False``: an object array in it would be unpickled, i.e. run code.
    """
    try:
        before = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:  # ValueError: pickled objects, a bad header
        log.warning("%s: ignoring it (expected two float renders, found %s); the preview loses its 'before'", path, exc)
        return None
    if not (isinstance(before, np.ndarray) and before.dtype == np.float32 and before.shape == (2, *shape)):
        found = f"{getattr(before, 'dtype', type(before).__name__)} {getattr(before, 'shape', '')}"
        log.warning("%s: ignoring it (expected float32 %s, found %s)", path, [2, *shape], found)
        return None
    return list(before)
