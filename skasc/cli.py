"""The ``skasc`` command: ``cv``, ``compare``, ``demo``, ``fit``, ``predict``, ``evaluate``,
``info`` and ``export``.

``skasc cv DATASET ROOT`` runs a data set's official protocol
(:func:`skasc.run_protocol`) and ``skasc compare A B`` compares two such runs
(:func:`skasc.compare_runs`); the others work on folders of recordings and model files.

Heavy modules (torch, skorch, librosa) are imported inside the sub-commands, so
``skasc --help`` answers at once.

Exit codes and errors:

* **0**: done.
* **2**, with one line on standard error and no traceback: a user error, told
  by its class: any :class:`~skasc.exceptions.SkascError` (bad arguments,
  ``CLIError``; ``InvalidParameterError``, ``AudioFileError``, ``DatasetError``,
  ``ModelFileError``, ``UntrustedTypeError``, ``CheckpointError``,
  ``TrainingDivergedError``, ``ExportError`` and the plain ``SkascValueError`` /
  ``SkascTypeError``, whose messages name the argument, file or recording at
  fault) and file errors (``OSError``: missing, unreadable or unwritable files,
  a full disk). Output paths are checked before any work: their folder must
  exist and be writable, and no output may be one of the command's inputs.
* **130**, with one line: interrupted (Ctrl-C).  ``skasc fit`` then leaves the
  model file as it was; with ``--checkpoint-dir`` the same command resumes
  after the last completed epoch.
* Anything else (an exception raised by Python itself, numpy, torch, ... while
  skasc runs) is a bug: it shows its traceback.

A closed standard output (``skasc fit ... | head -1``) is not an error: later
output is dropped and the command still saves its results.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections.abc import Sequence
from typing import NoReturn

from ._atomic import atomic_text_write
from .exceptions import CLIError, SkascError
from .pipelines import FEATURES, NETWORKS, RECORDING_POSTERIORS, make_system


def check_output_path(path: str, option: str) -> None:
    """Fail before any work when the file ``path`` (given as ``option``) cannot be
    written: its folder must exist and be writable, and ``path`` must not be a folder
    (see also :func:`check_outputs`).

    >>> check_output_path("/no/such/folder/model.skasc", "--model")
    Traceback (most recent call last):
    ...
    skasc.exceptions.CLIError: cannot write --model /no/such/folder/model.skasc: the folder /no/such/folder does not exist
    """  # noqa: E501 (a doctest's exception line cannot wrap)
    from ._atomic import output_path_problem

    problem = output_path_problem(path)
    if problem is not None:
        raise CLIError(f"cannot write {option} {path}: {problem[2]}")


def check_outputs(
    outputs: Sequence[tuple[str, str | None]], inputs: Sequence[tuple[str, Sequence[str]]]
) -> None:
    """Fail before any work when an output cannot be written, or is one of the inputs.

    Parameters
    ----------
    outputs : sequence of (option, path or None)
        The files the command writes, by option (``"--out"``); None when not given.
    inputs : sequence of (what, paths)
        The files it reads, described (``"the model file"``, ``"the recording"``).

    Raises
    ------
    CLIError
        Naming the output and the input (or the other output) when they are the same
        file (however spelt: through links, ``./``), or why the output cannot be
        written (:func:`check_output_path`).

    >>> check_outputs([("--out", "m.skasc")], [("the model file", ["m.skasc"])])
    Traceback (most recent call last):
    ...
    skasc.exceptions.CLIError: cannot write --out m.skasc: it is the model file m.skasc; an output never overwrites an input
    """  # noqa: E501 (a doctest's exception line cannot wrap)
    from ._paths import file_identity

    taken: dict[tuple, str] = {}
    for what, paths in inputs:
        for path in paths:
            taken.setdefault(file_identity(path), f"{what} {path}")
    for option, output in outputs:
        if output is None:
            continue
        check_output_path(output, option)
        key = file_identity(output)
        if key in taken:
            raise CLIError(
                f"cannot write {option} {output}: it is {taken[key]}; an output "
                "never overwrites an input"
            )
        taken[key] = f"the {option} output {output}"


# ----------------------------------------------------------------------------- inputs
def collect_audio(folder: str) -> list[str]:
    """Audio files directly inside ``folder`` or below it, sorted.

    A file counts as audio by its extension, from :data:`skasc.frontend.audio.AUDIO_EXTENSIONS`
    (what this soundfile reads, MP3 included), so the scan and the loader agree.
    """
    from .frontend.audio import AUDIO_EXTENSIONS

    if not os.path.exists(folder):
        raise CLIError(f"no such file or folder: {folder}")
    if not os.path.isdir(folder):
        return [folder]  # a file: the loader says if it cannot be read
    paths = sorted(
        os.path.join(root, f)
        for root, _, files in os.walk(folder)
        for f in files
        if f.lower().endswith(AUDIO_EXTENSIONS)
    )
    if not paths:
        raise CLIError(f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) found in {folder}")
    return paths


def read_labels_csv(csv_path: str, folder: str) -> tuple[list[str], list[str]]:
    """Rows ``file,label`` (file relative to ``folder`` or absolute); a header row is allowed.

    The file is UTF-8 (a byte-order mark, as Excel writes, is allowed). An empty
    label, or a file listed twice (however spelt: ``./a.wav``, a link), is an error
    naming the lines.
    """
    from ._paths import file_identity, regular_file_problem

    problem = regular_file_problem(csv_path)
    if problem == "does not exist":
        raise CLIError(f"labels file not found: {csv_path}")
    if problem is not None:
        raise CLIError(f"labels file {csv_path} {problem}")
    paths, labels = [], []
    seen: dict[tuple, tuple[int, str]] = {}
    with open(csv_path, newline="", encoding="utf-8-sig") as fh:
        try:
            rows = list(enumerate(csv.reader(fh), start=1))
        except UnicodeDecodeError as exc:
            raise CLIError(
                f"{csv_path} is not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8"
            ) from None
    for lineno, row in rows:
        if not row or not "".join(row).strip():
            continue
        if len(row) < 2:
            raise CLIError(f"{csv_path}:{lineno}: expected 'file,label', got {row!r}")
        name, label = row[0].strip(), row[1].strip()
        if lineno == 1 and name.lower() in {"file", "filename", "path"}:
            continue
        if not label:
            raise CLIError(f"{csv_path}:{lineno}: empty label for {name!r}")
        path = name if os.path.isabs(name) else os.path.join(folder, name)
        problem = regular_file_problem(path)
        if problem == "does not exist":
            raise CLIError(f"{csv_path}:{lineno}: audio file not found: {path}")
        if problem is not None:
            raise CLIError(f"{csv_path}:{lineno}: audio file {path} {problem}")
        key = file_identity(path)
        if key in seen:
            first, first_label = seen[key]
            raise CLIError(
                f"{csv_path}:{lineno}: {name!r} is listed again (first on line "
                f"{first}); labels {first_label!r} and {label!r}"
            )
        seen[key] = (lineno, label)
        paths.append(path)
        labels.append(label)
    if not paths:
        raise CLIError(f"{csv_path} lists no recordings")
    return paths, labels


def listed_recordings(folder: str, labels_csv: str | None) -> tuple[list[str], list[str]]:
    """The recordings and labels of ``folder``: from ``labels_csv``, or the files' names."""
    if labels_csv:
        return read_labels_csv(labels_csv, folder)
    from .datasets.litis import class_from_filename

    paths = collect_audio(folder)
    return paths, [class_from_filename(p, require_number=False) for p in paths]


