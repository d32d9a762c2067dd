"""Real (or exported synthetic) training data from a folder; the format is in docs/dataset.md.

::

    ROOT/<character>/sheet/*.png|.webp          RGBA views, what `avatar-app render --sheet` takes
    ROOT/<character>/sheet_udp/<view>.npz|.exr|.png   optional: each view's UDP, same stem as the view
    ROOT/<character>/poses/<frame>.npz|.exr|.png      target UDP maps (the formats of avatar_app.io.udp)
    ROOT/<character>/images/<frame>.png|.webp        target RGBA (straight alpha), same stem as the pose

Everything goes through the app's own loaders, so training sees what inference sees:
sheets via ``load_sheet`` (premultiplied, cropped, padded, resized), poses via
``load_udp`` + ``fit_udp`` (aspect kept, centred, nearest-neighbour: what ``avatar-app
render`` does), and each target image through the same letterbox as its pose
(premultiplied, then area/linear resize). The layout (folders, matching stems) is
checked when the dataset is created; pixels are checked as each item is read.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from avatar_app.core.errors import InputError, UdpFileError
from avatar_app.core.frames import CharacterSheet, UdpMap, check_model_size
from avatar_app.io._files import natural_sort_key
from avatar_app.io.sheet import SHEET_SUFFIXES, load_sheet, read_view
from avatar_app.io.udp import UDP_SUFFIXES, fit_udp, load_udp
from avatar_app.training.sample import Sample
from avatar_app.training.views import prepare_udp_view

log = logging.getLogger(__name__)

__all__ = ["IMAGE_SUFFIXES", "FolderDataset"]

IMAGE_SUFFIXES = SHEET_SUFFIXES
_FORMAT_FIX = "lay the data out as docs/dataset.md describes: <character>/sheet, <character>/poses, <character>/images"


class FolderDataset:
    """Map-style dataset of :class:`Sample` s read from ``root`` (see the module docstring).

    ``characters`` picks character folders by name (e.g. a held-out list for
    validation); default: every folder in ``root``. ``views`` keeps the first N views
    of each sheet (natural name order).
    """

    def __init__(
        self, root: str | Path, size: int = 256, characters: list[str] | None = None, views: int | None = None
    ):
        self.root = Path(root)
        self.size = check_model_size(size, "FolderDataset size")
        self.views = views
        folders = self._character_folders(characters)
        self._items: list[tuple[str, Path, Path]] = []  # (character, pose, image)
        for folder in folders:
            self._items += [(folder.name, pose, image) for pose, image in _pairs(folder)]
        self.characters = [f.name for f in folders]
        self._sheets: dict[str, tuple[CharacterSheet, np.ndarray | None]] = {}
        log.info("dataset %s: %d characters, %d samples", self.root, len(folders), len(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> Sample:
        character, pose_path, image_path = self._items[index]
        sheet, sheet_udp = self._sheet(character)
        udp = load_udp(pose_path).data
        rgba = read_view(image_path)
        if rgba.shape[:2] != udp.shape[:2]:
            raise InputError(
                image_path,
                f"an image the size of its pose {pose_path.name} ({udp.shape[1]}x{udp.shape[0]})",
                f"{rgba.shape[1]}x{rgba.shape[0]}",
                "render or export the image and the pose from the same camera at the same resolution",
            )
        return Sample(
            sheet_rgb=sheet.rgb_premultiplied,
            sheet_alpha=sheet.alpha,
            sheet_udp=sheet_udp,
            target_udp=np.ascontiguousarray(fit_udp_array(udp, self.size).transpose(2, 0, 1)),
            target_rgba=np.ascontiguousarray(fit_rgba(rgba, self.size).transpose(2, 0, 1)),
            character=character,
            meta={"pose": str(pose_path), "image": str(image_path), "sheet_names": list(sheet.names)},
        )

    # -- layout ------------------------------------------------------------------

    def _character_folders(self, characters) -> list[Path]:
        if not self.root.is_dir():
            found = "a file" if self.root.exists() else "no such folder"
            raise InputError(
                self.root, "a dataset folder with one sub-folder per character", found, "check the path; " + _FORMAT_FIX
            )
        folders = sorted(
            (p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")), key=natural_sort_key
        )
        if not folders:
            raise InputError(self.root, "one sub-folder per character", "no sub-folders", _FORMAT_FIX)
        if characters is not None:
            by_name = {f.name: f for f in folders}
            missing = [c for c in characters if c not in by_name]
            if missing:
                raise InputError(
                    self.root,
                    f"character folders {missing}",
                    f"only {_short([f.name for f in folders])}",
                    "check the character names (they are folder names)",
                )
            folders = [by_name[c] for c in characters]
        for folder in folders:
            for sub in ("sheet", "poses", "images"):
                if not (folder / sub).is_dir():
                    raise InputError(
                        folder, f"a '{sub}' folder in each character folder", f"no '{sub}' folder", _FORMAT_FIX
                    )
        return folders

    # -- sheets ------------------------------------------------------------------

    def _sheet(self, character: str) -> tuple[CharacterSheet, np.ndarray | None]:
        if character not in self._sheets:
            folder = self.root / character
            sheet = load_sheet(folder / "sheet", size=self.size, max_views=self.views)
            udp = self._sheet_udp(folder, sheet) if (folder / "sheet_udp").is_dir() else None
            self._sheets[character] = (sheet, udp)
        return self._sheets[character]

    def _sheet_udp(self, folder: Path, sheet: CharacterSheet) -> np.ndarray:
        """Each view's UDP, cropped exactly like the view: [M,4,S,S]."""
        out = []
        for name in sheet.names:
            view_path = folder / "sheet" / name
            udp_path = _with_any_suffix(folder / "sheet_udp", Path(name).stem, UDP_SUFFIXES)
            if udp_path is None:
                raise UdpFileError(
                    folder / "sheet_udp" / (Path(name).stem + ".npz"),
                    f"a UDP map for every sheet view (this one for {name})",
                    "no such file (.npz, .exr or .png)",
                    "export the UDP of every view, or delete the sheet_udp folder to train without sheet UDP",
                )
            udp = load_udp(udp_path).data
            alpha = read_view(view_path)[..., 3]
            if udp.shape[:2] != alpha.shape:
                raise UdpFileError(
                    udp_path,
                    f"the size of its view {name} ({alpha.shape[1]}x{alpha.shape[0]})",
                    f"{udp.shape[1]}x{udp.shape[0]}",
                    "export the view's UDP from the same camera at the same resolution as the view",
                )
            out.append(prepare_udp_view(udp, alpha, self.size))
        return np.ascontiguousarray(np.stack(out).transpose(0, 3, 1, 2))


