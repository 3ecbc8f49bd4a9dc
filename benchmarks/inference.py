"""Inference speed, stage by stage, against the machine's measured peak; and accuracy.

**Speed** (the default). A paper-size log-Mel Att-CRNN pipeline (the default network,
fitted for one epoch on generated scenes: its cost is measured, not its accuracy;
or ``--model`` a saved one) classifies:

* ``predict`` on a folder of 10-s files (``--folder-minutes`` of audio in all):
  ``with_backend(pipe, backend).predict(paths)``;
* ``timeline`` on generated long recordings (``--minutes``, default 10 and 60):
  ``predict_timeline(pipe, path, window=30, hop=10, backend=backend)``;
* both on the real TUT Urban 2018 clips when ``--tut`` (default
  ``../shared/data/tut-urban-2018-samples``) exists: ``predict`` on the ten 10-s
  clips (48 kHz stereo 24-bit: read, downmixed and resampled), ``timeline`` on
  the ten joined into one 100-s file.

Each measurement runs in a fresh subprocess (its peak RSS is its own ``VmHWM``)
with ``--threads`` torch / onnxruntime / BLAS threads, after a warm-up on a 6-s
file (lazy imports, numba's cache; the ONNX export and int8 calibration are in
the printed start-up time). Inside it the CPU time of each stage is summed by
wrapping the code that does it (exclusive time, per thread: a stage called inside
another is charged to the inner one): read + resample (soundfile, soxr and the
loader's checks), denoise (minimum statistics), features (segmenting and log Mel
/ log gammatone), network (torch or onnxruntime) and SVM (scaler and calibrated
SVM). Stage times are the CPU time of the thread that ran the stage: with one
thread, the whole stage, and the timeline's front end runs in a second thread
beside the network. The table prints them per hour of audio, with the process's
total CPU time and its wall time; on a busy machine CPU time leaves out the
waiting for a core, wall time does not.

The same run measures the machine's peak: a 2048 x 2048 x 2048 fp32 GEMM with
torch at ``--threads`` threads (best of 5; MAC/s per second of wall time and per
CPU second, i.e. per core), and in bf16; the network's MAC/s per core
(``skasc.complexity``'s MACs per segment x segments / network CPU time) is printed
against the fp32 GEMM's. Last, the network alone (256 segments, in this process):
torch fp32 in slices of 512 and 32, channels-last, bf16 autocast, and the
onnxruntime backends, with their largest feature difference from torch fp32.

**Accuracy** (``--accuracy MODEL.skasc``): the saved model's posteriors with each
backend against the fp32 torch reference on the same network: on the TUT clips,
max abs difference of the recording posteriors and label agreement; on ESC-10
fold 1 (``--esc10``, default ``../shared/data/esc10``; the test recordings of
``skasc.load_dataset("esc10", root).cv``'s first split), recording accuracy and
log loss. int8 is calibrated on ``--calibration-size`` (40) recordings of the
training folds 2-5, the network's own training data. The issue's rule: a backend that
loses more than 0.5 points of accuracy or raises the log loss by more than 0.02 is not
a default.

Usage::

    python benchmarks/inference.py                              # 10 and 60 min, 60 min folder
    python benchmarks/inference.py --minutes 5 --folder-minutes 5 --threads 1   # a quick look
    python benchmarks/inference.py --backends torch onnx onnx-int8
    python benchmarks/inference.py --accuracy esc10-att-crnn.skasc
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared", "data")
STAGES = ("read", "denoise", "features", "network", "svm")


# --------------------------------------------------------------------------- #
# Inputs
# --------------------------------------------------------------------------- #
def write_folder(folder: str, minutes: float, seed: int = 1) -> list[str]:
    """10-s generated scene files (22 050 Hz mono 16-bit), ``minutes`` of audio in all."""
    import numpy as np
    import soundfile as sf

    sys.path.insert(0, HERE)
    from timeline import SR

    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    t = np.arange(10 * SR) / SR
    paths = []
    for k in range(max(1, int(round(minutes * 6)))):
        tone = np.sin(2 * np.pi * (300 + 700 * (k % 5)) * t)
        y = 0.2 * tone + 0.05 * rng.standard_normal(t.size)
        path = os.path.join(folder, f"scene{k:04d}.wav")
        sf.write(path, np.clip(y, -1, 1).astype(np.float32), SR, subtype="PCM_16")
        paths.append(path)
    return paths


def join_clips(paths: list[str], out: str) -> None:
    """The clips one after the other in one file, at their rate and format."""
    import soundfile as sf

    info = sf.info(paths[0])
    with sf.SoundFile(
        out, "w", samplerate=info.samplerate, channels=info.channels, subtype=info.subtype
    ) as fh:
        for path in paths:
            data, sr = sf.read(path, dtype="float32", always_2d=True)
            if sr != info.samplerate or data.shape[1] != info.channels:
                raise ValueError(f"{path}: not {info.samplerate} Hz x {info.channels}")
            fh.write(data)


# --------------------------------------------------------------------------- #
# The child: one measurement
# --------------------------------------------------------------------------- #
class StageClock:
    """Exclusive wall and CPU time per stage, per thread: time inside a stage entered
    within another goes to the inner one. CPU time is the calling thread's
    (``thread_time``): all of a stage's with one torch / onnxruntime thread."""

    def __init__(self) -> None:
        self.wall = dict.fromkeys(STAGES, 0.0)
        self.cpu = dict.fromkeys(STAGES, 0.0)
        self._local = threading.local()
        self._lock = threading.Lock()

    def _charge(self) -> None:
        local = self._local
        now = (time.perf_counter(), time.thread_time())
        stack = getattr(local, "stack", None)
        if stack:
            with self._lock:
                self.wall[stack[-1]] += now[0] - local.mark[0]
                self.cpu[stack[-1]] += now[1] - local.mark[1]
        else:
            local.stack = stack if stack is not None else []
        local.mark = now

    def wrap(self, stage: str, fn):
        def timed(*args, **kwargs):
            self._charge()
            self._local.stack.append(stage)
            try:
                return fn(*args, **kwargs)
            finally:
                self._charge()
                self._local.stack.pop()

        return timed

    def wrap_generator(self, stage: str, fn):
        def timed(*args, **kwargs):
            items = self.wrap(stage, fn)(*args, **kwargs)
            step = self.wrap(stage, lambda: next(items, StopIteration))
            while (item := step()) is not StopIteration:
                yield item

        return timed