def labelled_recordings(
    folder: str, labels_csv: str | None, skip_bad: bool = False
) -> tuple[list[str], list[str]]:
    """:func:`listed_recordings`, each file then :func:`checked`."""
    return checked(*listed_recordings(folder, labels_csv), skip_bad)


def checked(paths: list[str], labels: list[str] | None, skip_bad: bool):
    """Check every file up front: the first bad header is an error, or with ``--skip-bad``
    all bad files (headers, and data: every sample is decoded) are skipped with one
    warning that lists them."""
    from .frontend.audio import check_recordings

    kept, kept_labels, _ = check_recordings(
        paths, labels, decode=skip_bad, on_error="skip" if skip_bad else "raise"
    )
    return list(kept), (None if labels is None else list(kept_labels))


# ----------------------------------------------------------------------------- commands
def _build(args: argparse.Namespace):
    net_params = {} if args.checkpoint_dir is None else {"checkpoint_dir": args.checkpoint_dir}
    return make_system(
        args.network,
        args.features,
        classifier=args.classifier,
        svm_C=args.C,
        recording_posteriors=args.recording_posteriors,
        max_epochs=args.epochs,
        lr=args.lr,
        random_state=args.seed,
        n_jobs=args.jobs,
        verbose=1,
        net_params=net_params,
    )


