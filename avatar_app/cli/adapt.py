"""`avatar-app adapt`: fine-tune the renderer to one character folder in minutes.

    avatar-app adapt --character CHAR [--minutes 15] [--device cuda] [--weights DIR] [--restart]

Needs the folder `avatar-app fit` made (its ``sheet_udp/``). Writes ``CHAR/weights/``, which
everything that loads the character then uses (``--weights`` still overrides). Ctrl-C stops
after the current step and writes the best weights so far; running it again resumes
(``--minutes`` is the total, resumed time included).
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("adapt", help="fine-tune the renderer to one character folder (made by `avatar-app fit`)")
    p.add_argument("--character", required=True, help="the character folder (from avatar-app fit)")
    p.add_argument("--minutes", type=float, default=15.0, help="total training time, resumed time included (15)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--weights", default=None, help="weights to start from (default: the shipped lite weights)")
    p.add_argument("--size", type=int, default=256, help="the model size to adapt at (256)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for PyTorch (default: all cores)")
    p.add_argument("--restart", action="store_true", help="forget an interrupted run and start over")
    p.add_argument("--progress", choices=("bar", "lines"), default="bar", help="a progress bar, or one line per second")
    p.set_defaults(func=run)


def _minutes(value: float) -> float:
    from avatar_app.core.errors import SettingError

    if not (value == value and 0.0 < value <= 24 * 60):
        raise SettingError("--minutes", "a time in minutes, more than 0 and at most 1440", repr(value), "use e.g. 15")
    return float(value)


def run(args) -> int:
    from avatar_app.core.frames import check_model_size
    from avatar_app.pipeline.defaults import DEFAULT_WEIGHTS
    from avatar_app.training.adapt import AdaptSettings, check_device
    from avatar_app.training.adapt_folder import adapt_folder

    size = check_model_size(args.size, "--size")
    check_device(args.device)
    settings = AdaptSettings(minutes=_minutes(args.minutes), size=size, device=args.device)
    if args.threads:
        import torch

        torch.set_num_threads(int(args.threads))
    cancel = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.set())
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    report, close = _progress(args.progress, settings.minutes * 60.0)
    try:
        result = adapt_folder(
            Path(args.character),
            settings,
            init=Path(args.weights) if args.weights else DEFAULT_WEIGHTS,
            restart=args.restart,
            cancel=cancel.is_set,
            report=report,
            note=say,
            preparing=_preparing(args.progress, say),
        )
    except KeyboardInterrupt:
        say("adapt: stopped before training began; nothing was written")
        return 130
    finally:
        close()
        signal.signal(signal.SIGINT, previous)
    r = result.report
    state = "done" if result.finished else "stopped (run it again to resume)"
    say(
        f"adapt {state}: {r['steps']} steps in {r['train_seconds'] / 60:.1f} min on {r['device']}; "
        f"held-out loss {r['holdout_loss_before']:.4f} -> {r['holdout_loss_best']:.4f}; "
        f"wrote {result.weights} (look at {result.weights / 'preview.png'})"
    )
    return 0 if result.finished else 130


def _preparing(kind: str, say):
    """How the preparation goes: ``preparing ELAPSED LEFT DONE TOTAL STAGE`` lines for the window (LEFT
    ``-`` until it can be estimated), or a note per stage on stderr."""
    last = {"stage": None, "t": -1.0}

    def line(p) -> None:
        if p.stage == last["stage"] and p.elapsed_s - last["t"] < 0.5 and p.done < p.total:
            return
        left = "-" if p.left_s is None else f"{p.left_s:.1f}"
        print(f"preparing {p.elapsed_s:.1f} {left} {p.done} {p.total} {p.stage}", flush=True)
        last["stage"], last["t"] = p.stage, p.elapsed_s

    def note(p) -> None:
        if p.stage != last["stage"]:
            left = "" if p.left_s is None else f" (preparation: about {p.left_s / 60:.1f} min left)"
            say(f"adapt: {p.stage}{left} ...")
            last["stage"] = p.stage

    return line if kind == "lines" else note


def _progress(kind: str, total_s: float):
    """(report, close) for a tqdm bar over training seconds, or plain lines for the window to read."""
    if kind == "lines":
        last = [-1.0]

        def line(p) -> None:
            if p.elapsed_s - last[0] >= 1.0:
                last[0] = p.elapsed_s
                print(
                    f"progress {p.elapsed_s:.1f} {p.total_s:.1f} step {p.step} loss {p.loss:.4f} "
                    f"holdout {p.holdout:.4f} best {p.best:.4f}",
                    flush=True,
                )

        return line, lambda: None
    from tqdm import tqdm

    bar = tqdm(total=round(total_s), unit="s", desc="adapt", dynamic_ncols=True)

    def update(p) -> None:
        bar.n = min(round(p.elapsed_s), bar.total)
        bar.set_postfix(step=p.step, loss=f"{p.loss:.4f}", holdout=f"{p.holdout:.4f}", refresh=False)
        bar.refresh()

    return update, bar.close