def _patch(clock: StageClock, pipe) -> None:
    """Wrap the code of each stage (class attributes: every instance is timed)."""
    import importlib

    targets = {
        "read": ["skasc.frontend.audio:AudioLoader.transform"],
        "denoise": [
            "skasc.frontend.denoise:MinStatsDenoiser.transform",
            "skasc.dsp.minstats:MinStatsStream.push",
            "skasc.dsp.minstats:MinStatsStream.finish",
        ],
        "features": [
            "skasc.frontend.segment:Segmenter.transform",
            "skasc.frontend.features:LogMelExtractor.transform",
            "skasc.frontend.features:GammatoneExtractor.transform",
            "skasc.frontend.features:FeatureStack.transform",
            "skasc.timeline:_SegmentStream.push",
            "skasc.timeline:SegmentCutter.push",
        ],
        "network": [
            "skasc.nn.classifier:SegmentNetClassifier.transform",
            "skasc.nn.classifier:SegmentNetClassifier.predict_proba",
            "skasc.nn.classifier:_SegmentNetClassifier.transform",
            "skasc.nn.classifier:_SegmentNetClassifier.predict_proba",
            "skasc.backend:OnnxNetwork.transform",
            "skasc.backend:OnnxNetwork.predict_proba",
            "skasc.backend:TorchNetwork.transform",
            "skasc.backend:TorchNetwork.predict_proba",
        ],
    }
    for stage, names in targets.items():
        for name in names:
            module_name, _, attr = name.partition(":")
            cls_name, _, method = attr.partition(".")
            try:
                cls = getattr(importlib.import_module(module_name), cls_name)
            except (ImportError, AttributeError):
                continue  # not in this version of skasc
            _wrap_method(clock, stage, cls, method)
    for module_name in ("skasc.timeline", "skasc.frontend.audio"):
        module = importlib.import_module(module_name)
        if hasattr(module, "iter_audio_blocks"):
            module.iter_audio_blocks = clock.wrap_generator("read", module.iter_audio_blocks)
    for head in _heads(pipe):  # the scikit-learn steps after each network
        for method in ("transform", "predict_proba"):
            _wrap_method(clock, "svm", type(head), method)


