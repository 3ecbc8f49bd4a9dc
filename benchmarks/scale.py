"""How the front end scales: time, memory and the feature cache on N recordings.

Writes ``N`` synthetic 30-s recordings at 22 050 Hz (16-bit WAV) to a folder,
then runs the whole front end from paths (:class:`skasc.FrontEnd`: load ->
minimum-statistics denoising -> 2-s segments -> log Mel, ``n_jobs`` = all cores)
and measures

* wall time and recordings/s per core, cold (features computed and written to
  the cache) and warm (a second run served from the cache), and their ratio;
* the peak resident memory of the process *and its joblib workers* (the sum of
  VmRSS over the process tree, sampled every 20 ms from ``/proc``; the per-process
  high-water marks VmHWM and ``getrusage`` are printed as well);
* the bytes per recording of the features against the raw audio, and the peak
  memory above the baseline (workers started, nothing computed) per recording at
  ``N`` and ``N/2``: if it stays near the feature size, memory grows with the
  features and not with the audio;
* an extrapolation of time and memory to LITIS Rouen (3026 recordings).

Each measurement runs in a fresh Python process, so one run's memory does not
leak into the next and ``RUSAGE_CHILDREN`` covers only that run's workers.
Generating the audio is not timed. Linux only (``/proc``).

Usage::

    python benchmarks/scale.py                 # N=600 in a temporary folder
    python benchmarks/scale.py --n 100 --dir /data/scale --keep
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

LITIS_N = 3026


# ----------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------


def _write_one(path: str, seed: int, n_samples: int, sr: int) -> None:
    """Coloured noise with a few tones: cheap, and as costly to featurise as real audio."""
    import soundfile as sf
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    x = lfilter([1.0], [1.0, -rng.uniform(0.5, 0.98)], rng.standard_normal(n_samples))
    t = np.arange(n_samples) / sr
    for f in rng.uniform(100.0, 4000.0, size=3):
        x += (
            0.5
            * np.std(x)
            * np.sin(2 * np.pi * f * t)
            * (rng.random(n_samples // sr + 1) > 0.5).repeat(sr)[:n_samples]
        )
    x *= 0.05 / (np.sqrt(np.mean(x**2)) + 1e-12)
    sf.write(path, np.clip(x, -0.99, 0.99).astype(np.float32), sr, subtype="PCM_16")


def generate(folder: str, n: int, *, duration: float, sr: int, n_jobs: int) -> list[str]:
    """Write ``n`` recordings ``rec<i>.wav`` into ``folder`` (existing ones are reused)."""
    from joblib import Parallel, delayed

    os.makedirs(folder, exist_ok=True)
    n_samples = int(round(duration * sr))
    paths = [os.path.join(folder, f"rec{i:05d}.wav") for i in range(n)]
    todo = [(p, i) for i, p in enumerate(paths) if not os.path.exists(p)]
    Parallel(n_jobs=n_jobs)(delayed(_write_one)(p, i, n_samples, sr) for p, i in todo)
    return paths


# ----------------------------------------------------------------------------
# memory of a process tree
# ----------------------------------------------------------------------------


def _status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree(root: int) -> list[int]:
    """``root`` and all its descendants (joblib's loky workers, their resource tracker)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, stack = [], [root]
    while stack:
        pid = stack.pop()
        out.append(pid)
        stack.extend(children.get(pid, []))
    return out


def tree_rss_bytes(root: int | None = None) -> int:
    """Sum of VmRSS over the process tree of ``root`` (default: this process)."""
    return 1024 * sum(_status_kb(p, "VmRSS") for p in _tree(root or os.getpid()))


class PeakSampler(threading.Thread):
    """Samples :func:`tree_rss_bytes` every ``interval`` s and keeps the maximum."""

    def __init__(self, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peak = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, tree_rss_bytes())
            self._stop_event.wait(self.interval)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        self.peak = max(self.peak, tree_rss_bytes())
        return self.peak


# ----------------------------------------------------------------------------
# one measurement (runs in a fresh process)
# ----------------------------------------------------------------------------


def measure(paths: list[str], *, n_jobs: int, cache: str | None, n_warmup: int) -> dict:
    """Time FrontEnd(LogMel) on ``paths``; memory of this process and its workers."""
    from joblib.externals.loky import get_reusable_executor

    from skasc.frontend.features import LogMelExtractor
    from skasc.frontend.front_end import FrontEnd

    # Start the workers and compile the numba tracker on a few recordings, not timed.
    FrontEnd(extractor=LogMelExtractor(), n_jobs=n_jobs).transform(paths[:n_warmup])
    gc.collect()
    time.sleep(0.2)
    baseline = tree_rss_bytes()
    front = FrontEnd(extractor=LogMelExtractor(), n_jobs=n_jobs, memory=cache, verbose=1)
    sampler = PeakSampler()
    sampler.start()
    t0 = time.perf_counter()
    features = front.transform(paths)
    wall = time.perf_counter() - t0
    peak = sampler.stop()
    hwm = {pid: 1024 * _status_kb(pid, "VmHWM") for pid in _tree(os.getpid())}
    result = {
        "n": len(paths),
        "wall_s": wall,
        "baseline_bytes": baseline,
        "peak_bytes": peak,
        "sum_hwm_bytes": sum(hwm.values()),
        "n_processes": len(hwm),
        "features_bytes": int(features.nbytes),
        "features_shape": list(features.shape),
        "features_dtype": str(features.dtype),
    }
    del features
    get_reusable_executor().shutdown(wait=True)  # reap the workers for RUSAGE_CHILDREN
    result["ru_maxrss_self_bytes"] = 1024 * resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result["ru_maxrss_children_bytes"] = (
        1024 * resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    )
    return result


def _run_child(paths_file: str, n: int, n_jobs: int, cache: str | None, n_warmup: int) -> dict:
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--_child",
        paths_file,
        "--n",
        str(n),
        "--n-jobs",
        str(n_jobs),
        "--n-warmup",
        str(n_warmup),
    ]
    if cache:
        cmd += ["--_cache", cache]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"measurement failed:\n{proc.stdout}\n{proc.stderr}")
    lines = proc.stdout.strip().splitlines()
    for line in lines[:-1]:
        print("    " + line)  # FrontEnd's "[FrontEnd] k/n recordings served from the cache"
    return json.loads(lines[-1])


