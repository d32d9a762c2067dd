"""`avatar-app udp` end to end: the demo motion becomes a UDP sequence that moves."""

import numpy as np

from avatar_app.cli.main import main
from avatar_app.io.udp_sequence import iter_udp_sequence


def test_udp_command_writes_a_moving_sequence(tmp_path, capsys):
    out = tmp_path / "udp"
    assert main(["udp", "--motion", "demo", "--frames", "8", "--size", "128", "--out", str(out)]) == 0
    frames = [u.data for u in iter_udp_sequence(out)]
    assert len(frames) == 8
    assert all(f.shape == (128, 128, 4) for f in frames)
    masks = np.stack([f[..., 3] for f in frames])
    assert 0.05 < masks.mean() < 0.6
    assert np.abs(np.diff(frames, axis=0)).sum(axis=(1, 2, 3)).min() > 0, "consecutive frames must differ"
    assert "wrote 8 UDP frames" in capsys.readouterr().out


def test_udp_command_rejects_a_bad_size(tmp_path, capsys):
    assert main(["udp", "--motion", "demo", "--frames", "2", "--size", "200", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--size" in err and "multiple of 128" in err


def test_udp_command_names_a_missing_bvh(tmp_path, capsys):
    assert main(["udp", "--motion", str(tmp_path / "nope.bvh"), "--out", str(tmp_path / "o")]) == 2
    assert "nope.bvh" in capsys.readouterr().err