def cmd_fit(args: argparse.Namespace) -> int:
    from .persistence import save

    check_output_path(args.model, "--model")
    if (
        args.checkpoint_dir is not None
        and os.path.exists(args.checkpoint_dir)
        and not os.path.isdir(args.checkpoint_dir)
    ):
        raise CLIError(f"--checkpoint-dir {args.checkpoint_dir}: not a folder")
    paths, labels = listed_recordings(args.data, args.labels)
    check_outputs(
        [("--model", args.model)],
        [("the labels file", [args.labels] if args.labels else []), ("the recording", paths)],
    )
    paths, labels = checked(paths, labels, args.skip_bad)
    if len(set(labels)) < 2:
        raise CLIError(f"need at least two classes to fit; found {sorted(set(labels))}")
    print(f"Fitting on {len(paths)} recordings of {len(set(labels))} classes ...")
    pipe = _build(args).fit(paths, labels)
    save(pipe, args.model)
    print(f"Saved the fitted pipeline to {args.model}")
    return 0


def _model_file(path: str) -> str:
    """``path``, after checking that something is there (``load`` checks the rest)."""
    if not os.path.exists(path):
        raise CLIError(f"model file not found: {path}")
    return path


def _load_model(path: str):
    from .persistence import load

    return load(_model_file(path))  # refuses a FIFO or a folder; holds no folder from the file


def cmd_predict(args: argparse.Namespace) -> int:
    if args.out:
        check_output_path(args.out, "--out")
    if not args.timeline:
        given = [
            opt
            for opt, value in (
                ("--figure", args.figure),
                ("--window", args.window),
                ("--hop", args.hop),
            )
            if value is not None
        ]
        if given:
            verb = "applies" if len(given) == 1 else "apply"
            raise CLIError(f"{', '.join(given)} {verb} to a timeline; pass --timeline too.")
    elif args.skip_bad:
        raise CLIError("--skip-bad does not apply to --timeline (one file, read in blocks).")
    if (args.calibration is None) == (args.backend == "onnx-int8"):
        raise CLIError(
            "--backend onnx-int8 needs --calibration FOLDER (recordings whose "
            "segments set the int8 ranges, e.g. training data)"
            if args.calibration is None
            else "--calibration applies to --backend onnx-int8 only"
        )
    _model_file(args.model)
    calibration = None if args.calibration is None else collect_audio(args.calibration)
    if args.timeline:
        return _predict_timeline(args, calibration)
    paths = [p for item in args.audio for p in collect_audio(item)]
    check_outputs(
        [("--out", args.out)],
        [
            ("the model file", [args.model]),
            ("the recording", paths),
            ("the calibration recording", calibration or []),
        ],
    )
    pipe = _with_backend(_load_model(args.model), args.backend, calibration)
    paths, _ = checked(paths, None, args.skip_bad)
    rows = [["file", "label"], *([path, label] for path, label in zip(paths, pipe.predict(paths)))]
    if not args.out:
        csv.writer(sys.stdout).writerows(rows)
        return 0
    with atomic_text_write(args.out) as out:
        csv.writer(out).writerows(rows)
    print(f"Wrote {len(paths)} predictions to {args.out}")
    return 0


def _with_backend(model, backend: str, calibration: list[str] | None):
    """The model with its networks on ``backend``; a missing extra is a user error."""
    from .backend import with_backend

    try:
        return with_backend(model, backend, calibration=calibration)
    except ImportError as exc:
        raise CLIError(str(exc)) from exc


