"""Write the four CoNR checkpoint files filled with the synthetic-weight recipe.

    python tools/make_random_weights.py DIR [--preset official|lite]

The weights are the deterministic ones of the conformance kit (README §2): the
golden files were rendered with them, so ``DIR`` reproduces the goldens and lets
the app run end to end without the official download. They render nothing
meaningful. The official preset writes ~720 MB.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avatar_app.models import PRESETS, CoNRConfig, create_conr, fill_networks, save_conr_weights  # noqa: E402


def write_random_weights(folder: str | Path, preset: str | CoNRConfig = "official") -> list[Path]:
    model = fill_networks(create_conr(preset, init=False))
    return save_conr_weights(model, folder)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="output folder (created if missing)")
    parser.add_argument("--preset", default="official", choices=sorted(PRESETS))
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    paths = write_random_weights(args.folder, args.preset)
    for p in paths:
        print(f"{p}  {p.stat().st_size / 1e6:.1f} MB")
    print(f"wrote {len(paths)} files for preset '{args.preset}' in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
