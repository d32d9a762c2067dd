"""``fit --weights OFFICIAL_DIR``: the map from our rig's UDP to the official weights' convention.

The official CoNR weights were trained on UDP maps from a generator that was never
published, so our rig's cube is not theirs. Their own UDP detector, run on the character's
drawings, says where they put each drawn pixel; the fitted proxy's ``sheet_udp`` says
where we do. ``rig.udp_calibration.calibrate`` solves the affine between the two (robust
least squares), and the result is saved as ``udp_map.json`` beside the weights, where the
rig's raster picks it up whenever those weights render (``pipeline.defaults.udp_map_for``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from avatar_app.core.errors import SettingError
from avatar_app.io.character_folder import open_character_folder, save_character_info
from avatar_app.io.sheet import load_sheet
from avatar_app.io.udp import load_udp
from avatar_app.rig.udp_calibration import UDP_MAP_FILENAME, calibrate, save_udp_affine


def calibrate_official(
    character: Path, weights: Path, *, size: int, note: Callable[[str], None] = lambda text: None, detect=None
):
    """Fit and save the map for ``weights`` from ``character``'s views; returns the ``UdpAffine``.

    ``detect`` (one premultiplied RGB view -> its UDP) defaults to the weights' own detector.
    """
    folder = open_character_folder(character)
    sheet = load_sheet(folder.sheet_dir, size=size)
    views = [sheet.rgb_premultiplied[i].transpose(1, 2, 0) for i in range(sheet.num_views)]
    ours = []
    for view in folder.views:
        stem = Path(view["file"]).stem
        ours.append(load_udp(folder.sheet_udp_dir / f"{stem}.npz").data)
    if len(ours) != len(views):
        raise SettingError(
            character, f"one sheet_udp map per view ({len(views)})", f"{len(ours)}", "run avatar-app fit again"
        )
    backend = None
    if detect is None:
        from avatar_app.infer.registry import open_backend
        from avatar_app.models import load_weights_folder

        note(f"running the UDP detector of {weights} on {len(views)} view(s) ...")
        backend = open_backend("torch", load_weights_folder(Path(weights)), size, parts=("udp_detector",))
        detect = backend.detect
    try:
        affine = calibrate(views, ours, detect)
    finally:
        if backend is not None:
            backend.close()
    target = Path(weights) / UDP_MAP_FILENAME
    try:
        save_udp_affine(target, affine, meta={"fitted_on": str(character), "views": len(views)})
    except OSError as exc:
        raise SettingError(
            "--weights",
            f"a folder we may write {UDP_MAP_FILENAME} into",
            f"{type(exc).__name__}: {exc}",
            "copy the weights to a folder of yours and pass that",
        ) from exc
    info = dict(folder.info)
    info["udp_map"] = {"weights": str(weights), "file": str(target), "summary": affine.summary()}
    info.pop("schema", None)
    save_character_info(folder.root, info)
    note(f"UDP map for {weights}: {affine.summary()} -> {target}")
    return affine
