#!/usr/bin/env python3
"""Benchmarks: prints a table per section and writes everything to JSON.

Timing lives here, never in pass/fail tests. Ratios are measured side by side in one run.

    python tools/bench.py                      # renderer (torch, 256², M=1,2,4)
    python tools/bench.py --big                # + 512², M=4
    python tools/bench.py --threads 2 --json out/bench.json
    python tools/bench.py --sections renderer --weights assets/weights/lite --views 1,4 --onnxruntime   # + ONNX Runtime
    python tools/bench.py --pipeline           # live pipeline: pose+rig+raster alone, then CoNR lite (--big: +official)
    python tools/bench.py --sections pipeline --weights assets/weights/lite --views 1,4 --threads 2 \
        --pipeline-size 512 --internal-sizes 128,256,512   # 512² frames, CoNR at each internal size
    python tools/bench.py --sections inbetween --threads 2  # in-between frames: warp cost, CoNR repeat vs warp
    python tools/bench.py --sections detail --threads 2     # the drawn-detail pass per frame; an adapt step
    python tools/bench.py --sections cuda --weights assets/weights/lite  # GPU fp32/fp16 x CUDA graphs, 256²/512², M=1,4
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avatar_app.infer.torch_thread import on_torch_thread  # noqa: E402


def _stats(samples_s: list[float]) -> dict:
    ms = np.asarray(samples_s) * 1000.0
    return {
        "median_ms": float(np.median(ms)),
        "p95_ms": float(np.percentile(ms, 95)),
        "min_ms": float(ms.min()),
        "n": int(ms.size),
    }


def _timed(fn, warmup: int, repeats: int) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def synthetic_inputs(size: int, views: int, seed: int = 0):
    """Blob-shaped sheet views (premultiplied, transparent background) and a blob-shaped target UDP."""
    from avatar_app.core.frames import CharacterSheet, UdpMap

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    rgb = np.zeros((views, 3, size, size), np.uint8)
    alpha = np.zeros((views, 1, size, size), np.uint8)
    for v in range(views):
        cx, cy = rng.uniform(0.4, 0.6, 2)
        inside = ((xx - cx) / 0.25) ** 2 + ((yy - cy) / 0.4) ** 2 < 1
        alpha[v, 0] = inside * 255
        for c in range(3):
            rgb[v, c] = (
                inside * (0.5 + 0.5 * np.sin(2 * np.pi * (rng.uniform(1, 4) * xx + rng.uniform(1, 4) * yy)))
            ) * 255
    mask = (((xx - 0.5) / 0.25) ** 2 + ((yy - 0.5) / 0.42) ** 2 < 1).astype(np.float32)
    udp = np.stack([xx * mask, yy * mask, 0.5 * mask, mask], -1).astype(np.float32)
    return CharacterSheet(rgb, alpha), UdpMap(udp)


def bench_renderer(
    cases,
    threads: int,
    preset: str,
    repeats: int,
    fast_modes=(True,),
    reference: bool = False,
    onnxruntime: bool = False,
    weights: str | None = None,
) -> list[dict]:
    """``weights``: a trained weights folder (its model.json names the preset); else the
    conformance fill of ``preset``, whose arbitrary flows make grid_sample read memory far
    less coherently than trained flows do, so such timings run slow."""
    import torch

    from avatar_app.infer import FrameRenderer, SheetEncoder
    from avatar_app.models import create_conr, fill_networks, load_weights_folder

    torch.set_num_threads(threads)
    if weights:
        model = load_weights_folder(weights)
        preset = model.cfg.name
    else:
        model = fill_networks(create_conr(preset, init=False)).eval()
    encoder = SheetEncoder(model)
    rows = []
    for size, views in cases:
        sheet, udp = synthetic_inputs(size, views)
        encode_s = _timed(lambda sheet=sheet: encoder.encode_tensors(*_sheet_tensors(sheet)), 1, max(3, repeats // 2))
        state = encoder.encode_tensors(*_sheet_tensors(sheet))
        n = repeats if size <= 256 else max(3, repeats // 3)
        variants = [(f"ours, {'fast' if fast else 'plain'}", FrameRenderer(model, fast=fast)) for fast in fast_modes]
        for name, renderer in variants:
            frame_s = _timed(lambda renderer=renderer, state=state, udp=udp: renderer.render(state, udp), 1, n)
            rows.append(_renderer_row(preset, size, views, threads, name, renderer.acceleration, frame_s, encode_s))
        if reference:
            frame_s, sheet_s = _reference_flow_times(model, sheet, udp, n)
            rows.append(
                _renderer_row(preset, size, views, threads, "reference flow", "plain, per frame", frame_s, sheet_s)
            )
        if onnxruntime:
            torch_row = rows[-1 - int(reference)]
            frame_s, sheet_s = _onnxruntime_times(model, size, sheet, udp, threads, n)
            rows.append(
                _renderer_row(preset, size, views, threads, "onnxruntime", "ORT CPU, all graph opts", frame_s, sheet_s)
            )
            rows[-1]["ratio_to_torch"] = rows[-1]["frame"]["median_ms"] / torch_row["frame"]["median_ms"]
            print(
                f"|   ONNX Runtime / torch ({torch_row['variant']}): {rows[-1]['ratio_to_torch']:.2f}x per frame |",
                flush=True,
            )
    return rows


_ORT_GRAPHS: dict = {}


def _onnxruntime_times(model, size: int, sheet, udp, threads: int, repeats: int):
    """ONNX Runtime (CPU) on graphs exported from the same weights, timed like the torch rows."""
    import tempfile

    from avatar_app.infer.onnx_export import export_all
    from avatar_app.infer.onnxruntime_backend import OrtFrameRenderer, OrtSheetEncoder
    from avatar_app.infer.torch_backend import udp_tensor

    if size not in _ORT_GRAPHS:
        folder = tempfile.mkdtemp(prefix="bench_onnx_")
        _ORT_GRAPHS[size] = export_all(model, size, folder, graphs=("sheet_encoder", "frame_renderer"))
    paths = _ORT_GRAPHS[size]
    cpu = ["CPUExecutionProvider"]
    encoder = OrtSheetEncoder(paths["sheet_encoder"], threads, cpu)
    renderer = OrtFrameRenderer(paths["frame_renderer"], threads, cpu)
    sheet_s = _timed(lambda: encoder.encode_tensors(*_sheet_tensors(sheet)), 1, max(3, repeats // 2))
    state = encoder.encode_tensors(*_sheet_tensors(sheet))
    target = udp_tensor(udp)
    frame_s = _timed(lambda: renderer.render_tensor(state, target), 1, repeats)
    encoder.close()
    renderer.close()
    return frame_s, sheet_s


def bench_cuda(preset: str, weights: str | None, repeats: int, sizes=(256, 512), views=(1, 4)) -> list[dict]:
    """The torch CUDA path: fp32 vs fp16, with and without CUDA graphs (synchronised timings)."""
    import torch

    from avatar_app.infer import FrameRenderer, SheetEncoder
    from avatar_app.infer.torch_backend import udp_tensor
    from avatar_app.models import create_conr, fill_networks, load_weights_folder

    if not torch.cuda.is_available():
        print("| (skipped: no CUDA GPU on this machine) |")
        return [{"section": "cuda", "skipped": "no CUDA GPU"}]
    gpu = torch.cuda.get_device_name(0)
    model = load_weights_folder(weights) if weights else fill_networks(create_conr(preset, init=False)).eval()
    preset = model.cfg.name
    encoder = SheetEncoder(model, "cuda")
    rows = []
    for size in sizes:
        for m in views:
            sheet, udp = synthetic_inputs(size, m)
            state = encoder.encode(sheet)
            target = udp_tensor(udp, "cuda")
            for precision in ("fp32", "fp16"):
                for graphs in (False, True):
                    renderer = FrameRenderer(model, "cuda", precision=precision, cuda_graphs=graphs)

                    def frame(renderer=renderer, state=state, target=target):
                        renderer.render_tensor(state, target)
                        torch.cuda.synchronize()

                    s = _stats(_timed(frame, 3, max(repeats, 20)))
                    renderer.close()  # its CUDA graph's memory pool, before the next variant captures one
                    row = {
                        "section": "cuda",
                        "gpu": gpu,
                        "preset": preset,
                        "size": size,
                        "views": m,
                        "precision": precision,
                        "cuda_graphs": graphs,
                        "frame": s,
                        "fps": 1000.0 / s["median_ms"],
                    }
                    rows.append(row)
                    print(
                        f"| {gpu[:24]:24s} | {preset:8s} | {size:4d} | {m} | {precision} | "
                        f"{'yes' if graphs else 'no ':3s} | {s['median_ms']:8.2f} | {s['p95_ms']:8.2f} | "
                        f"{row['fps']:7.1f} |",
                        flush=True,
                    )
    return rows


def _renderer_row(preset, size, views, threads, variant, acceleration, frame_s, sheet_s) -> dict:
    row = {
        "section": "renderer",
        "backend": "torch-cpu",
        "preset": preset,
        "size": size,
        "views": views,
        "threads": threads,
        "variant": variant,
        "acceleration": acceleration,
        "frame": _stats(frame_s),
        "sheet_encode": _stats(sheet_s),
    }
    print(
        f"| {preset:8s} | {size:4d} | {views} | {variant:16s} | {acceleration[:26]:26s} | "
        f"{row['frame']['median_ms']:8.0f} | {row['frame']['p95_ms']:8.0f} | {row['sheet_encode']['median_ms']:8.0f} |",
        flush=True,
    )
    return row


def _reference_flow_times(model, sheet, udp, repeats: int):
    """The reference's work per frame and per sheet, timed on this machine.

    Per frame: ``CoNR.forward``, our plain transcription of the reference data flow
    (conformance README §5) with every view in one batch and no per-frame sharing or
    layout tricks, given the sheet features cached as the reference caches them.
    Batching views only flatters the reference (it loops over views), so ratios
    against this row are conservative. Per sheet: the full parser U-Net, which the
    reference runs (backbone + decoder) although rendering needs only the backbone.
    Instance norms run through ``nn.InstanceNorm2d`` as in the reference, not our
    faster CPU kernel.
    """
    import torch

    from avatar_app.infer.torch_backend import sheet_tensors, udp_tensor
    from avatar_app.models import INPUT_MEAN, INPUT_STD
    from avatar_app.models.backbones import reference_instance_norm

    rgb, alpha = sheet_tensors(sheet)
    rgb, alpha = rgb.unsqueeze(0), alpha.unsqueeze(0)
    target = udp_tensor(udp)
    parser = model.udpparsernet
    with torch.inference_mode(), reference_instance_norm():
        norm = (rgb[0] - INPUT_MEAN) / INPUT_STD
        sheet_s = _timed(lambda: parser(norm), 1, max(3, repeats // 2))
        cached = parser.forward_features(norm)
        parser.forward_features = lambda x: cached  # the reference keeps the parser result between frames
        try:
            frame_s = _timed(lambda: model(rgb, alpha, target), 1, repeats)
        finally:
            del parser.forward_features
    return frame_s, sheet_s


def bench_rig(size: int, frames: int, fps: float = 30.0) -> list[dict]:
    """Default avatar, demo motion: FK + springs + skinning, UDP raster, and both, per frame."""
    from avatar_app.raster.character_view import CharacterView
    from avatar_app.rig import DemoMotion, build_default_avatar

    character = build_default_avatar()
    motion = DemoMotion()
    rows = []
    with CharacterView(character, size) as view:
        anim, mesh, raster = view.animator, view.mesh, view.rasterizer
        pose_s, raster_s, total_s = [], [], []
        for k in range(frames + 3):
            t0 = time.perf_counter()
            vertices = anim.update(motion.pose_at(k / fps), 1.0 / fps)
            t1 = time.perf_counter()
            mesh.update(vertices)
            raster.render(mesh, view.camera, udp_only=True)
            t2 = time.perf_counter()
            if k >= 3:
                pose_s.append(t1 - t0)
                raster_s.append(t2 - t1)
                total_s.append(t2 - t0)
    info = f"{character.mesh.positions.shape[0]} vertices, {character.mesh.triangles.shape[0]} triangles"
    for stage, samples in (
        ("pose+springs+skinning", pose_s),
        (f"UDP raster {size}²", raster_s),
        ("rig frame total", total_s),
    ):
        row = {"section": "rig", "stage": stage, "size": size, "mesh": info, **_stats(samples)}
        rows.append(row)
        print(f"| {stage:24s} | {row['median_ms']:7.2f} | {row['p95_ms']:7.2f} |", flush=True)
    return rows


def bench_detail(
    threads: int, sizes=(256, 512), frames: int = 40, weights: str | None = None, steps: int = 6
) -> list[dict]:
    """The drawn-detail pass per frame (built-in character, its four views, demo poses), and one
    ``adapt`` training step (batch 4) with one and four views, side by side in one run."""
    import torch

    from avatar_app.infer.drawn_detail import DrawnDetail
    from avatar_app.infer.udp_grid import DEFAULT_CELLS
    from avatar_app.io.sheet import load_sheet
    from avatar_app.io.sheet_udp import load_sheet_udp
    from avatar_app.pipeline.defaults import DEFAULT_CHARACTER, DEFAULT_WEIGHTS
    from avatar_app.raster.character_view import CharacterView
    from avatar_app.rig import DemoMotion, load_gltf
    from avatar_app.training.adapt import Adapter, AdaptInputs, AdaptSettings
    from avatar_app.training.adapt_data import AdaptSheet

    torch.set_num_threads(threads)
    rows = []
    character = load_gltf(DEFAULT_CHARACTER / "avatar.glb")
    motion = DemoMotion()
    print("| stage | size | views | p50 ms | p95 ms |")
    print("|---|---:|---:|---:|---:|")
    for size in sizes:
        sheet = load_sheet(DEFAULT_CHARACTER / "sheet", size=size)
        udp, _ = load_sheet_udp(DEFAULT_CHARACTER / "sheet_udp", sheet.names, size)
        with CharacterView(character, size) as view:
            maps = [view.render_pose(motion.pose_at(k / 30), 1 / 30, udp_only=True).udp.copy() for k in range(frames)]
        frame = np.zeros((size, size, 4), np.float32)
        for lookup, cells in (("voxel grid", max(DEFAULT_CELLS, size)), ("k-d tree", None)):  # same maps
            t0 = time.perf_counter()
            detail = DrawnDetail(sheet.rgb_premultiplied, sheet.alpha, udp, grid_cells=cells)
            built_ms = 1000.0 * (time.perf_counter() - t0)
            times = []
            for m in maps + maps:  # the grid fills the blocks a frame reads first: timed on the second pass
                frame[..., 3] = m[..., 3]
                t0 = time.perf_counter()
                detail.apply(frame, m)
                times.append(time.perf_counter() - t0)
            stage = (
                f"drawn detail per frame ({lookup}, built in {built_ms:.0f} ms, first frame {times[0] * 1e3:.0f} ms)"
            )
            rows.append({"section": "detail", "stage": stage, "size": size, "views": 4, **_stats(times[len(maps) :])})
            print(f"| {stage} | {size} | 4 | {rows[-1]['median_ms']:.1f} | {rows[-1]['p95_ms']:.1f} |", flush=True)
    sheet = load_sheet(DEFAULT_CHARACTER / "sheet", size=256)
    udp, _ = load_sheet_udp(DEFAULT_CHARACTER / "sheet_udp", sheet.names, 256)
    for views in (1, 4):
        inputs = AdaptInputs(AdaptSheet(sheet.rgb_premultiplied[:views], sheet.alpha[:views], udp[:views]), character)
        adapter = Adapter(inputs, Path(weights) if weights else DEFAULT_WEIGHTS, AdaptSettings(poses=16, holdout=4))
        times = _timed(adapter.train_step, 1, steps)
        rows.append(
            {"section": "detail", "stage": "adapt step (batch 4)", "size": 256, "views": views, **_stats(times)}
        )
        print(
            f"| adapt step (batch 4) | 256 | {views} | {rows[-1]['median_ms']:.0f} | {rows[-1]['p95_ms']:.0f} |",
            flush=True,
        )
    return rows


PIPELINE_HEADER = (
    "| pipeline                                                | size |  src |    fps | pose p50/p95  | rig           "
    "| raster        | render        | alone  | ratio | send          | latency p50/p95   | dropped     |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
)  # alone: the same renderer timed alone just before (CoNR only); ratio: render p50 / alone p50


def _render_alone_ms(renderer, settings, frames: int = 12) -> dict:
    """The pipeline's own renderer timed alone, before its pipeline starts: demo poses rasterized
    first, then each frame back to back (the drawn detail included, as in the render stage); with
    frames in flight, one at a time on its lanes: the frame each lane renders, single-threaded."""
    from avatar_app.core.frames import UdpMap
    from avatar_app.pipeline.defaults import load_character
    from avatar_app.raster.character_view import CharacterView
    from avatar_app.rig import DemoMotion

    motion = DemoMotion()
    with CharacterView(load_character(settings.character), settings.size) as view:
        udps = [UdpMap(view.render_pose(motion.pose_at(k / 30), 1 / 30, udp_only=True).udp) for k in range(frames + 1)]
    poses = iter(udps)
    return _stats(_timed(lambda: renderer.submit(next(poses), None).result(), 1, frames))  # one warm-up frame


def _run_live(name: str, settings, loaders) -> tuple[dict, object]:
    """One pipeline run (``build_pipeline``, as ``stream`` and the window build theirs) into a sink
    that only counts; returns the row (and prints it) and the renderer."""
    from avatar_app.core.frames import RgbaFrame
    from avatar_app.outputs.base import FrameSink
    from avatar_app.pipeline import build_pipeline

    class CountingSink(FrameSink):
        def __init__(self):
            super().__init__(name="null")
            self.sent_at: list[float] = []

        def _send(self, frame: RgbaFrame) -> None:
            self.sent_at.append(time.monotonic())

        def _close(self) -> None:
            pass

    sink = CountingSink()
    pipeline = build_pipeline(settings, [sink], loaders=loaders)
    alone = _render_alone_ms(pipeline.renderer, settings) if settings.renderer == "conr" else None
    with pipeline:
        pipeline.wait()
        status = pipeline.status
    pipeline.raise_if_failed()
    span = sink.sent_at[-1] - sink.sent_at[0] if len(sink.sent_at) > 1 else float("nan")
    fps = (len(sink.sent_at) - 1) / span if span and span > 0 else 0.0
    stages = {
        k: {"p50_ms": v["p50_ms"], "p95_ms": v["p95_ms"], "count": v["count"]} for k, v in status.stages_ms.items()
    }
    row = {
        "section": "pipeline",
        "pipeline": name,
        "size": settings.size,
        "source_fps": settings.fps,
        "frames": status.frames_sent,
        "fps": fps,
        "stages": stages,
        "latency": dict(status.latency_ms),
        "dropped": dict(status.dropped),
    }
    if alone is not None:
        row["render_alone_ms"] = alone
        row["render_ratio"] = stages["render"]["p50_ms"] / alone["median_ms"]

    def cell(stage: str) -> str:
        return f"{stages[stage]['p50_ms']:6.1f}/{stages[stage]['p95_ms']:6.1f}" if stage in stages else f"{'-':>13s}"

    alone_cell = f"{'-':>6s} | {'-':>5s}"
    if alone is not None:
        alone_cell = f"{alone['median_ms']:6.1f} | {row['render_ratio']:5.2f}"
    print(
        f"| {name:55s} | {settings.size:4d} | {settings.fps:4.0f} | {fps:6.2f} | {cell('pose')} | {cell('rig')} | "
        f"{cell('raster')} | {cell('render')} | {alone_cell} | {cell('send')} | "
        f"{status.latency_ms['p50_ms']:8.1f}/{status.latency_ms['p95_ms']:8.1f} | "
        f"{'/'.join(str(v) for v in status.dropped.values()):11s} |",
        flush=True,
    )
    return row, pipeline.renderer


def _bench_loaders(threads: int):
    """Loaders for the pipeline sections: a weights folder, or ``synthetic/<preset>`` for the conformance fill."""
    import torch

    from avatar_app.models import create_conr, fill_networks, load_weights_folder
    from avatar_app.pipeline import Loaders

    torch.set_num_threads(threads)

    def synthetic(weights):  # the folder names the preset; the weights are the conformance fill
        return fill_networks(create_conr(weights.name, init=False)).eval()

    loaders = Loaders(
        networks_loader=lambda weights: load_weights_folder(weights) if weights.is_dir() else synthetic(weights)
    )
    return loaders


def bench_pipeline(
    size: int, frames: int, conr_frames: int, threads: int, big: bool, internal_sizes=None
) -> list[dict]:
    """The live pipeline on the demo source: pose + rig + raster alone, then with CoNR (the shipped
    weights at 1 and 4 views if present, else synthetic lite weights; ``big``: + official, synthetic)
    at each of ``internal_sizes`` (CoNR's own size, frames at ``size``; default: the measured
    default for ``size`` and, if another, ``size`` itself, side by side)."""
    from avatar_app.infer.resample import default_internal_size
    from avatar_app.pipeline import PipelineSettings
    from avatar_app.pipeline.defaults import DEFAULT_CHARACTER, DEFAULT_WEIGHTS
    from avatar_app.pipeline.specs import SourceSpec

    loaders = _bench_loaders(threads)
    demo = PipelineSettings(SourceSpec("demo"), size=size, max_frames=frames)
    rows = [
        _run_live("pose+rig+raster (UDP only)", replace(demo, renderer="udp"), loaders)[0],
        _run_live("pose+rig+raster (UDP only)", replace(demo, renderer="udp", fps=60.0), loaders)[0],
        _run_live("proxy preview (UDP + colour)", demo, loaders)[0],
    ]
    cases = []  # (label, weights folder, views, frames, views per frame, frames in flight)
    if DEFAULT_WEIGHTS.is_dir():
        shipped = f"conr {DEFAULT_WEIGHTS.name} shipped weights"
        cases += [(shipped, DEFAULT_WEIGHTS, v, conr_frames * 4, None, 1) for v in (1, 4)]
        cases += [(shipped, DEFAULT_WEIGHTS, 4, conr_frames * 4, 2, 1)]
        cases += [(shipped, DEFAULT_WEIGHTS, v, conr_frames * 6, None, 2) for v in (1, 4)]
    else:
        cases.append(("conr lite synthetic", Path("synthetic/lite"), 1, conr_frames, None, 1))
    if big:
        cases.append(("conr official synthetic", Path("synthetic/official"), 4, max(2, conr_frames // 2), None, 1))
    internal_sizes = internal_sizes or sorted({default_internal_size(size), size})
    cases = [(*case, internal) for internal in internal_sizes for case in cases]
    for label, weights, views, n, per_frame, in_flight, internal in cases:
        settings = replace(
            demo,
            renderer="conr",
            weights=weights,
            sheet_dir=DEFAULT_CHARACTER / "sheet",
            views=views,
            max_frames=n,
            views_per_frame=per_frame,
            frames_in_flight=in_flight,
            internal_size=internal,
        )
        chosen = f", CoNR at {internal}²" if internal != size else ""
        chosen += f", {per_frame} per frame" if per_frame else ""
        chosen += f", {in_flight} in flight" if in_flight > 1 else ""
        row, renderer = _run_live(f"{label}, {views} view(s){chosen}", settings, loaders)
        row.update(
            preset=loaders.networks(weights).cfg.name,
            views=views,
            views_per_frame=per_frame,
            frames_in_flight=in_flight,
            internal_size=internal,
            sheet_encode_ms=renderer.encode_ms,
            acceleration=renderer.acceleration,
        )
        rows.append(row)
    return rows


def bench_inbetween(size: int, frames: int, threads: int) -> list[dict]:
    """In-between frames (pipeline/inbetween.py): the warp alone on the rig's UDP maps of the demo
    motion, 1..8 source frames after the rendered one; then CoNR pipelines with no in-betweens,
    repeat and warp. ``inbetween`` is the raster thread's time per in-between: what it adds to
    that frame's latency."""
    from avatar_app.core.frames import RgbaFrame
    from avatar_app.pipeline import PipelineSettings, ProxyRenderer, build_pipeline
    from avatar_app.pipeline.defaults import DEFAULT_CHARACTER, DEFAULT_WEIGHTS
    from avatar_app.pipeline.inbetween import warp_render
    from avatar_app.pipeline.specs import SourceSpec

    loaders = _bench_loaders(threads)
    rasters = []
    demo = PipelineSettings(SourceSpec("demo"), size=size, max_frames=40)

    def tap(stage, frame):
        if stage == "raster":
            rasters.append((frame.udp, frame.color))

    with build_pipeline(demo, [], loaders=loaders, tap=tap) as pipeline:
        pipeline.wait()
    proxy, rows = ProxyRenderer(), []
    print("| in-between | frames after the render | p50 ms | p95 ms |")
    print("|---|---:|---:|---:|")
    for gap in (1, 4, 8):
        pairs = [(rasters[i], rasters[i + gap]) for i in range(8, len(rasters) - gap)]
        for mode in ("repeat", "warp"):
            times = []
            for (udp0, color0), (udp1, _) in pairs:
                render = proxy.render(udp0, color0)
                started = time.perf_counter()
                if mode == "warp":
                    warp_render(render, udp0, udp1)
                else:
                    RgbaFrame(render.data, timestamp=udp1.timestamp)
                times.append(time.perf_counter() - started)
            stats = _stats(times)
            rows.append({"section": "inbetween", "mode": mode, "size": size, "gap_frames": gap, **stats})
            print(f"| {mode:10s} | {gap:23d} | {stats['median_ms']:6.2f} | {stats['p95_ms']:6.2f} |", flush=True)
    weights = DEFAULT_WEIGHTS if DEFAULT_WEIGHTS.is_dir() else Path("synthetic/lite")
    conr = replace(
        demo, renderer="conr", weights=weights, sheet_dir=DEFAULT_CHARACTER / "sheet", views=4, max_frames=frames
    )
    print(f"# CoNR {weights.name}, 4 views, demo source at 30 fps, {frames} frames to the sink")
    print(PIPELINE_HEADER)
    for mode in (None, "repeat", "warp"):
        row, _ = _run_live(f"conr, in-betweens {mode or 'off'}", replace(conr, inbetween=mode), loaders)
        rows.append({**row, "inbetween": mode})
    for row in rows[-2:]:
        cost = row["stages"].get("inbetween", {})
        print(
            f"in-between {row['inbetween']}: {cost.get('count', 0)} of {row['frames']} frames, "
            f"p50 {cost.get('p50_ms', float('nan')):.2f} / p95 {cost.get('p95_ms', float('nan')):.2f} ms each"
        )
    return rows


