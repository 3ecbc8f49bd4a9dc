import os

import numpy as np
import pytest

SHARED_SAMPLES = os.path.join(
    os.path.dirname(__file__), "..", "..", "shared", "data", "tut-urban-2018-samples"
)


@pytest.fixture
def rng():
    """A fixed-seed generator, so every test is deterministic."""
    return np.random.default_rng(0)


@pytest.fixture
def tut_samples():
    """Paths of the real TUT recordings in ../shared; skips when absent."""
    folder = os.path.abspath(SHARED_SAMPLES)
    if not os.path.isdir(folder):
        pytest.skip("../shared/data/tut-urban-2018-samples is not present")
    paths = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".wav"))
    if not paths:
        pytest.skip("no recordings in ../shared/data/tut-urban-2018-samples")
    return paths