def fit_udp_array(udp: np.ndarray, size: int) -> np.ndarray:
    """float32 [H,W,4] -> [size,size,4] exactly as ``avatar-app render`` fits a pose."""
    return fit_udp(UdpMap(udp), size).data


def fit_rgba(rgba: np.ndarray, size: int) -> np.ndarray:
    """Straight RGBA uint8 [H,W,4] -> premultiplied float32 [size,size,4] in [0,1], on the same
    letterbox as :func:`fit_udp_array` (scale to fit, centred, rounded the same way).

    Premultiplied before resizing so edges do not pick up the background colour;
    area-averaged when shrinking, linear when enlarging (like ``prepare_view``).
    """
    height, width = rgba.shape[:2]
    color = rgba.astype(np.float32) / np.float32(255.0)
    color[..., :3] *= color[..., 3:4]
    if (height, width) == (size, size):
        return color
    scale = min(size / height, size / width)
    new_height, new_width = min(size, max(1, round(height * scale))), min(size, max(1, round(width * scale)))
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    resized = cv2.resize(color, (new_width, new_height), interpolation=interpolation).reshape(new_height, new_width, 4)
    out = np.zeros((size, size, 4), dtype=np.float32)
    top, left = (size - new_height) // 2, (size - new_width) // 2
    out[top : top + new_height, left : left + new_width] = np.clip(resized, 0.0, 1.0)
    return out


def _pairs(folder: Path) -> list[tuple[Path, Path]]:
    """(pose, image) per frame stem, checked both ways."""
    poses = _by_stem(folder / "poses", UDP_SUFFIXES)
    images = _by_stem(folder / "images", IMAGE_SUFFIXES)
    if not poses:
        raise UdpFileError(
            folder / "poses",
            "one or more UDP maps (.npz, .exr, 16-bit .png)",
            "none",
            "put the target poses of this character here",
        )
    for stem, pose in poses.items():
        if stem not in images:
            raise InputError(
                pose,
                f"its target image images/{stem}.png next to it",
                "no image with that name",
                "export the rendered frame of every pose with the pose's file name "
                "(e.g. poses/0001.npz -> images/0001.png)",
            )
    extra = sorted(set(images) - set(poses), key=natural_sort_key)
    if extra:
        raise InputError(
            images[extra[0]],
            f"a pose poses/{extra[0]}.npz (or .exr/.png) for every image",
            f"no pose for {len(extra)} image(s): {_short(extra)}",
            "add the missing poses, or move the images out of the images folder",
        )
    return [(poses[stem], images[stem]) for stem in sorted(poses, key=natural_sort_key)]


def _by_stem(folder: Path, suffixes: tuple[str, ...]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in sorted(folder.iterdir(), key=natural_sort_key):
        if not path.is_file() or path.name.startswith(".") or path.suffix.lower() not in suffixes:
            continue
        if path.stem in out:
            raise InputError(
                path, "one file per frame name", f"both {out[path.stem].name} and {path.name}", "keep one of them"
            )
        out[path.stem] = path
    return out


def _with_any_suffix(folder: Path, stem: str, suffixes: tuple[str, ...]) -> Path | None:
    for suffix in suffixes:
        if (folder / (stem + suffix)).is_file():
            return folder / (stem + suffix)
    return None


def _short(names: list[str], limit: int = 5) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")
