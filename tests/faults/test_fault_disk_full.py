"""The disk fills while recording: the file is closed and playable with every frame written before,
the stream goes on to its other outputs, and the user is told which file, what happened and what
to do. The full disk is a writer raising OSError(ENOSPC) where the file sink writes."""

from __future__ import annotations

from fault_helpers import SIZE, CountingSink, fill_disk_after

from avatar_app.io.video import read_video_frames
from avatar_app.pipeline import PipelineSettings
from avatar_app.pipeline.builder import build_pipeline
from avatar_app.pipeline.output_hub import OutputRequest
from avatar_app.pipeline.session import LiveSession
from avatar_app.pipeline.specs import SinkSpec, SourceSpec

from helpers import wait_until

FRAMES_BEFORE_FULL = 6


def test_a_full_disk_stops_the_recording_cleanly_and_the_stream_goes_on(tmp_path, monkeypatch, no_new_threads):
    disks = fill_disk_after(monkeypatch, FRAMES_BEFORE_FULL)
    record = tmp_path / "take.mp4"
    other = CountingSink()
    settings = PipelineSettings(SourceSpec("demo"), size=SIZE, sinks=(SinkSpec("file", path=record),))
    pipeline = build_pipeline(settings, [other])
    file_sink = pipeline.sinks[-1]
    with pipeline:
        assert wait_until(lambda: disks and disks[0].refused >= 1, timeout=60), "the disk never filled"
        at_full = other.count
        assert wait_until(lambda: other.count >= at_full + 10, timeout=60), "the stream stopped with the recording"
        status = pipeline.status
        assert status.state == "running" and status.error is None
        # closed at once, not at the end of the stream: playable while the stream still runs
        assert file_sink.closed and file_sink not in pipeline.sinks
        assert len(read_video_frames(record)) == FRAMES_BEFORE_FULL
        assert disks[0].refused == 1, "nothing more is written to the full disk"
        (told,) = pipeline.stopped_outputs
    assert str(record) in told and "disk is full" in told
    assert f"the {FRAMES_BEFORE_FULL} frame(s) before it are saved" in told and "Fix: free space" in told
    assert len(read_video_frames(record)) == FRAMES_BEFORE_FULL, "closing the pipeline lost nothing"


def test_the_stream_fails_with_the_message_when_the_recording_was_its_only_output(tmp_path, monkeypatch):
    fill_disk_after(monkeypatch, 3)
    record = tmp_path / "only.mp4"
    settings = PipelineSettings(SourceSpec("demo"), size=SIZE, sinks=(SinkSpec("file", path=record),))
    with build_pipeline(settings) as pipeline:
        assert pipeline.wait(60), "a stream with no output left must end"
    assert pipeline.state == "failed" and "disk is full" in pipeline.status.error
    assert len(read_video_frames(record)) == 3


def test_the_window_shows_the_full_disk_on_the_recording_and_keeps_the_preview(tmp_path, monkeypatch, no_new_threads):
    disks = fill_disk_after(monkeypatch, FRAMES_BEFORE_FULL)
    record = tmp_path / "window_take.mp4"
    session = LiveSession(poll_s=0.01)
    try:
        session.set_outputs(OutputRequest(record_path=record))
        session.set_config(PipelineSettings(SourceSpec("demo"), size=SIZE))
        assert wait_until(lambda: session.snapshot().outputs["record"].state == "failed", timeout=60)
        state = session.snapshot().outputs["record"]
        assert state.error.startswith(f"{record}: expected room to keep recording, found the disk is full")
        assert "Fix: free space" in state.error
        frames = session.snapshot().status.frames_sent
        assert wait_until(lambda: session.snapshot().status.frames_sent >= frames + 10, timeout=60)
        assert session.snapshot().phase == "running"
        assert len(read_video_frames(record)) == FRAMES_BEFORE_FULL
        assert len(disks) == 1, "the same recording is not opened again (it would overwrite the saved file)"
    finally:
        session.close()
    assert len(read_video_frames(record)) == FRAMES_BEFORE_FULL


def test_stream_goes_on_to_the_browser_source_and_says_the_recording_stopped(tmp_path, monkeypatch, capsys):
    from avatar_app.cli.main import main

    fill_disk_after(monkeypatch, FRAMES_BEFORE_FULL)
    record = tmp_path / "cli_take.mp4"
    argv = ["stream", "--source", "demo", "--renderer", "proxy", "--size", str(SIZE), "--frames", "20"]
    code = main([*argv, "--sink", f"file:{record}", "--sink", "browser:0"])
    captured = capsys.readouterr()
    assert code == 1, "a recording cut short is not a clean run"
    assert "20 frames" in captured.out, "the stream went on to the browser source"
    assert f"an output stopped during the stream: {record}: expected room to keep recording" in captured.err
    assert len(read_video_frames(record)) == FRAMES_BEFORE_FULL


def disk_with_room(record, room_bytes: int):
    """``shutil.disk_usage`` of a disk that has ``room_bytes`` above the point where a recording
    stops, eaten by ``record`` as it grows."""
    import shutil

    from avatar_app.outputs.file import LOW_DISK_BYTES

    def disk_usage(folder):
        used = record.stat().st_size if record.exists() else 0
        free = LOW_DISK_BYTES + room_bytes - used
        return shutil._ntuple_diskusage(10 * LOW_DISK_BYTES, 10 * LOW_DISK_BYTES - free, free)

    return disk_usage


def test_a_video_recording_stops_while_the_file_can_still_be_finished(tmp_path, monkeypatch, no_new_threads):
    """OpenCV reports no failed write, and an .mp4 whose index was never written does not play: a
    video recording watches the free space and stops while the index still fits."""
    import shutil

    record = tmp_path / "watched.mp4"
    monkeypatch.setattr(shutil, "disk_usage", disk_with_room(record, 40_000))
    other = CountingSink()
    settings = PipelineSettings(SourceSpec("demo"), size=SIZE, sinks=(SinkSpec("file", path=record),))
    pipeline = build_pipeline(settings, [other])
    file_sink = pipeline.sinks[-1]
    with pipeline:
        assert wait_until(lambda: pipeline.stopped_outputs, timeout=120), "the recording never stopped"
        at_stop = other.count
        assert wait_until(lambda: other.count >= at_stop + 10, timeout=60)
        assert pipeline.status.state == "running"
        (told,) = pipeline.stopped_outputs
        assert told.startswith(f"{record}: expected room to keep recording, found the disk is nearly full (")
        assert file_sink.frames_sent >= 1 and len(read_video_frames(record)) == file_sink.frames_sent


def test_a_recording_is_refused_at_the_start_on_a_disk_that_is_nearly_full(tmp_path, monkeypatch):
    import shutil

    import pytest

    from avatar_app.io.video import OutputFileError

    record = tmp_path / "never.mp4"
    monkeypatch.setattr(shutil, "disk_usage", disk_with_room(record, -1))
    settings = PipelineSettings(SourceSpec("demo"), size=SIZE, sinks=(SinkSpec("file", path=record),))
    with pytest.raises(OutputFileError, match="expected at least 64 MB free to record, found 63 MB left"):
        build_pipeline(settings)
    assert not record.exists()
