"""FastJet's banner: never printed by l1scout's clustering (it would show once per process)."""

from __future__ import annotations

import subprocess
import sys

_CLUSTER = """
import numpy as np
from l1scout.reco.jets import JetDefinitionSpec, cluster_jets
px = np.array([50.0, 45.0, -30.0]); py = np.array([0.0, 2.0, 1.0]); pz = np.array([0.0, 0.0, 5.0])
e = np.sqrt(px**2 + py**2 + pz**2)
for algorithm in ("antikt", "kt"):
    jets = cluster_jets(np.array([0, 3, 3]), px, py, pz, e, JetDefinitionSpec(algorithm, 0.4, 10.0))
    print("jets", jets.offsets.tolist())
"""


def test_clustering_in_a_fresh_process_prints_no_banner() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CLUSTER], capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["jets [0, 2, 2]", "jets [0, 2, 2]"]
    for stream in (done.stdout, done.stderr):
        assert "FastJet release" not in stream
        assert "#----" not in stream
