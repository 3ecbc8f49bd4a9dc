"""Scene timelines over long files: peak memory and speed, streamed vs whole file.

Two generated scene files (mono, 22 050 Hz, 16-bit WAV: a slowly changing mix of
coloured noise, tones and bursts) of ``--short`` and ``--long`` minutes (default
10 and 60) are classified by a paper-size log-Mel Att-CRNN pipeline (the default
network, fitted for one epoch on a few generated recordings: its accuracy is not
the point, its cost is). Each measurement runs in a fresh subprocess, so its peak
resident memory (``ru_maxrss``) is its own:

* the anchor: ``pipe.predict_proba([path])``, the whole file as one recording
  (read whole, denoised whole, every segment's features held at once);
* skasc: ``predict_timeline(pipe, path, window=30, hop=10)``, read and classified
  in 60-s blocks.

The table prints, per file and method, the peak RSS in MiB, the wall time, the
speed in multiples of real time (audio duration / wall time), and the ratio of
the long file's peak to the short file's (goal for the timeline: <= 1.2).

Usage::

    python benchmarks/timeline.py                      # 10 and 60 min
    python benchmarks/timeline.py --short 1 --long 6   # a quick look
    python benchmarks/timeline.py --skip-anchor
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

SR = 22050


def write_scene(path: str, minutes: float, seed: int = 0) -> None:
    """A long mono file, written block by block (never held whole)."""
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(seed)
    block = 60 * SR
    n_blocks = int(round(minutes))
    with sf.SoundFile(path, "w", samplerate=SR, channels=1, subtype="PCM_16") as fh:
        phase = 0.0
        for b in range(max(1, n_blocks)):
            t = np.arange(block) / SR
            freq = 300.0 + 2000.0 * (b % 3)
            tone = np.sin(phase + 2 * np.pi * freq * t)
            phase = float((phase + 2 * np.pi * freq * block / SR) % (2 * np.pi))
            noise = np.cumsum(rng.standard_normal(block)) * 1e-3
            noise -= np.convolve(noise, np.ones(256) / 256, mode="same")
            bursts = (rng.random(block) < 1e-4).astype(float)
            bursts = np.convolve(bursts, np.hanning(2000), mode="same")
            y = 0.2 * tone + 0.3 * noise + 0.3 * bursts * rng.standard_normal(block)
            fh.write(np.clip(y, -1, 1).astype(np.float32))


def fit_model(path: str) -> None:
    """The paper's default log-Mel network, one epoch on generated recordings, saved."""
    import numpy as np

    from skasc import make_att_crnn_pipeline, save

    rng = np.random.default_rng(0)
    X, y = [], []
    for k in range(6):
        t = np.arange(4 * SR) / SR
        X.append(
            (
                0.2 * np.sin(2 * np.pi * (300 + 2000 * (k % 3)) * t)
                + 0.05 * rng.standard_normal(t.size)
            ).astype(np.float32)
        )
        y.append(f"scene{k % 3}")
    pipe = make_att_crnn_pipeline(max_epochs=1, batch_size=8, random_state=0, verbose=0)
    save(pipe.fit(X, y), path)


def _child(method: str, model: str, audio: str) -> None:
    import resource

    import soundfile as sf

    from skasc import load, predict_timeline

    pipe = load(model)
    started = time.perf_counter()
    if method == "timeline":
        result = predict_timeline(pipe, audio, window=30.0, hop=10.0)
        n_out = len(result)
    else:
        n_out = len(pipe.predict_proba([audio]))
    wall = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "wall_s": wall,
                "peak_mib": peak_kib / 1024,
                "rows": n_out,
                "duration_s": sf.info(audio).duration,
            }
        )
    )


def measure(method: str, model: str, audio: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", method, model, audio],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", type=float, default=10.0, help="minutes (default 10)")
    parser.add_argument("--long", type=float, default=60.0, help="minutes (default 60)")
    parser.add_argument("--skip-anchor", action="store_true")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "model.skasc")
        fit_model(model)
        rows = []
        for minutes in (args.short, args.long):
            audio = os.path.join(tmp, f"scene-{minutes:g}min.wav")
            write_scene(audio, minutes)
            for method in ["timeline"] if args.skip_anchor else ["whole file", "timeline"]:
                result = measure("timeline" if method == "timeline" else "whole", model, audio)
                rows.append((minutes, method, result))
                print(f"  measured {method} on {minutes:g} min: {result}", file=sys.stderr)
            os.remove(audio)
    print(f"{'file':>8}  {'method':<11} {'peak RSS MiB':>12} {'wall s':>8} {'x real time':>11}")
    peaks = {}
    for minutes, method, r in rows:
        if "error" in r:
            print(f"{minutes:>6g} m  {method:<11} {'n/a: ' + r['error']}")
            continue
        peaks[(minutes, method)] = r["peak_mib"]
        print(
            f"{minutes:>6g} m  {method:<11} {r['peak_mib']:>12.0f} {r['wall_s']:>8.1f} "
            f"{r['duration_s'] / r['wall_s']:>11.1f}"
        )
    for method in ("whole file", "timeline"):
        if (args.short, method) in peaks and (args.long, method) in peaks:
            print(
                f"peak RSS, {args.long:g} min / {args.short:g} min, {method}: "
                f"{peaks[(args.long, method)] / peaks[(args.short, method)]:.2f}x"
                + ("  (goal <= 1.2x)" if method == "timeline" else "")
            )


if __name__ == "__main__":
    main()
