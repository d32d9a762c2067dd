"""Character folders: what opens, and what is refused with the fix."""

from __future__ import annotations

import json
import shutil

import pytest

from avatar_app.io.character_folder import (
    SCHEMA_VERSION,
    CharacterFolderError,
    open_character_folder,
    save_character_info,
    write_json_atomic,
)
from avatar_app.pipeline.defaults import DEFAULT_CHARACTER, open_character_arg


def _folder(tmp_path, info):
    root = tmp_path / "char"
    (root / "sheet").mkdir(parents=True)
    shutil.copy(DEFAULT_CHARACTER / "avatar.glb", root / "avatar.glb")
    (root / "character.json").write_text(json.dumps(info))
    return root


def test_a_current_folder_opens_with_its_framing(tmp_path):
    root = _folder(tmp_path, {"schema": SCHEMA_VERSION, "framing": {"name": "waist", "cut": 0.74}})
    folder = open_character_folder(root)
    assert folder.framing == "waist" and folder.cut == pytest.approx(0.74)
    assert folder.sheet_dir == root / "sheet" and folder.avatar == root / "avatar.glb" and folder.weights is None
    choice = open_character_arg(root)
    assert choice.body == root / "avatar.glb" and choice.framing == pytest.approx(0.74)


@pytest.mark.parametrize(
    ("schema", "words"),
    [(0, ["schema 0", "older", "avatar-app fit --sheet"]), (99, ["newer", "update avatar-app"]), (None, ["no schema"])],
)
def test_a_folder_from_another_schema_is_refused_with_the_fix(tmp_path, schema, words):
    info = {} if schema is None else {"schema": schema}
    with pytest.raises(CharacterFolderError) as caught:
        open_character_folder(_folder(tmp_path, info))
    for word in words:
        assert word in str(caught.value)


def test_a_folder_of_drawings_is_told_to_run_fit(tmp_path):
    (tmp_path / "front.png").write_bytes(b"")
    with pytest.raises(CharacterFolderError, match="folder of drawings") as caught:
        open_character_folder(tmp_path)
    assert f"avatar-app fit --sheet {tmp_path}" in str(caught.value)


def test_broken_json_and_missing_parts_are_named(tmp_path):
    root = _folder(tmp_path, {"schema": SCHEMA_VERSION})
    (root / "character.json").write_text("{not json")
    with pytest.raises(CharacterFolderError, match="readable JSON"):
        open_character_folder(root)
    save_character_info(root, {"framing": {"name": "waist"}})
    (root / "avatar.glb").unlink()
    with pytest.raises(CharacterFolderError, match="avatar.glb"):
        open_character_folder(root)
    save_character_info(root, {"framing": {"name": "thighs"}})
    with pytest.raises(CharacterFolderError, match="framing.name"):
        open_character_folder(root)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = write_json_atomic(tmp_path / "character.json", {"a": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"a": object()})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["character.json"]


def test_character_argument_kinds(tmp_path):
    assert open_character_arg(None).body is None
    glb = tmp_path / "body.glb"
    shutil.copy(DEFAULT_CHARACTER / "avatar.glb", glb)
    assert open_character_arg(glb).body == glb and open_character_arg(glb).framing == "full"
    from avatar_app.core.errors import SettingError

    with pytest.raises(SettingError, match="avatar-app fit"):
        open_character_arg(tmp_path / "nothing.txt")


def test_only_a_complete_weights_folder_is_the_characters(tmp_path):
    root = _folder(tmp_path, {"schema": SCHEMA_VERSION})
    (root / "weights").mkdir()
    (root / "weights" / "shader.pth").write_bytes(b"")
    assert open_character_folder(root).weights is None, "a partial weights/ would make auto pick CoNR and fail"
    for name in ("udpparsernet.pth", "target_pose_encoder.pth", "rgbadecodernet.pth"):
        (root / "weights" / name).write_bytes(b"")
    assert open_character_folder(root).weights == root / "weights"


def test_the_folder_knows_the_rasters_framings():
    from avatar_app.io.character_folder import FRAMING_NAMES
    from avatar_app.raster.framing import FRAMINGS

    assert FRAMING_NAMES == FRAMINGS
