"""The folder format of docs/dataset.md: reading it, its errors, and the synthetic export round trip."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from avatar_app.core.errors import DeviceError, InputError, SheetError, UdpFileError
from avatar_app.io.udp import save_udp
from avatar_app.training.folder_dataset import FolderDataset

ROOT = Path(__file__).resolve().parents[2]
SIZE = 128


def _write_png(path: Path, rgba: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))


def _blob(height: int, width: int, colour=(200, 80, 40)) -> np.ndarray:
    """Straight RGBA: an opaque ellipse on transparency."""
    rgba = np.zeros((height, width, 4), np.uint8)
    cv2.ellipse(rgba, (width // 2, height // 2), (width // 4, height // 3), 0, 0, 360, (*colour, 255), -1)
    return rgba


def _udp_of(rgba: np.ndarray) -> np.ndarray:
    """A UDP map covering exactly the opaque pixels, xyz from the pixel position."""
    height, width = rgba.shape[:2]
    rows, cols = np.mgrid[0:height, 0:width]
    visible = (rgba[..., 3] > 0).astype(np.float32)
    udp = np.stack([cols / width, 1.0 - rows / height, np.full_like(visible, 0.5), visible], axis=-1).astype(np.float32)
    udp[..., :3] *= visible[..., None]
    return udp


def _character(
    root: Path, name: str = "alice", frames=("0000", "0001"), shape=(SIZE, SIZE), sheet_udp: bool = False
) -> Path:
    folder = root / name
    for view in ("0_front", "1_back"):
        rgba = _blob(160, 96)
        _write_png(folder / "sheet" / f"{view}.png", rgba)
        if sheet_udp:
            (folder / "sheet_udp").mkdir(parents=True, exist_ok=True)
            save_udp(folder / "sheet_udp" / f"{view}.npz", _udp_of(rgba))
    (folder / "poses").mkdir(parents=True, exist_ok=True)
    for frame in frames:
        image = _blob(*shape, colour=(30, 160, 220))
        _write_png(folder / "images" / f"{frame}.png", image)
        save_udp(folder / "poses" / f"{frame}.npz", _udp_of(image))
    return folder


def test_reads_characters_and_fits_poses_and_images_on_one_letterbox(tmp_path):
    _character(tmp_path, "alice", shape=(256, 128), sheet_udp=True)
    _character(tmp_path, "bob", frames=("7",))
    data = FolderDataset(tmp_path, size=SIZE)
    assert len(data) == 3 and data.characters == ["alice", "bob"]
    sample = data[0]
    assert sample.character == "alice" and sample.num_views == 2
    assert sample.sheet_rgb.shape == (2, 3, SIZE, SIZE) and sample.sheet_udp.shape == (2, 4, SIZE, SIZE)
    # a tall 256x128 frame becomes 128x64, centred: the pose and the image on the same pixels
    visible = sample.target_udp[3] > 0
    alpha = sample.target_rgba[3]
    assert not visible[:, :32].any() and not visible[:, 96:].any() and not alpha[:, :32].any()
    assert ((alpha > 0.5) == visible).mean() > 0.995
    assert np.all(sample.target_rgba[:3] <= alpha + 1e-6)  # premultiplied
    assert set(np.unique(sample.target_udp[3])) == {0.0, 1.0}  # nearest-neighbour: visibility stays binary
    for view in range(2):  # sheet UDP cropped like its view
        assert ((sample.sheet_udp[view, 3] > 0) == (sample.sheet_alpha[view, 0] > 127)).mean() > 0.99
    assert data[2].sheet_udp is None and data[2].character == "bob"
    assert FolderDataset(tmp_path, size=SIZE, characters=["bob"]).characters == ["bob"]


def test_a_missing_or_empty_root_says_how_to_lay_out_the_data(tmp_path):
    with pytest.raises(InputError, match="no sub-folders.*docs/dataset.md"):
        FolderDataset(tmp_path)
    with pytest.raises(InputError, match="no such folder"):
        FolderDataset(tmp_path / "nowhere")


def test_a_character_without_poses_folder_is_named(tmp_path):
    folder = _character(tmp_path)
    for path in (folder / "poses").iterdir():
        path.unlink()
    (folder / "poses").rmdir()
    with pytest.raises(InputError, match=r"alice: expected a 'poses' folder .* found no 'poses' folder"):
        FolderDataset(tmp_path)


def test_a_pose_without_its_image_names_both_files(tmp_path):
    folder = _character(tmp_path)
    (folder / "images" / "0001.png").unlink()
    with pytest.raises(InputError, match=r"poses/0001\.npz: expected its target image images/0001\.png") as info:
        FolderDataset(tmp_path)
    assert "Fix:" in str(info.value)


def test_an_image_without_its_pose_is_named(tmp_path):
    folder = _character(tmp_path)
    (folder / "poses" / "0000.npz").unlink()
    with pytest.raises(InputError, match=r"images/0000\.png: expected a pose poses/0000\.npz"):
        FolderDataset(tmp_path)


def test_two_poses_with_one_name_are_ambiguous(tmp_path):
    folder = _character(tmp_path)
    save_udp(folder / "poses" / "0000.png", _udp_of(_blob(SIZE, SIZE)))
    with pytest.raises(InputError, match="one file per frame name.*0000.npz and 0000.png"):
        FolderDataset(tmp_path)


def test_an_image_of_another_size_than_its_pose_is_reported_when_read(tmp_path):
    folder = _character(tmp_path)
    _write_png(folder / "images" / "0001.png", _blob(64, 64))
    data = FolderDataset(tmp_path, size=SIZE)
    data[0]
    with pytest.raises(
        InputError, match=r"0001\.png: expected an image the size of its pose 0001\.npz \(128x128\), found 64x64"
    ):
        data[1]


def test_an_image_without_alpha_gets_the_transparency_fix(tmp_path):
    folder = _character(tmp_path)
    cv2.imwrite(str(folder / "images" / "0000.png"), np.zeros((SIZE, SIZE, 3), np.uint8))
    with pytest.raises(SheetError, match="no alpha channel.*Fix: export with transparency"):
        FolderDataset(tmp_path, size=SIZE)[0]


def test_sheet_udp_must_cover_every_view(tmp_path):
    folder = _character(tmp_path, sheet_udp=True)
    (folder / "sheet_udp" / "1_back.npz").unlink()
    with pytest.raises(
        UdpFileError,
        match=r"sheet_udp/1_back\.npz: expected a UDP map for every sheet view.*delete the sheet_udp folder",
    ):
        FolderDataset(tmp_path, size=SIZE)[0]


def test_sheet_udp_must_have_its_view_size(tmp_path):
    folder = _character(tmp_path, sheet_udp=True)
    save_udp(folder / "sheet_udp" / "0_front.npz", _udp_of(_blob(80, 48)))
    with pytest.raises(
        UdpFileError, match=r"0_front\.npz: expected the size of its view 0_front\.png \(96x160\), found 48x80"
    ):
        FolderDataset(tmp_path, size=SIZE)[0]


def test_unknown_character_names_list_the_ones_there(tmp_path):
    _character(tmp_path, "alice")
    with pytest.raises(InputError, match=r"expected character folders \['carol'\], found only alice"):
        FolderDataset(tmp_path, characters=["carol"])


def test_exported_synthetic_data_reads_back_as_the_same_samples(tmp_path):
    pytest.importorskip("mannequin", reason="needs mannequin-x: pip install mannequin-x (the 'tools' extra)")
    sys.path.insert(0, str(ROOT / "tools"))
    from make_dataset import write_dataset

    from avatar_app.raster.camera import VIEW_YAWS_DEG
    from avatar_app.training.synthetic import SHEET_VIEWS, SyntheticDataset

    try:
        folders = write_dataset(tmp_path, characters=1, poses=2, size=SIZE, split="val", seed=4)
    except DeviceError as exc:
        pytest.skip(str(exc))
    assert [f.name for f in folders] == ["syn1000000"] and (folders[0] / "meta.json").is_file()
    read = FolderDataset(tmp_path, size=SIZE)
    synthetic = SyntheticDataset(size=SIZE, split="val", num_characters=1, seed=4)
    try:
        for j in range(2):
            got, want = read[j], synthetic[j]
            assert got.character == want.character
            # files hold the views in SHEET_VIEWS order (0_front ... 3_back), samples shuffle them
            by_yaw = [[VIEW_YAWS_DEG[view] for view in SHEET_VIEWS].index(yaw) for yaw in want.meta["sheet_yaws"]]
            assert np.array_equal(got.sheet_rgb[by_yaw], want.sheet_rgb)
            assert np.array_equal(got.sheet_alpha[by_yaw], want.sheet_alpha)
            assert np.array_equal(got.sheet_udp[by_yaw], want.sheet_udp)
            assert np.array_equal(got.target_udp, want.target_udp)  # .npz: float32 exactly
            assert np.abs(got.target_rgba - want.target_rgba).max() <= 1.0 / 255.0  # 8-bit PNG
    finally:
        synthetic.close()