def _sheet_tensors(sheet):
    from avatar_app.infer.torch_backend import sheet_tensors

    return sheet_tensors(sheet)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    p.add_argument("--preset", default="official", help="network sizes, with the conformance fill as weights")
    p.add_argument(
        "--weights", default=None, help="time trained weights from this folder instead (preset from its model.json)"
    )
    p.add_argument("--big", action="store_true", help="also 512², M=4 (slow on CPU)")
    p.add_argument("--views", default="1,2,4", help="view counts at 256² (default 1,2,4)")
    p.add_argument("--repeats", type=int, default=7, help="timed frames per case (after 1 warm-up)")
    p.add_argument("--compare-plain", action="store_true", help="also time the shader with plain convolutions")
    p.add_argument(
        "--reference", action="store_true", help="also time the reference data flow side by side (per frame, per sheet)"
    )
    p.add_argument(
        "--onnxruntime",
        action="store_true",
        help="also time ONNX Runtime (CPU) on graphs exported from the same weights",
    )
    p.add_argument(
        "--sections",
        default=None,
        help="comma list of: rig, renderer, pipeline, inbetween, detail, cuda (default rig,renderer)",
    )
    p.add_argument(
        "--pipeline", action="store_true", help="the live pipeline section (alone unless --sections is given)"
    )
    p.add_argument("--pipeline-frames", type=int, default=150, help="frames per pose+rig+raster run (default 150)")
    p.add_argument("--pipeline-conr-frames", type=int, default=4, help="frames of the CoNR pipeline runs (default 4)")
    p.add_argument("--pipeline-size", type=int, default=256, help="pipeline output size (default 256)")
    p.add_argument(
        "--internal-sizes",
        default=None,
        help="comma list of CoNR's internal sizes for the pipeline rows (default: the app's default for "
        "--pipeline-size and --pipeline-size itself)",
    )
    p.add_argument("--json", default="out/bench.json", help="where to write the results (default out/bench.json)")
    args = p.parse_args(argv)

    if args.sections is None:
        sections = {"pipeline"} if args.pipeline else {"rig", "renderer"}
    else:
        sections = set(args.sections.split(",")) | ({"pipeline"} if args.pipeline else set())
    rows = []
    if "rig" in sections:
        print("# rig: default avatar, demo motion, 30 fps (springs substep at 1/120 s)")
        print("| stage                    | p50 ms  | p95 ms  |")
        print("|---|---:|---:|")
        rows += bench_rig(512, 60)
    if "renderer" in sections:
        cases = [(256, int(v)) for v in args.views.split(",") if v]
        if args.big:
            cases.append((512, 4))
        print(f"# renderer, torch CPU, {args.threads} threads, {platform.processor() or platform.machine()}")
        print(
            "| preset   | size | M | variant          | shader convolutions        | frame p50 ms | p95 ms | sheet ms |"
        )
        print("|---|---:|---:|---|---|---:|---:|---:|")
        modes = (True, False) if args.compare_plain else (True,)
        rows += on_torch_thread(  # where the pipeline renders too (infer.torch_thread)
            bench_renderer,
            cases,
            args.threads,
            args.preset,
            args.repeats,
            modes,
            args.reference,
            args.onnxruntime,
            args.weights,
        )
    if "cuda" in sections:
        print("# renderer, torch CUDA: fp32 vs fp16 (FP32 warps/norms), with and without CUDA graphs")
        print("| GPU                      | preset   | size | M | precision | graphs | frame p50 ms | p95 ms | fps |")
        print("|---|---|---:|---:|---|---|---:|---:|---:|")
        rows += on_torch_thread(bench_cuda, args.preset, args.weights, args.repeats)
    if "pipeline" in sections:
        print(
            f"# live pipeline, demo source, {args.threads} threads: stage p50/p95 ms, "
            "latency = source timestamp -> sink"
        )
        print(PIPELINE_HEADER)
        internal = [int(v) for v in args.internal_sizes.split(",") if v] if args.internal_sizes else None
        rows += bench_pipeline(
            args.pipeline_size, args.pipeline_frames, args.pipeline_conr_frames, args.threads, args.big, internal
        )
    if "detail" in sections:
        print(f"# drawn detail and adapt, {args.threads} threads")
        rows += on_torch_thread(bench_detail, args.threads, weights=args.weights)
    if "inbetween" in sections:
        print(f"# in-between frames, {args.pipeline_size}², {args.threads} threads")
        rows += bench_inbetween(args.pipeline_size, args.pipeline_frames, args.threads)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    out.write_text(json.dumps({"meta": meta, "results": rows}, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
