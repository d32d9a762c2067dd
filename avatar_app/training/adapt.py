"""Adapting CoNR to one character in minutes: the loop behind ``avatar-app adapt``.

The shipped weights have seen only synthetic characters; a user's sheet is training data
for that one character, and its fitted UDP maps say where every drawn pixel sits on the
body (``adapt_data.py`` makes the pairs). What makes minutes enough on a CPU:

* **The sheet never changes**, so its encoder (``udpparsernet``) stays frozen and its
  feature pyramid is computed once: a step runs only the pose encoder, the shader and
  the RGBA decoder, forward and back (0.56 s for 4 samples at 256² with one view on 2 cores,
  `tools/bench.py --sections detail`).
* **Re-posings, not just the drawings.** Fine-tuning on the drawings alone teaches the
  drawn pose and forgets the others (measured in the issue: -1.3 dB on new poses); the
  proxy re-posed with colours looked up in the sheet teaches every pose the rig makes.
* **The face weighs more** (``face_weight``): it is a few per cent of the pixels and
  most of what makes a character recognisable.

The learning rate is constant after a short warm-up, so a run stopped at any minute is the
run of that length, and a resumed run goes on exactly as an uninterrupted one would
(batches are a pure function of ``(seed, step)``). The best weights by the held-out
re-posings' loss are kept; Ctrl-C (``cancel``) stops after the current step with them.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from avatar_app.core.errors import SettingError
from avatar_app.models import CoNR, load_weights_folder
from avatar_app.training import adapt_progress as stages
from avatar_app.training.adapt_data import AdaptSheet, PosePool, Targets, augment_batch, lookup_targets, view_targets
from avatar_app.training.adapt_progress import PrepareProgress
from avatar_app.training.drawn_family import face_mask

log = logging.getLogger(__name__)

__all__ = ["AdaptInputs", "AdaptProgress", "AdaptSettings", "Adapter", "check_device"]


@dataclass
class AdaptSettings:
    """What defines an adaptation (saved with its state; a resumed run must match)."""

    minutes: float = 15.0  # total budget, resumed time included
    size: int = 256
    batch: int = 4
    lr: float = 5e-4
    warmup: int = 20
    poses: int = 256  # re-posings in the training pool
    holdout: int = 8  # more re-posings, never trained on: the loss that picks the best weights
    view_share: float = 0.25  # of samples that are the drawings themselves
    face_weight: float = 4.0
    seed: int = 0
    device: str = "cpu"
    eval_every_s: float = 60.0
    preview_every_s: float = 180.0

    IDENTITY = ("size", "batch", "lr", "warmup", "poses", "holdout", "view_share", "face_weight", "seed")

    def identity(self) -> dict:
        return {k: getattr(self, k) for k in self.IDENTITY}


@dataclass
class AdaptInputs:
    """One character: its prepared sheet with UDP, its proxy rig, its live framing."""

    sheet: AdaptSheet
    character: object  # rig.Character: the proxy body
    framing: str | float = "full"
    face_region: tuple | None = None  # drawn_family.face_region_udp of the proxy, when known
    name: str = "character"


@dataclass
class AdaptProgress:
    step: int
    elapsed_s: float
    total_s: float
    loss: float
    holdout: float
    best: float


@dataclass
class History:
    """What adapt.json reports: the held-out loss over time, and the train loss between."""

    holdout: list = field(default_factory=list)  # [step, elapsed_s, loss]
    train: list = field(default_factory=list)  # [step, mean loss since the previous entry]


def check_device(device: str) -> torch.device:
    """``--device`` as a torch device; a CUDA device asked for and missing is a clear error."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise SettingError(
            "--device", "cpu, cuda or cuda:N", repr(device), "use --device cpu or --device cuda"
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SettingError(
            f"--device {device}",
            "a CUDA GPU that PyTorch can use",
            "none (torch.cuda.is_available() is False: no NVIDIA driver, or a CPU build of PyTorch)",
            "leave out --device to adapt on the CPU, or install a CUDA build of PyTorch",
        )
    if dev.type not in ("cpu", "cuda"):
        raise SettingError("--device", "cpu or cuda", repr(device), "use --device cpu or --device cuda")
    return dev


