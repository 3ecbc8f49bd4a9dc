"""Front-end speed on one core: denoising, segmentation, log Mel and log gammatone.

One generated 30-s recording at 22 050 Hz (a synthetic scene: coloured noise,
a few slowly gliding tones and short bursts) goes through each stage, timed in
the same run, single-threaded (BLAS/OpenMP/numba threads are limited to 1
before numpy is imported).  For every stage the table shows the median over
``--repeats`` runs in ms, the speed as a multiple of real time (30 s of audio
divided by the time), and the time relative to the anchor,
``librosa.feature.melspectrogram`` on the whole mono 30 s with the paper's
framing (1102-sample Hann frames, hop 551, 64 Mel bands from 50 Hz).

Rows: the anchor; :class:`~skasc.frontend.features.LogMelExtractor` and
:class:`~skasc.frontend.features.GammatoneExtractor` on the 15 segments x 2 channels;
:class:`~skasc.frontend.denoise.MinStatsDenoiser`; :class:`~skasc.frontend.segment.Segmenter`;
the whole 2-channel front end (denoise + segment + log Mel + log gammatone);
and log Mel + log gammatone sharing one STFT through
:func:`skasc.frontend.features.extract_features`, alone and in the whole front end.
A stage whose import or run fails prints ``n/a`` (the denoiser and segmenter are
separate modules).

Then the whole front end over ``--n-recordings`` recordings, one recording per
job with ``joblib.Parallel``, at ``n_jobs=1`` and ``n_jobs=2`` (the pool is
warmed up first, so worker start-up is not timed).

Then the front ends of the pipelines, from a 30-s WAV file (read, resampled,
denoised, segmented, featurised): one system's ``FrontEnd`` (log Mel, the
anchor of this table), the fused system as it was built before (one
``FrontEnd`` per system: everything twice), and the fused system's shared
front end (``FrontEnd(extractor=FeatureStack(...))``, what
``make_fused_pipeline`` builds now).

Goals: the whole 2-channel log Mel + log gammatone front end in <= 60 ms per
30-s recording on one core; the fused system's front end <= 1.25x one
system's.

Usage::

    python benchmarks/frontend.py
    python benchmarks/frontend.py --repeats 11 --n-recordings 32
"""

from __future__ import annotations

import os

