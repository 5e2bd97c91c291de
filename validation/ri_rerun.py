"""Independent re-run of the RI size in one Monte Carlo scenario (p-values only, fresh seeds).

Used in validation/README.md to tell Monte Carlo noise from a real size distortion of the
randomization inference: the scenario's data are drawn from ``SeedSequence(seed, spawn_key=(r,))``
(a different stream from monte_carlo.py), and only the RI p-value (R = 999, no CI) is computed.

Usage: python validation/ri_rerun.py no_effect_balanced --reps 20000
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import multiprocessing as mp  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from monte_carlo import SCENARIOS, simulate  # noqa: E402

from linkseval.did import panel_from_frame  # noqa: E402
from linkseval.inference import randomization_inference  # noqa: E402

_SC = {s.name: s for s in SCENARIOS}


def one(args: tuple[str, int, int]) -> float:
    name, seed, r = args
    df, _ = simulate(_SC[name], np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(r,))))
    p = panel_from_frame(
        df, unit="practice", time="year", cohort="cohort", outcome="y", weights="n"
    )
    return randomization_inference(p, n_draws=999, seed=r, ci=False).p_value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scenario", choices=sorted(_SC))
    ap.add_argument("--reps", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=777)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    tasks = [(a.scenario, a.seed, r) for r in range(a.reps)]
    with mp.get_context("fork").Pool(a.workers) as pool:
        ps = np.array(list(tqdm(pool.imap(one, tasks, chunksize=100), total=a.reps)))
    for alpha in (0.01, 0.05, 0.10):
        rej = float(np.mean(ps <= alpha + 1e-12))
        se = np.sqrt(alpha * (1 - alpha) / a.reps)
        print(
            f"{a.scenario}: alpha {alpha:.2f}: rejection {rej:.4f} (MC SE under exactness {se:.4f})"
        )


if __name__ == "__main__":
    main()
