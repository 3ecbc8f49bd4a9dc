"""Prediction holds its result once on the host: attention_maps' peak memory.

Measured in a fresh process (``ru_maxrss``: torch's CPU allocations are invisible to
tracemalloc), so that nothing else in the test session raises the high-water mark.
Before, every slice's maps were kept and then concatenated: a peak of about twice
the result.
"""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import json, resource, sys
    import numpy as np, torch
    torch.set_num_threads(1)
    from skasc.nn import AttCRNNClassifier

    rng = np.random.default_rng(0)
    y = np.arange(40) % 2
    X = rng.normal(size=(40, 1, 64, 80)).astype(np.float32)
    clf = AttCRNNClassifier(module__n_filters=(2, 2, 2), module__hidden_size=64,
                            module__attention_size=4, max_epochs=1, batch_size=20,
                            predict_batch_size=128, random_state=0, device="cpu",
                            verbose=0).fit(X, y)
    big = np.repeat(X, 200, axis=0)[:8000]          # 8000 segments, 164 MB of input
    clf.attention_maps(big[:256])                    # warm up the allocator
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    maps = clf.attention_maps(big)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    result = sum(v.nbytes for v in maps.values())
    json.dump({"result": result, "growth": peak - before,
               "mask_shape": list(maps["mask"].shape)}, sys.stdout)
""")


@pytest.mark.slow
def test_attention_maps_peak_host_memory_is_about_the_result(tmp_path):
    script = tmp_path / "maps.py"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        timeout=300,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["mask_shape"] == [8000, 128, 80]
    result = info["result"]  # 8000 x (128 x 80 + 80 + 128) float32 = 334 MB
    # one 128-segment slice's temporaries (a few MB) are the allowance beyond 1.1x
    assert info["growth"] <= 1.1 * result + 32e6, info["growth"] / result