# ----------------------------------------------------------------------------
# report
# ----------------------------------------------------------------------------


def _mb(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:,.1f} MiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=600, help="recordings (default 600)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds (default 30)")
    parser.add_argument("--sr", type=int, default=22050, help="Hz (default 22050)")
    parser.add_argument(
        "--n-jobs", type=int, default=os.cpu_count() or 1, help="workers (default: all cores)"
    )
    parser.add_argument(
        "--n-warmup",
        type=int,
        default=None,
        help="untimed recordings that start the workers (default 2 x n_jobs)",
    )
    parser.add_argument(
        "--dir",
        default=None,
        help="folder for the WAV files and the cache "
        "(default: a temporary folder, removed at the end)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the WAV files and the cache")
    parser.add_argument("--no-half", action="store_true", help="skip the N/2 run")
    parser.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--_cache", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    n_warmup = args.n_warmup if args.n_warmup is not None else 2 * args.n_jobs

    if args._child:  # a measurement, in its own process
        with open(args._child) as handle:
            paths = [line.rstrip("\n") for line in handle][: args.n]
        print(json.dumps(measure(paths, n_jobs=args.n_jobs, cache=args._cache, n_warmup=n_warmup)))
        return 0

    root = args.dir or tempfile.mkdtemp(prefix="skasc-scale-")
    audio_dir, cache_dir = os.path.join(root, "audio"), os.path.join(root, "cache")
    shutil.rmtree(cache_dir, ignore_errors=True)
    try:
        t0 = time.perf_counter()
        paths = generate(audio_dir, args.n, duration=args.duration, sr=args.sr, n_jobs=args.n_jobs)
        print(
            f"generated {args.n} x {args.duration:g}-s recordings at {args.sr} Hz in "
            f"{audio_dir} ({time.perf_counter() - t0:.1f} s, not counted)"
        )
        paths_file = os.path.join(root, "paths.txt")
        with open(paths_file, "w") as handle:
            handle.writelines(p + "\n" for p in paths)
        n, half = args.n, max(1, args.n // 2)
        print(
            f"measuring FrontEnd(LogMelExtractor) from paths, n_jobs={args.n_jobs} "
            f"(warm-up on {n_warmup} recordings not timed)"
        )
        cold = _run_child(paths_file, n, args.n_jobs, cache_dir, n_warmup)
        warm = _run_child(paths_file, n, args.n_jobs, cache_dir, n_warmup)
        halfrun = (
            None if args.no_half else _run_child(paths_file, half, args.n_jobs, None, n_warmup)
        )
    finally:
        if not args.keep:
            shutil.rmtree(root if args.dir is None else cache_dir, ignore_errors=True)
            if args.dir is not None:
                shutil.rmtree(audio_dir, ignore_errors=True)

    raw_bytes = 4 * int(round(args.duration * args.sr))  # float32 mono at sr
    wav_bytes = 2 * int(round(args.duration * args.sr))
    feat_bytes = cold["features_bytes"] / n
    cores = args.n_jobs

    def per_rec(run: dict) -> float:
        return (run["peak_bytes"] - run["baseline_bytes"]) / run["n"]

    rows = [
        ("recordings", f"{n} x {args.duration:g} s at {args.sr} Hz", ""),
        ("features", f"{tuple(cold['features_shape'])} {cold['features_dtype']}", ""),
        (
            "cold: wall time (with cache writes)",
            f"{cold['wall_s']:.1f} s",
            f"{n / cold['wall_s']:.2f} rec/s, {n / cold['wall_s'] / cores:.2f} rec/s/core",
        ),
        (
            "warm: wall time (served from cache)",
            f"{warm['wall_s']:.2f} s",
            f"{n / warm['wall_s']:.1f} rec/s",
        ),
        ("warm-cache speed-up", f"{cold['wall_s'] / warm['wall_s']:.1f}x", "goal >= 20x"),
        (
            "bytes/recording: WAV 16-bit / float32 audio",
            f"{_mb(wav_bytes)} / {_mb(raw_bytes)}",
            "K=2 after denoising doubles the audio",
        ),
        (
            "bytes/recording: features",
            _mb(feat_bytes),
            f"{feat_bytes / raw_bytes:.2f} x the float32 audio",
        ),
        (
            f"cold: peak RSS, process + {cold['n_processes'] - 1} children",
            _mb(cold["peak_bytes"]),
            f"baseline {_mb(cold['baseline_bytes'])}",
        ),
        (
            "cold: (peak - baseline) / recording",
            _mb(per_rec(cold)),
            f"{per_rec(cold) / feat_bytes:.2f} x features, {per_rec(cold) / raw_bytes:.2f} x audio",
        ),
        (
            "warm: (peak - baseline) / recording",
            _mb(per_rec(warm)),
            f"{per_rec(warm) / feat_bytes:.2f} x features",
        ),
    ]
    if halfrun is not None:
        slope = (
            (cold["peak_bytes"] - cold["baseline_bytes"])
            - (halfrun["peak_bytes"] - halfrun["baseline_bytes"])
        ) / (n - halfrun["n"])
        rows += [
            (
                f"N/2={halfrun['n']} (no cache): (peak - baseline) / recording",
                _mb(per_rec(halfrun)),
                f"{per_rec(halfrun) / feat_bytes:.2f} x features",
            ),
            (
                "memory slope between N/2 and N",
                f"{_mb(slope)} / recording",
                f"{slope / feat_bytes:.2f} x features, {slope / raw_bytes:.2f} x audio",
            ),
        ]
    else:
        slope = per_rec(cold)
    rows += [
        (
            "getrusage maxrss: self / largest child",
            f"{_mb(cold['ru_maxrss_self_bytes'])} / {_mb(cold['ru_maxrss_children_bytes'])}",
            f"sum of VmHWM {_mb(cold['sum_hwm_bytes'])}",
        ),
        (
            f"LITIS ({LITIS_N} rec): cold time, {cores} cores",
            f"{LITIS_N * cold['wall_s'] / n / 60:.1f} min",
            f"{LITIS_N * cold['wall_s'] / n * cores / 60:.1f} core-min",
        ),
        (f"LITIS ({LITIS_N} rec): warm time", f"{LITIS_N * warm['wall_s'] / n:.1f} s", ""),
        (
            f"LITIS ({LITIS_N} rec): features",
            _mb(LITIS_N * feat_bytes),
            f"float32 audio would be {_mb(LITIS_N * raw_bytes)}",
        ),
        (
            f"LITIS ({LITIS_N} rec): peak RSS",
            _mb(cold["baseline_bytes"] + LITIS_N * slope),
            "baseline + slope x 3026",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    print()
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>{vwidth}}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