def _weighted_face(targets: Targets, region, weight: float) -> Targets:
    if region is None or weight == 1.0:
        return targets
    for i in range(len(targets)):
        targets.rgb_weight[i, 0][face_mask(targets.udp[i], region)] *= weight
    return targets


class _FixedSheetForward(nn.Module):
    """CoNR with the sheet's feature pyramid computed once (the parser is frozen)."""

    def __init__(self, model: CoNR, sheet: AdaptSheet, device):
        super().__init__()
        self.model = model
        s = sheet.size
        self.rgb = (torch.from_numpy(sheet.rgb).float() / 255.0)[None].to(device)
        self.alpha = (torch.from_numpy(sheet.alpha).float() / 255.0)[None].to(device)
        with torch.no_grad():
            feats = model.udpparsernet.forward_features(CoNR.normalise(self.rgb.reshape(-1, 3, s, s)))
        self.feats = [f.detach() for f in feats]
        self._logits: list[torch.Tensor] = []
        model.rgbadecodernet.conv_rgba[0].register_forward_hook(lambda _m, _i, out: self._logits.append(out))

    def forward(self, target_udp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[N,4,S,S]`` UDP -> (RGBA ``[N,4,S,S]``, alpha logits ``[N,1,S,S]``)."""
        n = target_udp.shape[0]
        self._logits.clear()
        pred = self.model(
            self.rgb.expand(n, -1, -1, -1, -1),
            self.alpha.expand(n, -1, -1, -1, -1),
            CoNR.target_input(target_udp[:, :3], target_udp[:, 3:4]),
            sheet_features=[f.repeat(n, 1, 1, 1) for f in self.feats],
        )
        return pred, self._logits.pop()[:, 3:4]


def adapt_loss(pred, logits, batch) -> torch.Tensor:
    """L1 on colour where the target claims one, cross-entropy on alpha logits, both weighted."""
    gt, w, aw = batch["rgba"], batch["rgb_weight"], batch["alpha_weight"]
    rgb = ((pred[:, :3] - gt[:, :3]).abs() * w).sum() / (3.0 * w.sum() + 1.0)
    alpha = (F.binary_cross_entropy_with_logits(logits, gt[:, 3:4], reduction="none") * aw).sum() / aw.sum()
    return rgb + alpha


class Adapter:
    """One adaptation in memory: the model, its data, the optimiser, the step count.

    ``run_until(seconds)`` trains; ``state()``/``load_state()`` are what a checkpoint holds.
    The held-out poses are made here; the training poses (the bulk of the preparation) by
    `prepare_training`, which ``run_until`` and ``batch`` call when it has not run, so that
    ``progress`` (a `PrepareProgress`) can time every kind of work before the bulk starts.
    """

    def __init__(
        self,
        inputs: AdaptInputs,
        init_weights,
        s: AdaptSettings,
        *,
        cancel=lambda: False,
        progress: PrepareProgress | None = None,
    ):
        self.s, self.inputs = s, inputs
        self.device = check_device(s.device)
        if inputs.sheet.size != s.size:
            raise SettingError(
                "adapt size", f"the sheet's size {inputs.sheet.size}", str(s.size), "load the sheet at --size"
            )
        self.model = (init_weights if isinstance(init_weights, CoNR) else load_weights_folder(init_weights)).to(
            self.device
        )
        self.model.requires_grad_(True)
        frozen = (
            self.model.udpparsernet,
            self.model.target_pose_encoder.upsample_blocks,
            self.model.target_pose_encoder.final_conv,
        )
        for module in frozen:
            module.requires_grad_(False)
        self.forward = _FixedSheetForward(self.model, inputs.sheet, self.device)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = torch.optim.AdamW(self.params, lr=s.lr, weight_decay=0.0)
        self.progress = progress or PrepareProgress.quiet()
        self._cancel = cancel
        self._pool = PosePool(inputs.character, inputs.framing, s.size, seed=s.seed)
        held = self._poses(s.poses, s.holdout, stages.HELD_OUT_POSES)  # poses are a function of (seed, index)
        self.progress.begin(stages.HELD_OUT_COLOURS)
        self.holdout = lookup_targets(inputs.sheet, held)
        self.progress.advance(stages.HELD_OUT_COLOURS, s.holdout)
        self.views = _weighted_face(view_targets(inputs.sheet), inputs.face_region, s.face_weight)
        self._views_t = self.views.tensors()
        self._holdout_t = {k: v.to(self.device) for k, v in self.holdout.tensors().items()}
        self.train_poses: Targets | None = None
        self._train_t: dict[str, torch.Tensor] = {}
        self.step, self.elapsed = 0, 0.0
        self.best_loss, self.best_state = math.inf, None
        self.history = History()
        self._best = None  # (best_state, its forward) for render_best

    # -- data ---------------------------------------------------------------

    def _poses(self, first: int, count: int, stage: str) -> np.ndarray:
        self.progress.begin(stage)
        udps = self._pool.render(first, count, self._cancel, lambda: self.progress.advance(stage))
        if len(udps) < count:
            raise KeyboardInterrupt  # cancelled while rendering the poses: nothing to keep yet
        return udps

    def prepare_training(self) -> None:
        """The training poses and their colours (once)."""
        if self.train_poses is not None:
            return
        s = self.s
        udps = self._poses(0, s.poses, stages.TRAINING_POSES)
        self.progress.begin(stages.TRAINING_COLOURS)
        targets = lookup_targets(self.inputs.sheet, udps)
        self.train_poses = _weighted_face(targets, self.inputs.face_region, s.face_weight)
        self._train_t = self.train_poses.tensors()
        self.progress.advance(stages.TRAINING_COLOURS, s.poses)

    def score_start(self) -> None:
        """The starting weights' held-out loss, the first "best" (not again on a resumed run, which has it)."""
        if self.step == 0 and not self.history.holdout:
            self.progress.begin(stages.SCORING)
            self.score_and_keep_best(each=lambda n: self.progress.advance(stages.SCORING, n))

    def batch(self, step: int) -> dict[str, torch.Tensor]:
        """The augmented batch of ``step``: a pure function of ``(seed, step)``."""
        self.prepare_training()
        gen = torch.Generator().manual_seed(self.s.seed * 1_000_003 + step)
        idx = torch.randint(0, len(self.train_poses), (self.s.batch,), generator=gen)
        from_views = torch.rand(self.s.batch, generator=gen) < self.s.view_share
        view_idx = torch.randint(0, len(self.views), (self.s.batch,), generator=gen)
        out = {}
        for key, pool in self._train_t.items():
            items = [self._views_t[key][view_idx[i]] if from_views[i] else pool[idx[i]] for i in range(self.s.batch)]
            out[key] = torch.stack(items)
        return {k: v.to(self.device) for k, v in augment_batch(out, gen).items()}

    # -- scores ---------------------------------------------------------------

    @torch.no_grad()
    def holdout_loss(self, each: Callable[[int], None] = lambda n: None) -> float:
        """The loss on the held-out poses (``each(n)`` after every batch of ``n``)."""
        self.model.eval()
        total = 0.0
        n = len(self.holdout)
        for i in range(0, n, self.s.batch):
            part = {k: v[i : i + self.s.batch] for k, v in self._holdout_t.items()}
            pred, logits = self.forward(part["udp"])
            total += float(adapt_loss(pred, logits, part)) * part["udp"].shape[0]
            each(part["udp"].shape[0])
        self.model.train()
        return total / n

    @torch.no_grad()
    def render(self, udp: np.ndarray) -> np.ndarray:
        """UDP ``[4,S,S]`` -> premultiplied RGBA ``[4,S,S]`` with the current weights."""
        self.model.eval()
        pred, _ = self.forward(torch.from_numpy(np.ascontiguousarray(udp))[None].to(self.device))
        self.model.train()
        return pred[0].clamp(0, 1).cpu().numpy()

    @torch.no_grad()
    def render_best(self, udp: np.ndarray) -> np.ndarray:
        """Like :meth:`render`, with the best weights so far (what ``weights/`` gets)."""
        if self.best_state is None:
            return self.render(udp)
        if self._best is None or self._best[0] is not self.best_state:
            model = self.best_model().to(self.device)
            self._best = (self.best_state, _FixedSheetForward(model, self.inputs.sheet, self.device))
        pred, _ = self._best[1](torch.from_numpy(np.ascontiguousarray(udp))[None].to(self.device))
        return pred[0].clamp(0, 1).cpu().numpy()

    # -- training -------------------------------------------------------------

    def _lr(self, step: int) -> float:
        return self.s.lr * min(1.0, (step + 1) / max(1, self.s.warmup))

    def train_step(self) -> float:
        for g in self.opt.param_groups:
            g["lr"] = self._lr(self.step)
        batch = self.batch(self.step)
        pred, logits = self.forward(batch["udp"])
        loss = adapt_loss(pred, logits, batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"adapt: the loss became {float(loss.detach())} at step {self.step}: lower --lr")
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.params, 1.0)
        self.opt.step()
        self.step += 1
        return float(loss.detach())

    def score_and_keep_best(self, each: Callable[[int], None] = lambda n: None) -> float:
        loss = self.holdout_loss(each)
        self.history.holdout.append([self.step, round(self.elapsed, 1), round(loss, 5)])
        if loss < self.best_loss:
            self.best_loss = loss
            self.best_state = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}
        return loss

    def run_until(
        self,
        total_s: float,
        *,
        cancel: Callable[[], bool] = lambda: False,
        report: Callable[[AdaptProgress], None] = lambda p: None,
        checkpoint: Callable[[], None] = lambda: None,
        preview: Callable[[], None] = lambda: None,
        steps: int | None = None,
    ) -> bool:
        """Train until ``elapsed`` reaches ``total_s`` or the step count ``steps`` (True), or ``cancel()`` (False).

        The held-out loss is scored every ``eval_every_s`` and at the end; ``checkpoint``
        runs after each score, ``preview`` every ``preview_every_s``.
        """
        self.score_start()  # the shipped weights are the first "best"
        self.prepare_training()
        start, elapsed0 = time.perf_counter(), self.elapsed
        next_eval = self.elapsed + self.s.eval_every_s
        next_preview = self.elapsed + self.s.preview_every_s
        losses: list[float] = []
        loss = math.nan
        holdout = self.history.holdout[-1][2]
        finished = True
        while self.elapsed < total_s and (steps is None or self.step < steps):
            if cancel():
                finished = False
                break
            loss = self.train_step()
            losses.append(loss)
            self.elapsed = elapsed0 + time.perf_counter() - start
            last = self.elapsed >= total_s or (steps is not None and self.step >= steps)
            if self.elapsed >= next_eval or last:
                holdout = self.score_and_keep_best()
                self.history.train.append([self.step, round(float(np.mean(losses)), 5)])
                losses = []
                next_eval += self.s.eval_every_s
                checkpoint()
            if self.elapsed >= next_preview:
                next_preview += self.s.preview_every_s
                preview()
            report(AdaptProgress(self.step, self.elapsed, total_s, loss, holdout, self.best_loss))
        if losses:
            self.score_and_keep_best()
            self.history.train.append([self.step, round(float(np.mean(losses)), 5)])
            checkpoint()
        return finished

    # -- checkpoints ------------------------------------------------------------

    def state(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "step": self.step,
            "elapsed": self.elapsed,
            "best_loss": self.best_loss,
            "best_state": self.best_state,
            "history": asdict(self.history),
            "settings": self.s.identity(),
        }

    def load_state(self, state: dict, source) -> None:
        if state.get("settings") != self.s.identity():
            raise SettingError(
                source,
                f"an adaptation with these settings {self.s.identity()}",
                f"one made with {state.get('settings')}",
                "run with the same settings, or pass --restart to start over",
            )
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.step, self.elapsed = int(state["step"]), float(state["elapsed"])
        self.best_loss, self.best_state = float(state["best_loss"]), state["best_state"]
        self.history = History(**state["history"])

    def best_model(self) -> CoNR:
        """The weights with the lowest held-out loss so far (a copy; training goes on unchanged)."""
        from avatar_app.models import create_conr

        best = create_conr(self.model.cfg.name, init=False)
        best.load_state_dict(self.best_state if self.best_state is not None else self.model.state_dict())
        return best.eval()
