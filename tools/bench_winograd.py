#!/usr/bin/env python3
"""Micro-benchmark: stock conv vs Winograd layer on the shader's real shapes (256², M=4).

Each row times the stock layer on an NCHW input, the stock layer on a channels_last
input and the Winograd layer on the channels_last input, interleaved round by round in
one process (the machine is shared: compare within a run, not across runs). The
ratio is stock channels_last / Winograd. Errors are ``max|y - ref| / max|ref|``
against a float64 reference.

    python tools/bench_winograd.py                          # 2 threads, wall clock
    python tools/bench_winograd.py --threads 1 --clock thread  # CPU time of this thread:
                                                             # robust when others load the CPU
    python tools/bench_winograd.py --extra --json out/winograd.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# (kind, C_in, C_out, input H = W): the shader at 256², batch N*M = 4
SHADER_SHAPES = [
    ("conv3x3", 224, 224, 64),  # level 5 residual groups (12 layers)
    ("conv3x3", 224, 224, 32),  # level 4 (6)
    ("conv3x3", 224, 224, 16),  # level 3 (6)
    ("convT", 224, 224, 64),  # level 5 conv_last.0
    ("convT", 224, 164, 128),  # level 5 conv_last.2
    ("convT", 224, 260, 64),  # level 4 conv_last.2
    ("convT", 224, 836, 32),  # level 3 conv_last.2
]
EXTRA_SHAPES = [
    ("conv3x3", 224, 224, 8),  # level 2
    ("conv3x3", 224, 224, 4),  # level 1: below MIN_PIXELS, stock path in the app
    ("convT", 224, 224, 16),  # level 3 conv_last.0
    ("convT", 224, 224, 8),  # level 2 conv_last.0
    ("convT", 224, 1604, 16),  # level 2 conv_last.2: plan 144 MB, skipped by default
    ("conv3x3", 64, 64, 256),  # RGBA decoder: below MIN_CHANNELS
]


def _layers(kind: str, c_in: int, c_out: int):
    import torch
    from torch import nn

    from avatar_app.infer.winograd import Winograd3x3, WinogradConvTranspose4x4

    torch.manual_seed(0)
    if kind == "conv3x3":
        stock = nn.Conv2d(c_in, c_out, 3, padding=1)
        fast = Winograd3x3(stock, min_pixels=0)
    else:
        stock = nn.ConvTranspose2d(c_in, c_out, 4, 2, 1)
        fast = WinogradConvTranspose4x4(stock, min_pixels=0)
    with torch.no_grad():  # the synthetic checkpoints' scale: variance gain 1.5 over fan-in
        stock.weight.normal_(0.0, (1.5 / (c_in * (9 if kind == "conv3x3" else 4))) ** 0.5)
        stock.bias.normal_(0.0, 0.1)
    return stock, fast


def _reference(kind: str, stock, x):
    import torch.nn.functional as F

    w, b = stock.weight.double(), stock.bias.double()
    if kind == "conv3x3":
        return F.conv2d(x.double(), w, b, padding=1)
    return F.conv_transpose2d(x.double(), w, b, stride=2, padding=1)


def bench_case(kind: str, c_in: int, c_out: int, size: int, batch: int, repeats: int, clock: str) -> dict:
    import torch
    import torch.nn.functional as F

    stock, fast = _layers(kind, c_in, c_out)
    torch.manual_seed(1)
    x = F.leaky_relu(torch.randn(batch, c_in, size, size), 0.25)  # post-PReLU-like activations
    x_cl = x.contiguous(memory_format=torch.channels_last)
    tick = time.thread_time if clock == "thread" else time.perf_counter
    fns = {"stock_nchw": lambda: stock(x), "stock_cl": lambda: stock(x_cl), "winograd_cl": lambda: fast(x_cl)}
    samples: dict[str, list[float]] = {k: [] for k in fns}
    with torch.inference_mode():
        ref = _reference(kind, stock, x)
        scale = ref.abs().max()
        errors = {k: ((f().double() - ref).abs().max() / scale).item() for k, f in fns.items()}  # also the warm-up
        for _ in range(repeats):
            for k, f in fns.items():
                t = tick()
                f()
                samples[k].append((tick() - t) * 1e3)
    stats = {k: {"median_ms": sorted(v)[len(v) // 2], "min_ms": min(v)} for k, v in samples.items()}
    layer = f"{kind} {c_in}->{c_out} @ {size}x{size}"
    return {
        "layer": layer,
        "kind": kind,
        "c_in": c_in,
        "c_out": c_out,
        "size": size,
        "batch": batch,
        "tile": "F(6,3)"
        if kind == "conv3x3" and size * size >= 48 * 48
        else ("F(4,3)" if kind == "conv3x3" else "4x F(4,2)"),
        "times": stats,
        "ratio_median": stats["stock_cl"]["median_ms"] / stats["winograd_cl"]["median_ms"],
        "ratio_min": stats["stock_cl"]["min_ms"] / stats["winograd_cl"]["min_ms"],
        "max_rel_err": {"stock": errors["stock_cl"], "winograd": errors["winograd_cl"]},
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=4, help="N*M samples per layer call (default 4: 256², M=4)")
    p.add_argument("--repeats", type=int, default=7, help="timed rounds per layer (after one warm-up)")
    p.add_argument("--clock", choices=("wall", "thread"), default="wall", help="thread = CPU time, needs --threads 1")
    p.add_argument("--extra", action="store_true", help="also smaller levels and skipped layers")
    p.add_argument(
        "--no-retain", action="store_true", help="keep glibc's default of returning freed memory (page faults)"
    )
    p.add_argument("--json", metavar="OUT", help="write the rows as JSON")
    args = p.parse_args(argv)
    if args.clock == "thread" and args.threads != 1:
        p.error("--clock thread measures one thread's CPU time; use it with --threads 1")

    import torch

    from avatar_app.infer.cpu_memory import retain_freed_memory

    torch.set_num_threads(args.threads)
    if not args.no_retain:  # as FrameRenderer does: per-call tensors reuse the heap instead of page-faulting
        retain_freed_memory()
    load_before = os.getloadavg()[0]
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), {args.clock} clock, batch {args.batch}, "
        f"{platform.processor() or platform.machine()}, load {load_before:.2f}"
    )
    columns = ("layer", "tile", "stock NCHW ms", "stock CL ms", "winograd ms", "ratio", "max rel err")
    header = "| " + " | ".join(f"{c:{w}s}" for c, w in zip(columns, (28, 9, 13, 11, 11, 5, 11))) + " |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    rows = []
    for kind, c_in, c_out, size in SHADER_SHAPES + (EXTRA_SHAPES if args.extra else []):
        row = bench_case(kind, c_in, c_out, size, args.batch, args.repeats, args.clock)
        rows.append(row)
        t = row["times"]
        print(
            f"| {row['layer']:28s} | {row['tile']:9s} | {t['stock_nchw']['median_ms']:13.1f} | "
            f"{t['stock_cl']['median_ms']:11.1f} | {t['winograd_cl']['median_ms']:11.1f} | "
            f"{row['ratio_median']:5.2f} | {row['max_rel_err']['winograd']:11.1e} |",
            flush=True,
        )
    total_stock = sum(r["times"]["stock_cl"]["median_ms"] for r in rows)
    total_fast = sum(r["times"]["winograd_cl"]["median_ms"] for r in rows)
    print(
        f"sum of medians: stock CL {total_stock:.0f} ms, winograd {total_fast:.0f} ms ({total_stock / total_fast:.2f}x)"
    )
    print(
        f"load average {load_before:.2f} -> {os.getloadavg()[0]:.2f} "
        "(well above 0: shared machine, prefer --clock thread)"
    )
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "torch": torch.__version__,
            "threads": args.threads,
            "clock": args.clock,
            "batch": args.batch,
            "repeats": args.repeats,
            "retain_freed_memory": not args.no_retain,
            "machine": platform.machine(),
            "load_before": load_before,
        }
        out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
