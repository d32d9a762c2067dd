"""The window keeps its settings between runs (the file format itself: tests/core/test_settings_file.py)."""

from __future__ import annotations

import tomllib

from avatar_app.core.settings_file import default_settings_path


def test_window_settings_persist_between_runs(qtbot, make_window, config_home):
    window = make_window()
    window.render_panel.size.setCurrentIndex(window.render_panel.size.findData(384))
    window.output_panel.browser_port.setValue(9001)
    window.source_panel.vmc_port.setValue(40001)
    window.source_panel.springs.setChecked(False)
    window.render_panel.in_flight.setValue(2)
    window.render_panel.inbetween.setCurrentIndex(window.render_panel.inbetween.findData("warp"))
    window.close()
    saved = tomllib.loads(default_settings_path().read_text())
    assert (
        saved["render"]["size"] == 384
        and saved["output"]["browser_port"] == 9001
        and saved["source"]["vmc_port"] == 40001
    )
    assert saved["source"]["springs"] is False
    assert saved["render"]["frames_in_flight"] == 2 and saved["render"]["inbetween"] == "warp"
    again = make_window()
    assert again.render_panel.model_size == 384
    assert again.output_panel.browser_port.value() == 9001 and again.source_panel.vmc_port.value() == 40001
    assert not again.source_panel.springs.isChecked() and not again.config().springs
    assert again.render_panel.frames_in_flight == 2 and again.render_panel.inbetween_mode == "warp"
    proxy = again.config()  # no weights here: the proxy, which needs neither
    assert proxy.renderer == "proxy" and proxy.frames_in_flight == 1 and proxy.inbetween is None