def _predict_timeline(args: argparse.Namespace, calibration: list[str] | None) -> int:
    from .timeline import predict_timeline

    if len(args.audio) != 1 or os.path.isdir(args.audio[0]):
        raise CLIError(f"--timeline takes exactly one audio file; got {' '.join(args.audio)}.")
    check_outputs(
        [("--out", args.out), ("--figure", args.figure)],
        [
            ("the model file", [args.model]),
            ("the recording", args.audio),
            ("the calibration recording", calibration or []),
        ],
    )
    pipe = _with_backend(_load_model(args.model), args.backend, calibration)
    timeline = predict_timeline(
        pipe,
        args.audio[0],
        window=30.0 if args.window is None else args.window,
        hop=10.0 if args.hop is None else args.hop,
        backend=None,  # _with_backend placed the networks already
        verbose=1 if args.out else 0,
    )
    timeline.to_csv(args.out or sys.stdout)
    if args.out:
        print(
            f"Wrote {len(timeline)} windows ({len(timeline.change_points)} change points) "
            f"to {args.out}"
        )
    if args.figure:
        from .plotting import plot_timeline

        plot_timeline(timeline, path=args.figure)
        print(
            f"Wrote the timeline figure to {args.figure}",
            file=sys.stderr if not args.out else sys.stdout,
        )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    import numpy as np
    from sklearn.metrics import confusion_matrix

    from .evaluation import classification_scores

    if args.figure:
        check_output_path(args.figure, "--figure")
    model = _model_file(args.model)
    paths, labels = listed_recordings(args.data, args.labels)
    check_outputs(
        [("--figure", args.figure)],
        [
            ("the model file", [model]),
            ("the labels file", [args.labels] if args.labels else []),
            ("the recording", paths),
        ],
    )
    pipe = _load_model(args.model)
    paths, labels = checked(paths, labels, args.skip_bad)
    unseen = sorted(set(labels) - {str(c) for c in pipe.classes_})
    if unseen:
        raise CLIError(
            f"labels never seen in fit: {unseen}; the model knows {[str(c) for c in pipe.classes_]}"
        )
    pred = np.asarray(pipe.predict(paths)).astype(str)
    truth = np.asarray(labels)
    scores = classification_scores(truth, pred)
    print(f"recordings: {len(paths)}")
    print(f"accuracy:        {100 * scores['accuracy']:6.2f} %")
    print(f"macro class-wise accuracy: {100 * scores['balanced_accuracy']:6.2f} %")
    print(f"macro F1:        {100 * scores['f1_macro']:6.2f} %")
    print(f"macro precision: {100 * scores['precision_macro']:6.2f} %")
    print(
        "class-wise accuracy: "
        + ", ".join(f"{c} {100 * v:.2f} %" for c, v in scores["class_accuracy"].items())
    )
    classes = [str(c) for c in pipe.classes_]
    cm = confusion_matrix(truth, pred, labels=classes)
    print("confusion matrix (rows: true, columns: predicted):")
    print("  ".join(classes))
    print(cm)
    if args.figure:
        from .plotting import plot_confusion_matrix

        plot_confusion_matrix(cm, classes, path=args.figure)
        print(f"Saved {args.figure}")
    return 0


def _folds(text: str) -> list[int]:
    try:
        folds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        folds = []
    if not folds or any(f < 1 for f in folds):
        raise argparse.ArgumentTypeError(
            f"expected fold numbers from 1, separated by commas (e.g. 1,3), got {text!r}"
        )
    return folds


def _net_param(text: str) -> tuple[str, object]:
    import json

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(
            f"expected NAME=VALUE (e.g. module__hidden_size=32), got {text!r}"
        )
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = value  # a bare string, e.g. device names
    if isinstance(parsed, list):
        parsed = tuple(parsed)
    return key.strip(), parsed