def _wrap_method(clock: StageClock, stage: str, cls: type, method: str) -> None:
    """Wrap ``method`` where ``cls`` finds it (once, whichever subclass asks)."""
    owner = next((k for k in cls.__mro__ if method in vars(k)), None)
    if owner is not None and not getattr(vars(owner)[method], "_timed", False):
        timed = clock.wrap(stage, vars(owner)[method])
        timed._timed = True
        setattr(owner, method, timed)


def _heads(pipe) -> list:
    from sklearn.pipeline import Pipeline

    from skasc.fusion import RecordingFusion

    found, stack = [], [pipe]
    while stack:
        obj = stack.pop()
        if isinstance(obj, RecordingFusion) and isinstance(obj.estimator_, Pipeline):
            found.extend(step for _, step in obj.estimator_.steps[1:])
        for attr in ("steps", "estimators_"):
            for item in getattr(obj, attr, None) or []:
                stack.append(item[1] if isinstance(item, tuple) else item)
    return found


def _child(spec: dict) -> None:
    import numpy as np
    import soundfile as sf
    import torch

    torch.set_num_threads(spec["threads"])
    from skasc import complexity, load

    pipe = load(spec["model"])
    backend = spec["backend"]
    started = time.perf_counter()
    model = pipe
    if backend != "torch":  # the export (and int8 calibration) is start-up time
        from skasc import with_backend

        model = with_backend(
            pipe,
            backend,
            n_threads=spec["threads"],
            calibration=spec["calibration"] if backend == "onnx-int8" else None,
        )
    if spec["method"] == "timeline":
        from skasc import predict_timeline

        def run(path):
            return predict_timeline(model, path, window=30.0, hop=10.0)
    else:
        run = model.predict
    with tempfile.TemporaryDirectory() as tmp:  # warm-up: lazy imports, numba's cache
        warm = os.path.join(tmp, "warm.wav")
        sf.write(warm, 0.1 * np.random.default_rng(0).standard_normal(6 * 22050), 22050)
        run(warm if spec["method"] == "timeline" else [warm])
    start_up = time.perf_counter() - started
    clock = StageClock()
    _patch(clock, pipe)
    started = (time.perf_counter(), time.process_time())
    rows = len(run(spec["inputs"][0] if spec["method"] == "timeline" else spec["inputs"]))
    wall = time.perf_counter() - started[0]
    cpu = time.process_time() - started[1]
    report = complexity(pipe)
    macs = (
        sum(r.macs_per_segment for r in report.values())
        if isinstance(report, dict)
        else report.macs_per_segment
    )
    duration = sum(sf.info(p).duration for p in spec["inputs"])
    print(
        json.dumps(
            {
                "wall": wall,
                "cpu": cpu,
                "stage_wall": clock.wall,
                "stage_cpu": clock.cpu,
                "rows": rows,
                "start_up_s": start_up,
                "duration_s": duration,
                "segments": int(duration // 2),
                "macs_per_segment": macs,
                "peak_mib": _peak_rss_mib(),
            }
        )
    )


def _peak_rss_mib() -> float:
    """This process's peak resident memory: VmHWM (ru_maxrss would include the
    parent's peak, which Linux carries across fork and exec)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(spec: dict) -> dict:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[var] = str(spec["threads"])
    out = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def gemm_peak(threads: int, n: int = 2048) -> dict:
    """Best-of-5 MAC/s of an n x n x n matrix product with torch, fp32 and bf16: per
    second of wall time (``"fp32"``, ``"bf16"``) and per CPU second, i.e. per core
    (``"fp32_core"``, ``"bf16_core"``)."""
    import torch

    torch.set_num_threads(threads)
    out = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a = torch.randn(n, n).to(dtype)
        b = torch.randn(n, n).to(dtype)
        wall, cpu = _best_of(functools.partial(torch.mm, a, b))
        out[name], out[f"{name}_core"] = n**3 / wall, n**3 / cpu
    out.update(_onnxruntime_gemm(threads, n))
    return out


def _best_of(fn, repeats: int = 5) -> tuple[float, float]:
    """Shortest wall and CPU time of ``repeats`` calls, after one warm-up call."""
    fn()
    wall = cpu = float("inf")
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu


def _onnxruntime_gemm(threads: int, n: int) -> dict:
    """The same product by onnxruntime's MatMul (MLAS), fp32: ``"ort"``, ``"ort_core"``
    (empty without onnxruntime). On AMD CPUs torch's MKL may not reach the peak."""
    try:
        import numpy as np
        import onnx
        from onnx import TensorProto, helper

        from skasc.onnx import inference_session
    except ImportError:
        return {}
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"])],
        "gemm",
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, [n, n]) for k in "ab"],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [n, n])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = min(model.ir_version, onnx.IR_VERSION)
    session = inference_session(model.SerializeToString(), n_threads=threads)
    feed = {k: np.random.default_rng(0).standard_normal((n, n)).astype(np.float32) for k in "ab"}
    wall, cpu = _best_of(lambda: session.run(None, feed))
    return {"ort": n**3 / wall, "ort_core": n**3 / cpu}