for _var in (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

SR = 22050
DURATION = 30.0


def make_recording(seed: int = 0, *, sr: int = SR, duration: float = DURATION) -> np.ndarray:
    """A synthetic 30-s scene, float32 mono of shape (n_samples,), peak about 0.5."""
    rng = np.random.default_rng(seed)
    n = int(sr * duration)
    t = np.arange(n) / sr
    noise = np.fft.irfft(
        np.fft.rfft(rng.standard_normal(n)) / np.sqrt(1.0 + np.fft.rfftfreq(n, 1 / sr) / 200.0), n
    )
    y = 0.05 * noise / noise.std()
    for _ in range(4):
        f0 = rng.uniform(150, 3000)
        y += 0.05 * np.sin(2 * np.pi * (f0 * t + 20 * np.sin(2 * np.pi * 0.1 * t)))
    for start in rng.uniform(0, duration - 0.3, 10):
        i = int(start * sr)
        y[i : i + int(0.3 * sr)] += (
            0.2 * rng.standard_normal(int(0.3 * sr)) * np.hanning(int(0.3 * sr))
        )
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def median_ms(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall-clock and CPU (process) time of ``fn`` in ms.

    On a busy machine the wall time includes waiting for a core; the CPU time
    of a single-threaded call does not, so it is the better estimate of the
    time on one free core.
    """
    fn()  # warm-up: caches, numba compilation, lazy imports
    wall, cpu = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return float(np.median(wall) * 1e3), float(np.median(cpu) * 1e3)


def _stages():
    """Build the stage callables; any stage that cannot be built is None."""
    stages: dict[str, object] = {}
    try:
        from skasc.frontend.denoise import MinStatsDenoiser

        stages["denoiser"] = MinStatsDenoiser(sr=SR)
    except Exception as exc:  # noqa: BLE001 - report n/a and go on
        print(f"# MinStatsDenoiser unavailable: {type(exc).__name__}: {exc}")
        stages["denoiser"] = None
    try:
        from skasc.frontend.segment import Segmenter

        stages["segmenter"] = Segmenter(sr=SR)
    except Exception as exc:  # noqa: BLE001
        print(f"# Segmenter unavailable: {type(exc).__name__}: {exc}")
        stages["segmenter"] = None
    from skasc.frontend.features import GammatoneExtractor, LogMelExtractor

    stages["mel"] = LogMelExtractor(sr=SR)
    stages["gam"] = GammatoneExtractor(sr=SR)
    return stages


def _two_channel(y: np.ndarray, stages) -> np.ndarray:
    """(1, 2, n_samples) input of the segmenter: denoised copy if available."""
    if stages["denoiser"] is not None:
        try:
            return stages["denoiser"].transform(y[None])
        except Exception as exc:  # noqa: BLE001
            print(f"# MinStatsDenoiser failed: {type(exc).__name__}: {exc}")
            stages["denoiser"] = None
    return np.stack([y, y])[None]


def _segments(x2: np.ndarray, stages) -> np.ndarray:
    """(1, 15, 2, 44100) segments: the Segmenter's or a plain reshape."""
    if stages["segmenter"] is not None:
        try:
            return stages["segmenter"].transform(x2)
        except Exception as exc:  # noqa: BLE001
            print(f"# Segmenter failed: {type(exc).__name__}: {exc}")
            stages["segmenter"] = None
    seg = 2 * SR
    n_seg = x2.shape[-1] // seg
    return x2[..., : n_seg * seg].reshape(1, 2, n_seg, seg).transpose(0, 2, 1, 3).copy()


def front_end(y: np.ndarray, stages) -> tuple[np.ndarray, np.ndarray]:
    """Denoise + segment + log Mel + log gammatone of one mono recording."""
    segs = stages["segmenter"].transform(stages["denoiser"].transform(y[None]))
    return stages["mel"].transform(segs), stages["gam"].transform(segs)


_JOB_STAGES: dict = {}


def _front_end_job(y: np.ndarray) -> tuple[int, ...]:
    if not _JOB_STAGES:  # once per worker process
        _JOB_STAGES.update(_stages())
    mel, gam = front_end(y, _JOB_STAGES)
    return mel.shape


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=9, help="timed runs per row")
    parser.add_argument(
        "--n-recordings", type=int, default=16, help="recordings for the n_jobs comparison"
    )
    args = parser.parse_args(argv)

    import librosa

    from skasc.frontend.features import extract_features

    y = make_recording(0)
    stages = _stages()
    x2 = _two_channel(y, stages)
    segs = _segments(x2, stages)
    mel, gam = stages["mel"], stages["gam"]
    n_fft, hop = 1102, 551  # the paper's framing at 22050 Hz
    print(
        f"# one {DURATION:.0f}-s recording at {SR} Hz; segments {segs.shape}; "
        f"features {mel.transform(segs).shape}; median of {args.repeats} runs, 1 thread"
    )

    rows: list[tuple[str, tuple[float, float] | None]] = []

    def add(name: str, fn: Callable[[], object] | None) -> None:
        if fn is None:
            rows.append((name, None))
            return
        try:
            rows.append((name, median_ms(fn, args.repeats)))
        except Exception as exc:  # noqa: BLE001
            print(f"# {name} failed: {type(exc).__name__}: {exc}")
            rows.append((name, None))

    add(
        "librosa melspectrogram, 30 s mono (anchor)",
        lambda: librosa.feature.melspectrogram(
            y=y, sr=SR, n_fft=n_fft, hop_length=hop, n_mels=64, fmin=50.0
        ),
    )
    add("LogMelExtractor, 15 seg x 2 ch", lambda: mel.transform(segs))
    add("GammatoneExtractor, 15 seg x 2 ch", lambda: gam.transform(segs))
    add(
        "MinStatsDenoiser, 30 s -> 2 ch",
        None if stages["denoiser"] is None else lambda: stages["denoiser"].transform(y[None]),
    )
    add(
        "Segmenter, 2 ch",
        None if stages["segmenter"] is None else lambda: stages["segmenter"].transform(x2),
    )
    whole_ok = stages["denoiser"] is not None and stages["segmenter"] is not None
    add(
        "whole front end: denoise+segment+logMel+logGam",
        (lambda: front_end(y, stages)) if whole_ok else None,
    )
    add(
        "logMel+logGam sharing one STFT (extract_features)",
        lambda: extract_features(segs, [mel, gam]),
    )
    add(
        "whole front end with extract_features",
        (
            lambda: extract_features(
                stages["segmenter"].transform(stages["denoiser"].transform(y[None])), [mel, gam]
            )
        )
        if whole_ok
        else None,
    )

    anchor = rows[0][1]
    print(f"{'stage':50s} {'wall ms':>8s} {'cpu ms':>7s} {'x real time':>12s} {'/ anchor':>9s}")
    for name, ms in rows:
        if ms is None or anchor is None:
            shown = "n/a" if ms is None else f"{ms[0]:8.1f} {ms[1]:7.1f}"
            print(f"{name:50s} {shown:>16s} {'n/a':>12s} {'n/a':>9s}")
        else:
            print(
                f"{name:50s} {ms[0]:8.1f} {ms[1]:7.1f} {DURATION * 1e3 / ms[0]:12.0f} "
                f"{ms[0] / anchor[0]:9.2f}"
            )
    print(
        "# x real time and / anchor use the wall time; cpu ms is the process CPU time "
        "(closer to one free core when the machine is busy)"
    )

    if not whole_ok:
        print("# n_jobs comparison: n/a (denoiser or segmenter unavailable)")
        return
    pipeline_front_ends(y, args.repeats)
    from joblib import Parallel, delayed

    n = args.n_recordings
    recordings = [make_recording(seed) for seed in range(n)]
    print(
        f"\n# whole front end over {n} recordings, one recording per joblib job "
        f"(pool warmed up first)"
    )
    print(f"{'n_jobs':>6s} {'total s':>8s} {'ms / recording':>15s}")
    for n_jobs in (1, 2):
        with Parallel(n_jobs=n_jobs) as parallel:
            parallel(delayed(_front_end_job)(r) for r in recordings[: 2 * n_jobs])
            t0 = time.perf_counter()
            parallel(delayed(_front_end_job)(r) for r in recordings)
            total = time.perf_counter() - t0
        print(f"{n_jobs:6d} {total:8.2f} {total * 1e3 / n:15.1f}")


def pipeline_front_ends(y: np.ndarray, repeats: int) -> None:
    """One system's front end against the fused system's, old (two) and new (shared)."""
    import tempfile

    import soundfile as sf

    from skasc import make_att_crnn_pipeline, make_fused_pipeline

    single = make_att_crnn_pipeline("logmel").named_steps["frontend"]
    separate = [make_att_crnn_pipeline(f).named_steps["frontend"] for f in ("logmel", "loggam")]
    shared = make_fused_pipeline().named_steps["frontend"]
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "scene.wav")
        sf.write(path, y, SR, subtype="PCM_16")
        rows = [
            (
                "one system: FrontEnd(LogMelExtractor) (anchor)",
                median_ms(lambda: single.transform([path]), repeats),
            ),
            (
                "fused, one FrontEnd per system (before)",
                median_ms(lambda: [f.transform([path]) for f in separate], repeats),
            ),
            (
                "fused, shared FrontEnd(FeatureStack) (now)",
                median_ms(lambda: shared.transform([path]), repeats),
            ),
        ]
    print(
        f"\n# pipeline front ends on one {DURATION:.0f}-s 16-bit WAV at {SR} Hz; "
        f"median of {repeats} runs, 1 thread"
    )
    print(f"{'front end':50s} {'wall ms':>8s} {'cpu ms':>7s} {'/ one system':>13s}")
    for name, (wall, cpu) in rows:
        print(f"{name:50s} {wall:8.1f} {cpu:7.1f} {wall / rows[0][1][0]:13.2f}")
    print("# goal: the fused system's front end <= 1.25x one system's")


if __name__ == "__main__":
    main()
