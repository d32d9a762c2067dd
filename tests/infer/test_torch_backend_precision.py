"""Mixed precision and CUDA graphs in the torch FrameRenderer.

On CPU, bf16 exercises the same code as fp16 on CUDA: convolutions under autocast,
InstanceNorm and everything between shader blocks in FP32. The CUDA-only parts (fp16,
CUDA graphs, the pinned read-back) are the ``gpu``-marked test.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from avatar_app.core.errors import SettingError
from avatar_app.core.frames import UdpMap
from avatar_app.infer.torch_backend import FrameRenderer, SheetEncoder

SIZE = 128


def _errors(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    d = (a.float() - b.float()).abs()
    return float(d.max()), float(d.mean())


def test_bf16_renders_close_to_fp32_with_fp32_warps(lite_networks, make_sheet, make_target):
    state = SheetEncoder(lite_networks).encode(make_sheet(3, SIZE))
    target = make_target(SIZE)
    ref = FrameRenderer(lite_networks, fast=False).render_tensor(state, target)
    renderer = FrameRenderer(lite_networks, precision="bf16")
    assert "bf16 autocast" in renderer.acceleration  # no Winograd swap under autocast
    debug = {}
    out = renderer.render_tensor(state, target, debug)
    assert out.dtype == torch.float32 and out.shape == ref.shape
    # every flow the warps use, and the target features feeding the FP32 tail, are FP32
    assert all(v.dtype == torch.float32 for k, v in debug.items() if k.startswith("block"))
    assert all(t.dtype == torch.float32 for t in debug["target_features"])
    mx, mean = _errors(out, ref)
    assert 0.0 < mean < 0.01 and mx < 0.25, (mx, mean)  # bf16 keeps 8 bits of mantissa: close, not equal


def test_instance_norm_is_an_fp32_island():
    from avatar_app.models.backbones import InstanceNorm

    norm = InstanceNorm(4)
    x = torch.randn(2, 4, 16, 16) * 3 + 50  # a large mean over a small spread: what bf16 statistics get wrong
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = norm(x.bfloat16())
    assert y.dtype == torch.bfloat16
    torch.testing.assert_close(y.float(), norm(x.bfloat16().float()), atol=0.02, rtol=0.02)


def test_precision_settings_are_checked(lite_networks):
    with pytest.raises(SettingError, match=r"precision: expected fp16 on a CUDA device, found fp16 on cpu"):
        FrameRenderer(lite_networks, precision="fp16")
    with pytest.raises(SettingError, match=r"precision: expected one of fp32, fp16, bf16, found 'int8'"):
        FrameRenderer(lite_networks, precision="int8")
    with pytest.raises(SettingError, match=r"cuda_graphs: expected a CUDA device"):
        FrameRenderer(lite_networks, cuda_graphs=True)


@pytest.mark.gpu
def test_cuda_fp16_and_cuda_graphs_match_fp32(lite_networks, make_sheet, make_target):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    sheet, target = make_sheet(4, SIZE), make_target(SIZE)
    cpu_state = SheetEncoder(lite_networks).encode(sheet)
    ref = FrameRenderer(lite_networks, fast=False).render_tensor(cpu_state, target)
    networks = copy.deepcopy(lite_networks)  # the encoders move their networks to the GPU
    gpu_state = SheetEncoder(networks, "cuda").encode(sheet)
    for precision, graphs in (("fp32", True), ("fp16", False), ("fp16", True)):
        renderer = FrameRenderer(networks, "cuda", precision=precision, cuda_graphs=graphs)
        captured = []
        for _ in range(2):  # with graphs: capture, then replay
            mx, mean = _errors(renderer.render_tensor(gpu_state, target).cpu(), ref)
            assert mx < (1e-3 if precision == "fp32" else 0.1) and mean < (1e-5 if precision == "fp32" else 5e-3), (
                precision,
                graphs,
                mx,
                mean,
            )
            captured.append(renderer._graph)
        if graphs:  # the second frame replays the first frame's graph ("cuda" == "cuda:0")
            assert captured[1] is captured[0]
        frame = renderer.render(
            gpu_state,
            UdpMap(
                np.ascontiguousarray(
                    np.concatenate(
                        [target[0, :3].permute(1, 2, 0).numpy(), target[0, 3:].permute(1, 2, 0).numpy()], axis=2
                    )
                )
            ),
        )
        assert frame.data.shape == (SIZE, SIZE, 4) and frame.data.dtype == np.float32


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is here: the section runs for real")
def test_cuda_bench_section_says_it_was_skipped_and_why(load_tool, tmp_path, capsys):
    import json

    bench = load_tool("bench")
    assert bench.main(["--sections", "cuda", "--json", str(tmp_path / "b.json")]) == 0
    assert "skipped: no CUDA GPU" in capsys.readouterr().out
    assert json.loads((tmp_path / "b.json").read_text())["results"] == [{"section": "cuda", "skipped": "no CUDA GPU"}]