def network_options(
    model_path: str,
    scene: str,
    calibration: list[str],
    threads: int,
    backends: list[str],
    repeats: int = 3,
) -> list[tuple[str, float, float]]:
    """Segments/s of the network alone, one option per row, on 256 segments of ``scene``:
    (option, segments/s median of ``repeats`` by CPU time, max abs feature difference)."""
    import numpy as np
    import torch

    from skasc import load

    torch.set_num_threads(threads)
    pipe = load(model_path)
    net = pipe[-1].estimator_.steps[0][1]
    X = np.concatenate(list(pipe[0].transform([scene])))[:256]
    X = np.concatenate([X] * (256 // len(X) + 1))[:256]
    cal = np.concatenate(list(pipe[0].transform(calibration)))
    module = net.module_.eval()

    def torch_embed(batch, dtype=None, channels_last=False):
        m = module.to(memory_format=torch.channels_last) if channels_last else module
        with (
            torch.inference_mode(),
            torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype is not None),
        ):
            out = [
                m.embed(
                    torch.from_numpy(X[i : i + batch]).contiguous(
                        memory_format=torch.channels_last
                        if channels_last
                        else torch.contiguous_format
                    )
                ).float()
                for i in range(0, len(X), batch)
            ]
        module.to(memory_format=torch.contiguous_format)
        return torch.cat(out).numpy()

    options = {
        "torch fp32, slices of 512 (the CPU default before)": lambda: torch_embed(512),
        "torch fp32, slices of 32": lambda: torch_embed(32),
        "torch fp32, channels-last, slices of 32": lambda: torch_embed(32, channels_last=True),
        "torch bf16 autocast (GRU fp32), slices of 32": lambda: torch_embed(32, torch.bfloat16),
    }
    if "onnx" in backends:
        from skasc.backend import OnnxNetwork

        fp32 = OnnxNetwork(net, n_threads=threads)
        options["onnxruntime fp32 (`onnx`)"] = lambda: fp32.transform(X)
    if "onnx-int8" in backends:
        from skasc.backend import OnnxNetwork

        int8 = OnnxNetwork(net, calibration=cal, n_threads=threads)
        options["onnxruntime int8 convolutions (`onnx-int8`)"] = lambda: int8.transform(X)
    reference = torch_embed(32)
    rows = []
    for name, fn in options.items():
        diff = float(np.abs(fn() - reference).max())
        speeds = []
        for _ in range(repeats):
            c0 = time.process_time()
            fn()
            speeds.append(len(X) / (time.process_time() - c0))
        rows.append((name, float(np.median(speeds)), diff))
    return rows


# --------------------------------------------------------------------------- #
# Tables
# --------------------------------------------------------------------------- #
def speed_table(rows: list[tuple[str, str, str, dict]], peak: dict) -> str:
    """Per hour of audio: CPU seconds per stage (the thread that ran it), total CPU and
    wall seconds; speed from the wall time; network MAC/s per CPU second."""
    head = (
        "| input | method | backend | read | denoise | features | network | SVM "
        "| CPU total | wall | x real time | segments/s | network G MAC/s per core "
        "(% of GEMM) | peak RSS | start-up |"
    )
    lines = [head, "|" + " --- |" * 3 + " ---: |" * 12]
    for name, method, backend, r in rows:
        if "error" in r:
            lines.append(f"| {name} | {method} | {backend} | n/a: {r['error']} |")
            continue
        per_hour = 3600.0 / r["duration_s"]
        cells = " | ".join(f"{r['stage_cpu'][s] * per_hour:.1f}" for s in STAGES)
        net = r["stage_cpu"]["network"]
        net_macs = r["macs_per_segment"] * r["segments"] / net if net > 0 else float("nan")
        lines.append(
            f"| {name} | {method} | {backend} | {cells} | {r['cpu'] * per_hour:.1f} "
            f"| {r['wall'] * per_hour:.1f} | {r['duration_s'] / r['wall']:.0f} "
            f"| {r['segments'] / r['wall']:.0f} | {net_macs / 1e9:.1f} "
            f"({100 * net_macs / peak['fp32_core']:.0f} %) | {r['peak_mib']:.0f} MiB "
            f"| {r['start_up_s']:.1f} s |"
        )
    return "\n".join(lines)


def run_speed(args: argparse.Namespace) -> None:
    sys.path.insert(0, HERE)
    from timeline import fit_model, write_scene

    peak = gemm_peak(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or os.path.join(tmp, "model.skasc")
        if not args.model:
            fit_model(model)
        calibration = write_folder(os.path.join(tmp, "calibration"), 1.0, seed=7)
        inputs = []
        if args.folder_minutes > 0:
            folder = write_folder(os.path.join(tmp, "folder"), args.folder_minutes)
            inputs.append((f"{args.folder_minutes:g} min of 10-s files", "predict", folder))
        for minutes in args.minutes:
            path = os.path.join(tmp, f"scene-{minutes:g}min.wav")
            write_scene(path, minutes)
            inputs.append((f"{minutes:g}-min file", "timeline", [path]))
        if os.path.isdir(args.tut):
            clips = sorted(
                os.path.join(args.tut, f) for f in os.listdir(args.tut) if f.endswith(".wav")
            )
            joined = os.path.join(tmp, "tut-joined.wav")
            join_clips(clips, joined)
            inputs.append((f"TUT 2018, {len(clips)} clips of 10 s", "predict", clips))
            inputs.append((f"TUT 2018, {len(clips)} clips joined", "timeline", [joined]))
        rows = []
        for name, method, paths in inputs:
            for backend in args.backends:
                r = measure(
                    {
                        "method": method,
                        "backend": backend,
                        "model": model,
                        "inputs": paths,
                        "threads": args.threads,
                        "calibration": calibration,
                    }
                )
                rows.append((name, method, backend, r))
                print(f"  {name}, {method}, {backend}: {r}", file=sys.stderr)
        # in this process, after the children: its memory is not theirs
        options = network_options(
            model,
            inputs[-1][2][0] if inputs else calibration[0],
            calibration,
            args.threads,
            args.backends,
        )
        from skasc import complexity, load

        macs = complexity(load(model)).macs_per_segment
    print(
        f"threads: {args.threads}; peak GEMM (2048^3, torch): fp32 {peak['fp32'] / 1e9:.1f} "
        f"G MAC/s ({peak['fp32_core'] / 1e9:.1f} per core), bf16 {peak['bf16'] / 1e9:.1f} "
        f"G MAC/s ({peak['bf16_core'] / 1e9:.1f} per core)"
        + (
            f"; onnxruntime's fp32 MatMul (MLAS) {peak['ort'] / 1e9:.1f} G MAC/s "
            f"({peak['ort_core'] / 1e9:.1f} per core)"
            if "ort" in peak
            else ""
        )
        + "\n"
    )
    print(speed_table(rows, peak))
    print(
        f"\nThe network alone, {args.threads} thread(s), 256 segments of the last input, "
        f"CPU time, median of 3 (MAC/s at {macs / 1e6:.1f} M MACs per segment):\n"
    )
    print(
        "| option | segments/s per core | G MAC/s per core | % of the fp32 GEMM | max abs "
        "feature diff vs torch fp32 |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, speed, diff in options:
        print(
            f"| {name} | {speed:.0f} | {speed * macs / 1e9:.1f} | "
            f"{100 * speed * macs / peak['fp32_core']:.0f} % | {diff:.1e} |"
        )


# --------------------------------------------------------------------------- #
# Accuracy
# --------------------------------------------------------------------------- #
def run_accuracy(args: argparse.Namespace) -> None:
    import numpy as np
    import torch
    from sklearn.metrics import accuracy_score, log_loss

    from skasc import load, load_dataset, with_backend

    torch.set_num_threads(args.threads)
    pipe = load(args.accuracy)
    sets, calibration = [], None
    if os.path.isdir(args.esc10):
        ds = load_dataset("esc10", args.esc10)
        train, test = next(iter(ds.cv.split()))
        sets.append(("ESC-10 fold 1", [ds.paths[i] for i in test], ds.labels[test]))
        # int8 ranges from the network's training data (folds 2-5), every k-th recording
        step = max(1, len(train) // args.calibration_size)
        calibration = [ds.paths[i] for i in train[::step][: args.calibration_size]]
        where = f"{len(calibration)} ESC-10 training recordings (folds 2-5)"
    if os.path.isdir(args.tut):
        clips = sorted(
            os.path.join(args.tut, f) for f in os.listdir(args.tut) if f.endswith(".wav")
        )
        sets.insert(0, ("TUT 2018 clips", clips, None))
        if calibration is None:
            calibration, where = clips, "the TUT clips themselves (no ESC-10 here)"
    print(f"model {args.accuracy}; int8 calibrated on {where}\n")
    print("| data | backend | max abs diff vs torch | label agreement | accuracy | log loss |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    models = {
        b: with_backend(pipe, b, calibration=calibration if b == "onnx-int8" else None)
        for b in args.backends
    }
    for name, paths, labels in sets:
        reference = None
        for backend, model in models.items():
            proba = model.predict_proba(paths)
            pred = pipe.classes_[np.argmax(proba, axis=1)]
            if reference is None:
                reference = (proba, pred)
            diff = float(np.abs(proba - reference[0]).max())
            agree = float(np.mean(pred == reference[1]))
            scores = ("–", "–")
            if labels is not None:
                scores = (
                    f"{100 * accuracy_score(labels, pred):.2f} %",
                    f"{log_loss(labels, proba, labels=pipe.classes_):.4f}",
                )
            print(
                f"| {name} | {backend} | {diff:.2e} | {100 * agree:.1f} % | {scores[0]} | "
                f"{scores[1]} |",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--minutes",
        type=float,
        nargs="*",
        default=[10.0, 60.0],
        help="long generated files for the timeline (default 10 60)",
    )
    parser.add_argument(
        "--folder-minutes",
        type=float,
        default=60.0,
        help="audio in the folder of 10-s files for predict (default 60)",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--backends",
        nargs="+",
        default=["torch", "onnx", "onnx-int8"],
        help="the first is the reference of the accuracy table",
    )
    parser.add_argument("--model", help="a saved pipeline to time instead of a fresh one")
    parser.add_argument("--tut", default=os.path.join(SHARED, "tut-urban-2018-samples"))
    parser.add_argument("--esc10", default=os.path.join(SHARED, "esc10"))
    parser.add_argument("--accuracy", metavar="MODEL", help="compare backends on this model")
    parser.add_argument(
        "--calibration-size",
        type=int,
        default=40,
        help="training recordings that calibrate int8 (default 40)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(json.loads(args.child))
    elif args.accuracy:
        run_accuracy(args)
    else:
        run_speed(args)


if __name__ == "__main__":
    main()