def cmd_cv(args: argparse.Namespace) -> int:
    from .protocol import run_protocol

    if args.scheduler is not None:
        try:
            import distributed  # noqa: F401  (the dask extra)
        except ImportError:
            raise CLIError(
                "--scheduler needs dask.distributed: pip install 'skasc[dask]'"
            ) from None
    run_protocol(
        args.dataset,
        args.root,
        network=args.network,
        features=args.features,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        classifier=args.classifier,
        svm_C=args.C,
        recording_posteriors=args.recording_posteriors,
        folds=args.folds,
        eval_every=args.eval_every,
        device=args.device,
        n_jobs=args.jobs,
        out=args.out,
        scheduler=args.scheduler,
        random_state=args.seed,
        seeds=args.seeds,
        net_params=dict(args.net_param),
        verbose=1,
    )
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .comparison import compare_runs
    from .protocol import result_files

    check_outputs(
        [("--out", args.out), ("--json", args.json)],
        [
            (f"a file of result folder {folder}", result_files(folder))
            for folder in (args.a, args.b)
        ],
    )
    comparison = compare_runs(
        args.a,
        args.b,
        metric=args.metric,
        level=args.level,
        alpha=args.alpha,
        out=args.out,
        json_out=args.json,
    )
    print(comparison.to_markdown())
    for path in (args.out, args.json):
        if path:
            print(f"Wrote {path}", file=sys.stderr)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from ._complexity import complexity

    model = _load_model(args.model)
    report = complexity(model)
    reports = report if isinstance(report, dict) else {"system": report}
    print(
        f"{args.model}: classes {[str(c) for c in model.classes_]}" if args.classes else args.model
    )
    try:
        from .backend import network_sizes

        sizes = network_sizes(model)
    except ImportError:
        sizes = None
    for name, item in reports.items():
        print()
        print(item.to_table())
        if sizes is None:
            print("Exported ONNX network sizes: need pip install 'skasc[onnx]'")
        elif name in sizes:
            print(
                f"Exported ONNX network (measured): fp32 {sizes[name]['fp32'] / 1e6:.2f} MB, "
                f"int8 {sizes[name]['int8'] / 1e6:.2f} MB (convolutions int8, GRU and "
                "dense layers fp32)"
            )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    if args.quantize and not args.calibration:
        raise CLIError(
            "--quantize int8 needs --calibration FOLDER (recordings whose "
            "segments set the int8 ranges, e.g. training data)"
        )
    if args.calibration and not args.quantize:
        raise CLIError("--calibration applies to --quantize int8 only")
    calibration = collect_audio(args.calibration) if args.calibration else None
    check_outputs(
        [("ONNX", args.onnx)],
        [
            ("the model file", [_model_file(args.model)]),
            ("the calibration recording", calibration or []),
        ],
    )
    model = _load_model(args.model)
    try:
        from .onnx import export_onnx

        export_onnx(model, args.onnx, quantize=args.quantize, calibration=calibration)
    except ImportError as exc:
        raise CLIError(str(exc)) from exc
    kind = "int8 convolutions, " if args.quantize else ""
    print(
        f"Wrote {args.onnx} ({kind}{os.path.getsize(args.onnx) / 1e6:.2f} MB): segment "
        "images (n, K, M, T) in, calibrated posteriors out; run it with "
        "skasc.onnx.OnnxPredictor"
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise CLIError(f"--out {args.out}: not a folder")

    run_demo(
        out_dir=args.out,
        n_classes=args.classes,
        n_per_class=args.per_class,
        n_splits=args.splits,
        max_epochs=args.epochs,
        lr=args.lr,
        seed=args.seed,
        fusion=args.fusion,
        baseline=not args.no_baseline,
        n_jobs=args.jobs,
    )
    return 0


# ----------------------------------------------------------------------------- parser
def _int_at_least(low: int, expected: str, high: int | None = None):
    """An argparse type: an int in ``[low, high]``, else the one-line error 'expected ...'."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


_positive_int = _int_at_least(1, "a positive integer")
_non_negative_int = _int_at_least(0, "an integer >= 0")
_seed = _int_at_least(0, "an integer from 0 to 4294967295 (2**32 - 1)", high=2**32 - 1)


def _seed_list(text: str) -> list[int]:
    expected = "seeds from 0 to 4294967295 separated by commas (e.g. 0,1,2)"
    parts = [part.strip() for part in text.split(",")]
    if not all(parts):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    try:
        return [_seed(part) for part in parts]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value == 0:
        raise argparse.ArgumentTypeError(
            f"expected a non-zero integer (-1 for all cores), got {text!r}"
        )
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}")
    return value


_SKIP_BAD_HELP = (
    "skip unreadable audio files and files with bad samples (NaN/inf, corrupt "
    "frames), listed in one warning, instead of stopping"
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit code 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def _add_system_options(p: argparse.ArgumentParser) -> None:
    """Which system to train: network, features, head and recording posteriors."""
    p.add_argument("--network", choices=list(NETWORKS), default="att_crnn")
    p.add_argument(
        "--features",
        choices=list(FEATURES),
        default="logmel",
        help="fusion: a network per feature type, product rule (default logmel)",
    )
    p.add_argument("--classifier", choices=["svm", "softmax"], default="svm")
    p.add_argument("--C", type=_positive_float, default=0.1, help="the SVM's C (default 0.1)")
    p.add_argument(
        "--recording-posteriors",
        choices=list(RECORDING_POSTERIORS),
        default="mean",
        help="mean: geometric mean of the segment posteriors (default); calibrated: "
        "the same, temperature fitted on held-out training recordings; "
        "paper: their product, as the paper",
    )


def _add_training_options(
    p: argparse.ArgumentParser, *, epochs: int, lr: float, repeated: bool = False
) -> None:
    """``--epochs``, ``--lr``, ``--seed`` (or, with ``repeated``, ``--seeds``), ``--jobs``."""
    p.add_argument(
        "--epochs",
        type=_positive_int,
        default=epochs,
        help=f"training epochs (default {epochs}; the paper uses 500)",
    )
    p.add_argument(
        "--lr",
        type=_positive_float,
        default=lr,
        help=f"Adam learning rate (default {lr:g}; the paper uses 1e-4 over 500 epochs)",
    )
    seeds = p.add_mutually_exclusive_group() if repeated else p
    seeds.add_argument(
        "--seed",
        type=_seed,
        default=None if repeated else 0,
        help="random_state, from 0 to 2**32 - 1 (default 0)",
    )
    if repeated:
        seeds.add_argument(
            "--seeds",
            type=_seed_list,
            default=None,
            metavar="S1,S2,...",
            help="repeated runs: every fold once per seed (e.g. 0,1,2); "
            "scores as mean ± std over the seeds",
        )
    p.add_argument(
        "--jobs",
        type=_jobs,
        default=None,
        help="recordings featurised in parallel (-1 for all cores)",
    )


def _add_int8_options(p: argparse.ArgumentParser, option: str, **kwargs) -> None:
    """``option`` (the backend or the quantization) and ``--calibration``."""
    p.add_argument(option, **kwargs)
    p.add_argument(
        "--calibration",
        metavar="FOLDER",
        help="for int8: recordings whose segments set the int8 ranges (e.g. some training data)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``skasc`` command's parser: a sub-command per ``cmd_*`` function."""
    parser = _Parser(
        prog="skasc",
        description="Acoustic scene classification with the "
        "spatio-temporal attention CRNN of Phan et al. (Interspeech 2019).",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    cv = sub.add_parser(
        "cv",
        help="run a data set's official protocol (every fold) and write "
        "the paper's tables and figures",
    )
    cv.add_argument(
        "dataset",
        help="registry name: litis, esc50, esc10, urbansound8k, "
        "tut2016, tut2017, tut2018, tut2018mobile, tau2019, tau2019mobile, "
        "tau2020mobile, tau2022mobile or csv",
    )
    cv.add_argument(
        "root", help="the data set's folder (the one holding its metadata), or its parent"
    )
    _add_system_options(cv)
    cv.add_argument(
        "--batch-size", type=_positive_int, default=100, help="segments per minibatch (default 100)"
    )
    cv.add_argument(
        "--folds",
        type=_folds,
        default=None,
        help="official folds to run, from 1 (e.g. 1,3; default all)",
    )
    cv.add_argument(
        "--eval-every",
        type=_non_negative_int,
        default=5,
        metavar="N",
        help="score the held-out fold's segments every N epochs for Figure 2 "
        "(0: never; never used for any decision; default 5)",
    )
    cv.add_argument("--device", default="auto", help="torch device (default auto: CUDA if any)")
    cv.add_argument(
        "--out",
        default="results",
        help="output folder; rerun the same command to resume (default results)",
    )
    cv.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the folds (and seeds) on this Dask scheduler, one run per worker task",
    )
    cv.add_argument(
        "--net-param",
        type=_net_param,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra network parameter, JSON value (e.g. module__hidden_size=32); repeatable",
    )
    _add_training_options(cv, epochs=500, lr=1e-4, repeated=True)
    cv.set_defaults(func=cmd_cv)

    demo = sub.add_parser("demo", help="train and evaluate the full system on a generated corpus")
    demo.add_argument("--out", default="skasc-demo", help="folder for the report and PNG figures")
    demo.add_argument("--classes", type=_positive_int, default=5)
    demo.add_argument(
        "--per-class", type=_positive_int, default=8, help="30-s recordings per class (default 8)"
    )
    demo.add_argument("--splits", type=_positive_int, default=2)
    demo.add_argument(
        "--fusion", action="store_true", help="also train logGam systems and report the fused rows"
    )
    demo.add_argument("--no-baseline", action="store_true", help="skip the CNN baseline")
    _add_training_options(demo, epochs=10, lr=1e-3)
    demo.set_defaults(func=cmd_demo)
    _add_model_commands(sub)
    return parser


def _add_model_commands(sub) -> None:
    """The sub-commands that fit, use or inspect a model file."""
    fit = sub.add_parser("fit", help="fit a pipeline on a folder of labelled recordings")
    fit.add_argument("data", help="folder of audio files (class taken from '<class><number>.wav')")
    fit.add_argument("--labels", help="CSV of 'file,label' rows instead of file names")
    fit.add_argument("--model", required=True, help="where to save the fitted pipeline")
    _add_system_options(fit)
    _add_training_options(fit, epochs=500, lr=1e-4)
    fit.add_argument(
        "--checkpoint-dir",
        metavar="DIR",
        help="save the training state after every epoch in DIR; rerunning the "
        "same command after an interruption resumes from it",
    )
    fit.add_argument("--skip-bad", action="store_true", help=_SKIP_BAD_HELP)
    fit.set_defaults(func=cmd_fit)

    _add_predict_command(sub)

    evaluate = sub.add_parser("evaluate", help="score a saved pipeline on labelled recordings")
    evaluate.add_argument("model")
    evaluate.add_argument("data")
    evaluate.add_argument("--labels", help="CSV of 'file,label' rows instead of file names")
    evaluate.add_argument("--figure", help="save the confusion matrix as this PNG")
    evaluate.add_argument("--skip-bad", action="store_true", help=_SKIP_BAD_HELP)
    evaluate.set_defaults(func=cmd_evaluate)

    compare = sub.add_parser(
        "compare",
        help="is system A better than system B? a paired "
        "comparison of two skasc cv output folders (same data set, folds "
        "and seeds)",
    )
    compare.add_argument("a", help="output folder of system A's skasc cv run")
    compare.add_argument("b", help="output folder of system B's skasc cv run")
    compare.add_argument(
        "--metric",
        default="accuracy",
        help="accuracy (default), balanced_accuracy (macro class-wise), "
        "f1_macro, precision_macro or log_loss",
    )
    compare.add_argument("--level", choices=["recording", "segment"], default="recording")
    compare.add_argument(
        "--alpha",
        type=_probability,
        default=0.05,
        help="significance level of the verdict (default 0.05; confidence intervals at 1 - alpha)",
    )
    compare.add_argument("--out", help="write the comparison as Markdown to this file")
    compare.add_argument("--json", help="write the comparison as JSON to this file")
    compare.set_defaults(func=cmd_compare)

    info = sub.add_parser(
        "info",
        help="parameters, MACs and size of a saved model, per part (as DCASE Task 1 reports them)",
    )
    info.add_argument("model")
    info.add_argument("--classes", action="store_true", help="also list its classes")
    info.set_defaults(func=cmd_info)

    export = sub.add_parser(
        "export",
        help="write a saved pipeline's segment model as ONNX (needs pip install 'skasc[onnx]')",
    )
    export.add_argument("model")
    export.add_argument("onnx", help="the .onnx file to write")
    _add_int8_options(
        export,
        "--quantize",
        choices=("int8",),
        default=None,
        help="int8 convolutions (needs --calibration)",
    )
    export.set_defaults(func=cmd_export)


def _add_predict_command(sub) -> None:
    """skasc predict: labels, or a timeline, from a saved pipeline."""
    predict = sub.add_parser("predict", help="label recordings with a saved pipeline")
    predict.add_argument("model")
    predict.add_argument("audio", nargs="+", help="audio files or folders")
    predict.add_argument("--out", help="CSV to write (default: standard output)")
    predict.add_argument("--skip-bad", action="store_true", help=_SKIP_BAD_HELP)
    predict.add_argument(
        "--timeline",
        action="store_true",
        help="label every window of one long file instead (rows: start_s, "
        "end_s, label, posteriors)",
    )
    predict.add_argument(
        "--window",
        type=_positive_float,
        default=None,
        help="timeline window in seconds (default 30)",
    )
    predict.add_argument(
        "--hop",
        type=_positive_float,
        default=None,
        help="seconds between timeline windows (default 10)",
    )
    predict.add_argument("--figure", help="with --timeline: save the timeline as this PNG")
    _add_int8_options(
        predict,
        "--backend",
        choices=("auto", "torch", "onnx", "onnx-int8"),
        default="auto",
        help="where the network runs: auto (default: onnx "
        "when pip install 'skasc[onnx]' is done, else torch), torch (the "
        "reference), onnx (onnxruntime, float32, posteriors within 1e-6 of "
        "torch's) or onnx-int8 (int8 convolutions, faster, less exact)",
    )
    predict.set_defaults(func=cmd_predict)


def _version() -> str:
    from . import __version__

    return f"skasc {__version__}"


#: The standard exceptions the command reports as one line (exit code 2), besides
#: :class:`~skasc.exceptions.SkascError`: file errors (missing, unreadable or
#: unwritable files, a full disk).
USER_ERRORS: tuple[type[BaseException], ...] = (SkascError, OSError)


def is_user_error(exc: BaseException) -> bool:
    """Whether the CLI reports ``exc`` as one line (exit 2) rather than a traceback.

    User errors are the errors skasc raises on purpose (:class:`~skasc.exceptions.SkascError`:
    bad arguments, audio files, data sets, model files, ...) and file errors
    (``OSError``); anything else raised while skasc runs is a bug.

    >>> is_user_error(CLIError("no such file"))
    True
    >>> try:
    ...     len(None)
    ... except TypeError as exc:
    ...     is_user_error(exc)
    False
    """
    return isinstance(exc, USER_ERRORS)


class _PipeSafeStdout:
    """Standard output for one command: once the reader has gone (``| head -1``),
    further output is dropped instead of raising ``BrokenPipeError``, so that a
    long fit still saves its model."""

    def __init__(self, stream):
        self._stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._drop()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._drop()

    def _drop(self) -> None:
        self.broken = True
        try:  # the interpreter's last flush of sys.stdout then goes nowhere, quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, self._stream.fileno())
            finally:
                os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _interrupted_message(args: argparse.Namespace) -> str:
    message = f"skasc {args.command}: interrupted"
    if args.command == "cv":
        message += f"; rerun the same command to resume from what {args.out} holds"
    if args.command == "fit":
        state = "left as it was" if os.path.exists(args.model) else "not written"
        message += f"; the model file {args.model} was {state}"
        if args.checkpoint_dir is not None:
            message += (
                f"; rerun the same command to resume from the last epoch saved in "
                f"{args.checkpoint_dir}"
            )
    return message


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``skasc`` command with ``argv`` (default: ``sys.argv[1:]``); return the
    exit code (see the module docstring)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    started = time.perf_counter()
    stdout = sys.stdout
    if stdout is not None:
        sys.stdout = _PipeSafeStdout(stdout)
    try:
        code = args.func(args)
        sys.stdout.flush()
    except KeyboardInterrupt:
        print(_interrupted_message(args), file=sys.stderr)
        return 130
    except Exception as exc:
        if not is_user_error(exc):
            raise  # a bug: show the traceback
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        if not isinstance(exc, CLIError) and isinstance(exc, OSError) and exc.filename:
            first = f"{exc.strerror or first}: {exc.filename}"
        print(f"skasc {args.command}: error: {first}", file=sys.stderr)
        return 2
    finally:
        if stdout is not None:
            sys.stdout = stdout
    if args.command != "demo":
        print(f"done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
