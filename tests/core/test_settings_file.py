"""The settings file: TOML round trip, the config folder from XDG_CONFIG_HOME, tolerant reading."""

from __future__ import annotations

import tomllib

from avatar_app.core.settings_file import AppSettings, default_settings_path, dumps, load_settings, save_settings


def test_settings_round_trip_through_toml(tmp_path):
    settings = AppSettings(
        sheet_dir='C:\\sheets\\"mine"',
        source="vmc",
        vmc_port=40000,
        size=512,
        views=2,
        virtual_camera=True,
        fps=24.0,
        motion_file="ünïcode/mötion.bvh",
    )
    path = tmp_path / "a" / "settings.toml"
    save_settings(settings, path)
    assert tomllib.loads(path.read_text())["source"]["vmc_port"] == 40000
    loaded, warnings = load_settings(path)
    assert loaded == settings and warnings == []


def test_config_folder_follows_xdg_config_home(config_home):
    assert default_settings_path() == config_home / "avatar_app" / "settings.toml"


def test_a_wrong_value_or_unknown_key_is_ignored_with_a_warning(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text('[render]\nsize = "big"\nviews = 3\n[source]\ncolour = 1\n[mystery]\nx = 1\n[live]\nfps = 25\n')
    loaded, warnings = load_settings(path)
    assert loaded.size == 256 and loaded.views == 3 and loaded.fps == 25.0
    assert len(warnings) == 3 and any("render.size should be int" in w for w in warnings)


def test_a_broken_file_gives_the_defaults_and_says_so(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text("[render\nsize=")
    loaded, warnings = load_settings(path)
    assert loaded == AppSettings() and "unreadable" in warnings[0]
    assert tomllib.loads(dumps(AppSettings()))  # what we write is valid TOML
