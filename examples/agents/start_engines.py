"""Start a throwaway two-node Slurm cluster and a two-node Ray cluster on this machine for
the two-site demo (docs/agents.md); write their addresses to `engines.env`, serve until
Ctrl-C, then stop both. Slurm's daemons run as root (as in the test suite).

    .venv/bin/python examples/agents/start_engines.py out/engines
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the test suite's helpers

from tests.backends.ray_head import RayHead
from tests.backends.slurm_cluster import SlurmCluster


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "out/engines").resolve()
    root.mkdir(parents=True, exist_ok=True)
    slurm = SlurmCluster(root / "slurm")
    (root / "slurm").mkdir(exist_ok=True)
    ray = RayHead()
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        slurm.start()
        ray.start()
        env = root / "engines.env"
        env.write_text(
            f"export SLURM_CONF={slurm.conf}\n"
            f"export RAY_ADDRESS={ray.address}\n"
            f"export RAY_PYTHON={ray.python}\n"
        )
        print("Slurm (nodes n1, n2; 2 GPUs each) and Ray (2 nodes; 2 GPUs each) are up.")
        print(f"source {env}   # SLURM_CONF, RAY_ADDRESS, RAY_PYTHON; Ctrl-C stops both")
        sys.stdout.flush()
        stop.wait()
    finally:
        ray.stop()
        slurm.stop()


if __name__ == "__main__":
    main()
