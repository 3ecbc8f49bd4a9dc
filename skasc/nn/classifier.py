"""scikit-learn estimators around the networks of :mod:`skasc.nn.modules`.

:class:`AttCRNNClassifier` and :class:`CNNBaselineClassifier` are skorch
``NeuralNetClassifier`` subclasses (through :class:`SegmentNetClassifier`) that train
on segment images ``X`` of shape ``(n_segments, n_channels, n_bands, n_frames)``
(float32, e.g. ``(n, 2, 64, 80)``) with hard labels ``y`` of shape ``(n_segments,)``.

What they add to a stock skorch classifier (docs/design.md says why, section "The
segment classifiers"):

* the KL-divergence loss of eq. (12) on soft between-class labels, the mixing being
  the training iterator's ``collate_fn`` (:class:`~skasc.nn.mixing.BetweenClassCollate`);
* optional input standardisation (``standardize_input``), stored in the module;
* labels encoded with a ``LabelEncoder`` (``classes_`` are the user's labels) and the
  module's sizes taken from ``X`` and ``y`` at fit;
* ``device="auto"``, resolved on access; ``random_state`` seeding weights, dropout,
  shuffling and mixing from ``(random_state, epoch)``, the caller's global RNG
  restored afterwards;
* no validation split by default (split *by recording* yourself);
* ``checkpoint_dir``: per-epoch checkpoints and exact resumption
  (:mod:`skasc.nn.checkpoint`); ``KeyboardInterrupt`` propagates out of ``fit`` and
  ``partial_fit``; a non-finite loss raises :class:`TrainingDivergedError`;
* losses read back from the device once per epoch, and prediction in slices of
  ``predict_batch_size`` segments in inference mode.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from sklearn.preprocessing import LabelEncoder
from skorch import NeuralNetClassifier
from skorch.callbacks import EpochScoring, EpochTimer, PassthroughScoring, PrintLog, ProgressBar
from skorch.dataset import get_len
from skorch.utils import to_numpy, to_tensor

from .._validation import BOOL, MAX_SEED, Instance, Int, Options, Real, check_device, check_params
from .._warnings import warn
from ..exceptions import SkascTypeError, SkascValueError, TrainingDivergedError
from . import _skorch
from .augment import SegmentAugmentation, neighbours
from .checkpoint import EpochCheckpoint
from .mixing import BetweenClassCollate, DeviceBatches, NeighbourSegments
from .modules import AttCRNN, CNNBaseline

__all__ = ["AttCRNNClassifier", "CNNBaselineClassifier", "TrainingDivergedError"]


def _cuda_index(device) -> int | None:
    """The CUDA device index the net runs on, or None for another device."""
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):  # reported by the parameter check
        return None
    if device.type != "cuda" or not torch.cuda.is_available():
        return None
    return device.index if device.index is not None else torch.cuda.current_device()


def _seed_global_rng(seed: int, device) -> None:
    """Seed the global generators the net draws from: the CPU one and, for a CUDA net,
    its device's (``torch.manual_seed`` would also reseed, and initialize, every GPU)."""
    torch.default_generator.manual_seed(seed)
    index = _cuda_index(device)
    if index is not None:
        with torch.cuda.device(index):
            torch.cuda.manual_seed(seed)


def _keeps_global_rng(method: Callable) -> Callable:
    """Run ``method`` with torch's global RNG state restored afterwards when the net
    has an int ``random_state`` (it reseeds the global RNG for weights and dropout)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if self.random_state is None:  # unseeded: draws from the caller's stream, as torch does
            return method(self, *args, **kwargs)
        index = _cuda_index(self.device)
        with torch.random.fork_rng(devices=[] if index is None else [index]):
            return method(self, *args, **kwargs)

    return wrapper


@contextlib.contextmanager
def _cudnn_autotune(device: str):
    """``torch.backends.cudnn.benchmark = True`` while a CUDA fit runs (every batch
    has the same shape, so the tuned kernels are reused), restored afterwards."""
    if (
        torch.device(device).type != "cuda"
        or torch.backends.cudnn.deterministic
        or torch.are_deterministic_algorithms_enabled()
    ):
        yield  # autotuning picks kernels by timing: not when determinism is asked for
        return
    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before


def _optimizer_kwargs(optimizer: Any, kwargs: dict, device: str) -> dict:
    """Adam and AdamW take ``fused=True`` on CUDA (one kernel per step instead of a
    few per parameter) unless the user chose (``optimizer__fused``/``foreach``)."""
    if (
        torch.device(device).type == "cuda"
        and optimizer in (torch.optim.Adam, torch.optim.AdamW)
        and "fused" not in kwargs
        and "foreach" not in kwargs
    ):
        return {**kwargs, "fused": True}
    return kwargs


def _auto_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def _code_accuracy(net, X, y) -> float:
    """Validation accuracy on encoded labels (skorch's cached forward pass)."""
    y_pred = to_numpy(net.forward(X)).argmax(axis=1)
    return float(np.mean(y_pred == to_numpy(y).reshape(-1)))


def _band_statistics(X: np.ndarray, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std over segments and frames of every (channel, band) of ``X``
    ``(n, K, M, T)``, in float64 and two passes over chunks (no copy of ``X``).

    A constant band (std 0, e.g. digital silence) gets std 1.
    """
    n, _, _, t = X.shape
    total = np.zeros(X.shape[1:3])
    for start in range(0, n, chunk):
        total += X[start : start + chunk].sum(axis=(0, 3), dtype=np.float64)
    mean = total / (n * t)
    sq = np.zeros_like(total)
    for start in range(0, n, chunk):
        centred = X[start : start + chunk].astype(np.float64) - mean[None, :, :, None]
        sq += np.einsum("nkmt,nkmt->km", centred, centred)
    std = np.sqrt(sq / (n * t))
    std[~(std > 1e-6)] = 1.0
    return mean.astype(np.float32), std.astype(np.float32)


class _EpochLoader:
    """An iterable that builds a new training loader (``make()``) at every iteration;
    its length is counted, not built (``ceil(n / batch_size)``, no batch dropped)."""

    def __init__(self, make: Callable, n_batches: int):
        self.make = make
        self.n_batches = n_batches

    def __iter__(self):
        return iter(self.make())

    def __len__(self) -> int:
        return self.n_batches


def _with_losses(batches: list[dict], first: int, key: str, values: list[float]) -> list[dict]:
    """The epoch's batch rows, those from ``first`` on carrying ``key`` = ``values``
    (new rows: the ones in the history are not edited)."""
    resolved = [{**row, key: value} for row, value in zip(batches[first:], values)]
    return batches[:first] + resolved + batches[first + len(values) :]


#: Largest share of the free device memory the training segments may take to be
#: moved to the device once per fit (the rest is left to activations and the cuDNN
#: workspace); larger data sets go through the DataLoader, batch by batch.
DEVICE_DATA_FRACTION = 0.5


class SegmentNetClassifier(NeuralNetClassifier):
    """The base of :class:`AttCRNNClassifier` and :class:`CNNBaselineClassifier`: what
    they add to skorch's classifier (see the module docstring)."""

    # the in-memory path on the CPU: None (default) when it needs no copy of X,
    # True always, False never (tests and benchmarks/gpu.py force either side)
    _device_data_on_cpu: bool | None = None

    # skasc's own parameters and skorch's numeric ones; the module's are checked
    # where the module is built (nn.modules), ``device`` by torch
    _parameter_checks = {
        "lr": Real(low=0.0, low_inclusive=False),
        "batch_size": Int(low=1),
        "max_epochs": Int(low=0),
        "predict_batch_size": Int(low=1, none=True),
        "random_state": Int(low=0, high=MAX_SEED, none=True),
        "between_class": BOOL,
        "crop": BOOL,
        "freq_mask_width": Int(low=0),
        "time_mask_width": Int(low=0),
        "n_masks": Int(low=0),
        "lr_schedule": Options(("cosine", None)),
        "standardize_input": BOOL,
        "mixed_precision": BOOL,
        "progress_bar": BOOL,
        "checkpoint_dir": Instance((str, os.PathLike), "a str, a path-like object", none=True),
    }

    def __init__(
        self,
        module,
        *,
        criterion=torch.nn.KLDivLoss,
        optimizer=torch.optim.Adam,
        lr: float = 1e-4,
        batch_size: int = 100,
        max_epochs: int = 500,
        train_split=None,
        between_class: bool = True,
        crop: bool = False,
        freq_mask_width: int = 0,
        time_mask_width: int = 0,
        n_masks: int = 2,
        lr_schedule: str | None = None,
        standardize_input: bool = False,
        random_state: int | None = None,
        device: str = "auto",
        mixed_precision: bool = False,
        predict_batch_size: int | None = None,
        progress_bar: bool = False,
        checkpoint_dir: str | os.PathLike | None = None,
        verbose: int = 1,
        **kwargs,
    ):
        super().__init__(
            module,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            batch_size=batch_size,
            max_epochs=max_epochs,
            train_split=train_split,
            device=device,
            verbose=verbose,
            **kwargs,
        )
        self.between_class = between_class
        self.crop = crop
        self.freq_mask_width = freq_mask_width
        self.time_mask_width = time_mask_width
        self.n_masks = n_masks
        self.lr_schedule = lr_schedule
        self.standardize_input = standardize_input
        self.random_state = random_state
        self.mixed_precision = mixed_precision
        self.predict_batch_size = predict_batch_size
        self.progress_bar = progress_bar
        self.checkpoint_dir = checkpoint_dir

    # ------------------------------------------------------------------ device
    @property
    def device(self) -> str:
        """The device in use: the ``device`` parameter with ``"auto"`` resolved."""
        value = self.__dict__.get("device", "auto")
        return _auto_device() if value == "auto" else value

    @device.setter
    def device(self, value) -> None:
        self.__dict__["device"] = value

    def get_params(self, deep: bool = True, **kwargs) -> dict:
        params = super().get_params(deep=deep, **kwargs)
        if "device" in params:
            params["device"] = self.__dict__.get("device", "auto")  # unresolved
        return params

    def __setstate__(self, state: dict) -> None:
        raw = state.get("device")
        if raw == "auto":
            state["device"] = _auto_device()
        super().__setstate__(state)
        if raw == "auto":
            self.__dict__["device"] = "auto"

    # --------------------------------------------------------------- callbacks
    @property
    def _default_callbacks(self):  # skorch private hook, see skasc.nn._skorch
        callbacks = [
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("valid_loss", PassthroughScoring(name="valid_loss")),
            ("valid_acc", EpochScoring(_code_accuracy, name="valid_acc", lower_is_better=False)),
        ]
        if self.__dict__.get("progress_bar", False):
            callbacks.append(("progress_bar", ProgressBar()))
        callbacks.append(("print_log", PrintLog()))
        return callbacks

    def initialize_callbacks(self):
        super().initialize_callbacks()
        if self.checkpoint_dir is not None:
            # last, so that the epoch's history row is complete when it is saved
            self.callbacks_.append(("epoch_checkpoint", EpochCheckpoint().initialize()))
        return self

    # ---------------------------------------------------------- initialization
    def _validate_own_params(self) -> None:
        check_params(self)
        check_device(self.__dict__.get("device", "auto"), self)

    def initialize(self):
        """Validate parameters, seed torch from ``random_state`` and build the net."""
        self._validate_own_params()
        if self.random_state is not None:
            _seed_global_rng(self.random_state, self.device)
        super().initialize()
        self.device_ = self.device
        return self

    def initialize_module(self):
        kwargs = self.get_params_for("module")
        for key, value in getattr(self, "module_data_params_", {}).items():
            kwargs.setdefault(key, value)
        self.module_ = self.initialized_instance(self.module, kwargs)
        return self

    def torch_compile(self, module, name):
        """skorch's ``compile=True`` (``compile__*`` passed to ``torch.compile``), for
        the blocks that gain from it.

        The conv block and the attention pooling of a skasc network are compiled in
        place (``nn.Module.compile``), so the weights keep their names in checkpoints
        and saved files, and a net loaded with :func:`skasc.load` (which initialises
        it) compiles again; an unpickled one runs eager (torch does not pickle the
        compiled call) until it is initialised. The GRU stays eager (dynamo
        graph-breaks on recurrent modules; docs/scaling.md). Other modules are left
        to skorch (the whole module is compiled); the loss is not compiled.
        """
        if not self.compile or name != "module":
            return module
        blocks = [
            getattr(module, part)
            for part in ("conv", "pooling")
            if isinstance(getattr(module, part, None), torch.nn.Module)
        ]
        if not blocks:
            return super().torch_compile(module, name)
        params = self.get_params_for("compile")
        for block in blocks:
            block.compile(**params)
        return module

    def initialize_optimizer(self, triggered_directly=None):
        """skorch's optimizer set-up, with fused Adam on CUDA (:func:`_optimizer_kwargs`)."""
        args, kwargs = self.get_params_for_optimizer("optimizer", self.get_all_learnable_params())
        self.optimizer_ = self.optimizer(
            *args, **_optimizer_kwargs(self.optimizer, kwargs, self.device)
        )
        return self

    def initialize_criterion(self):
        kwargs = self.get_params_for("criterion")
        if self.criterion is torch.nn.KLDivLoss:
            kwargs.setdefault("reduction", "batchmean")  # the mean over examples of eq. (12)
        self.criterion_ = self.initialized_instance(self.criterion, kwargs)
        return self

    # -------------------------------------------------------------------- data
    def _check_X(self, X) -> np.ndarray:
        if isinstance(X, torch.Tensor):
            X = X.detach().cpu().numpy()
        X = np.asarray(X)
        if X.ndim != 4:
            raise SkascValueError(
                f"{type(self).__name__} expects X of shape (n_segments, n_channels, n_bands, "
                f"n_frames), e.g. (n, 2, 64, 80); got an array of shape {X.shape}."
            )
        if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
            raise SkascTypeError(f"X must hold real numbers; got dtype {X.dtype}.")
        return np.ascontiguousarray(X, dtype=np.float32)

    def _check_X_y(self, X, y):
        X = self._check_X(X)
        for start in range(0, len(X), 4096):
            finite = np.isfinite(X[start : start + 4096]).reshape(min(4096, len(X) - start), -1)
            bad = np.flatnonzero(~finite.all(axis=1))
            if bad.size:
                raise SkascValueError(f"Segment {start + bad[0]} of X contains NaN or inf values.")
        if y is None:
            raise SkascValueError(
                f"{type(self).__name__} needs labels y of shape (n_segments,); got y=None."
            )
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X):
            raise SkascValueError(
                f"y must be 1-D with one label per segment, shape ({len(X)},); got shape {y.shape}."
            )
        return X, y

    def _setup(self, X: np.ndarray, y: np.ndarray, classes=None) -> None:
        encoder = LabelEncoder().fit(y if classes is None else np.asarray(classes))
        if len(encoder.classes_) < 2:
            raise SkascValueError(
                f"{type(self).__name__} needs at least 2 classes; y holds only "
                f"{encoder.classes_.tolist()}."
            )
        self.label_encoder_ = encoder
        self.module_data_params_ = {
            "n_classes": len(encoder.classes_),
            "n_channels": X.shape[1],
            "n_bands": X.shape[2],
            "n_frames": X.shape[3],
        }

    def _encode(self, y: np.ndarray) -> np.ndarray:
        unseen = np.setdiff1d(y, self.label_encoder_.classes_)
        if unseen.size:
            raise SkascValueError(
                f"y contains labels not seen at fit: {unseen.tolist()}; known "
                f"classes are {self.label_encoder_.classes_.tolist()}."
            )
        return self.label_encoder_.transform(y).astype(np.int64)

    @property
    def classes_(self) -> np.ndarray:
        """The user's class labels, sorted (set at fit)."""
        try:
            return self.label_encoder_.classes_
        except AttributeError:
            raise AttributeError(
                f"{type(self).__name__} is not fitted yet; classes_ is set by fit."
            ) from None

    def check_data(self, X, y=None):
        pass  # checked in fit / partial_fit, before label encoding

    # -------------------------------------------------------------------- fit
    @_keeps_global_rng
    def fit(self, X, y, recording_index=None, **fit_params):
        """Train on segments ``X`` with labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_segments, n_channels, n_bands, n_frames)
            Segment images, e.g. ``(n, 2, 64, 80)`` log-Mel spectrograms; cast to float32.
        y : array-like of shape (n_segments,)
            Segment labels (any sortable type, e.g. strings).
        recording_index : array-like of int of shape (n_segments,), default=None
            The recording of every segment, a recording's segments consecutive
            and in time order (:class:`~skasc.fusion.RecordingFusion` passes it).
            Needed by ``crop=True``; ignored otherwise.
        **fit_params : dict
            Passed on to skorch (and the module's ``forward``, which ignores them).

        Returns
        -------
        self

        Raises
        ------
        TrainingDivergedError
            The training loss became NaN or infinite (lower ``lr``).
        KeyboardInterrupt
            Training was interrupted; with ``checkpoint_dir`` a rerun resumes
            after the last completed epoch.

        Warns
        -----
        UserWarning
            When no epoch was trained (``max_epochs=0``): the net keeps its
            random initial weights.
        """
        X, y = self._check_X_y(X, y)
        self._augmentation = self._training_augmentation(X, recording_index)
        epochs = None  # max_epochs
        if not self.warm_start or not self.initialized_:
            self._initialize_for(X, y, self.classes)
            if self.checkpoint_dir is not None:
                saver = dict(self.callbacks_)["epoch_checkpoint"]
                self.checkpoint_path_ = saver.resume(self, X, y)
                self.resumed_from_epoch_ = len(self.history)
                epochs = max(0, self.max_epochs - len(self.history))
        try:
            with _cudnn_autotune(self.device):
                _skorch.train(self, X, self._encode(y), epochs=epochs, method="fit", **fit_params)
        finally:
            del self._augmentation
        if len(self.history) == 0:
            warn(
                f"{type(self).__name__} was fitted with max_epochs=0: the net is "
                "untrained (random initial weights); set max_epochs >= 1.",
                UserWarning,
            )
        return self

    def _training_augmentation(
        self, X: np.ndarray, recording_index: Any
    ) -> SegmentAugmentation | None:
        """The crops and masks of this fit (:mod:`skasc.nn.augment`), or None."""
        check_params(self)
        has_prev = has_next = None
        if self.crop:
            if self.train_split is not None:
                raise SkascValueError(
                    f"{type(self).__name__}(crop=True) cannot be combined with a train_split: "
                    "the crops need every segment's neighbours, which a validation split "
                    "takes away; set train_split=None or crop=False."
                )
            if recording_index is None:
                raise SkascValueError(
                    f"{type(self).__name__}(crop=True) crops each training segment within "
                    "its recording and needs fit(X, y, recording_index=...): the recording "
                    "of every segment, a recording's segments consecutive (RecordingFusion "
                    "passes it through the factories' pipelines)."
                )
            index = np.asarray(recording_index)
            if index.shape != (len(X),):
                raise SkascValueError(
                    f"recording_index must have shape ({len(X)},), one entry per "
                    f"segment of X; got shape {index.shape}."
                )
            has_prev, has_next = neighbours(index)
        augmentation = SegmentAugmentation(
            has_prev, has_next, self.freq_mask_width, self.time_mask_width, self.n_masks
        )
        return augmentation if augmentation.crops or augmentation.masks else None

    @_keeps_global_rng
    def partial_fit(self, X, y, classes=None, recording_index=None, **fit_params):
        """Train ``max_epochs`` more epochs without re-initializing.

        ``classes`` (or the ``classes`` parameter) lists every label when the
        first call does not see them all; ``recording_index`` is as in :meth:`fit`.
        """
        X, y = self._check_X_y(X, y)
        self._augmentation = self._training_augmentation(X, recording_index)
        try:
            if not self.initialized_:
                self._initialize_for(X, y, classes if classes is not None else self.classes)
            with _cudnn_autotune(self.device):
                return _skorch.train(self, X, self._encode(y), method="partial_fit", **fit_params)
        finally:
            del self._augmentation

    def _initialize_for(self, X: np.ndarray, y: np.ndarray, classes) -> None:
        """Encode the labels, build the net for ``X``'s shape, set its input statistics."""
        self._setup(X, y, classes)
        self.initialize()
        self._set_input_statistics(X)

    def _set_input_statistics(self, X: np.ndarray) -> None:
        """Per-(channel, band) mean and std of the training segments, into the module."""
        norm = getattr(self.module_, "input_norm", None)
        if not self.standardize_input or norm is None:
            self.input_mean_ = self.input_std_ = None
            return
        mean, std = _band_statistics(X)
        norm.set_statistics(mean, std)
        self.input_mean_, self.input_std_ = mean, std

    def _mixing_center(self) -> np.ndarray | None:
        """The point between-class mixing is taken around: the module's standardisation
        mean, shape (n_channels, n_bands, 1) (read once per epoch)."""
        norm = getattr(self.module_, "input_norm", None)
        if not self.standardize_input or norm is None:
            return None
        return norm.mean.detach().cpu().numpy()

    def fit_transform(self, X, y, **fit_params) -> np.ndarray:
        """Fit, then return :meth:`transform` of ``X``."""
        return self.fit(X, y, **fit_params).transform(X)

    def get_iterator(self, dataset, training: bool = False):
        """Training: shuffled, BC-mixed (``between_class``) batches of ``batch_size``.

        ``iterator_train__*`` parameters override these defaults.  skorch
        builds the training iterator once per ``fit``; the one returned here
        builds a fresh ``DataLoader`` each time it is iterated (once per
        epoch), with shuffling and mixing seeded from ``(random_state,
        epoch)``, so an epoch's batches do not depend on the epochs trained
        before it in the same process (a resumed fit sees the same batches).
        Validation batches have ``predict_batch_size`` segments unless
        ``iterator_valid__batch_size`` is given.
        """
        if training:
            on_device = self._device_resident(dataset)
            batch_size = self.get_params_for("iterator_train").get("batch_size", self.batch_size)
            n_batches = 1 if batch_size == -1 else -(-len(dataset) // batch_size)
            return _EpochLoader(lambda: self._training_loader(dataset, on_device), n_batches)
        kwargs = self.get_params_for("iterator_valid")
        kwargs.setdefault("batch_size", self._predict_slice())
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(dataset)
        return self.iterator_valid(dataset, **kwargs)

    def _device_resident(self, dataset) -> Any:
        """The training segments as one tensor on the device, or None for the
        DataLoader path, when no ``iterator_train__*`` option other than
        ``batch_size``/``shuffle`` asks for the DataLoader: on CUDA, when they take
        at most ``DEVICE_DATA_FRACTION`` of the free device memory; on the CPU, when
        ``X`` is float32 and C-contiguous, so that the tensor is ``X`` itself (no
        copy) and batches are gathered and mixed in reused buffers instead of being
        stacked item by item and mixed in new arrays."""
        device = torch.device(self.device)
        options = set(self.get_params_for("iterator_train")) - {"batch_size", "shuffle"}
        X = getattr(dataset, "X", None)
        if (
            options
            or not isinstance(X, np.ndarray)
            or not isinstance(getattr(dataset, "y", None), np.ndarray)
        ):
            return None
        if device.type == "cpu":
            zero_copy = X.dtype == np.float32 and X.flags.c_contiguous
            if not (self._device_data_on_cpu or (self._device_data_on_cpu is None and zero_copy)):
                return None
        elif device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(device)
            if X.nbytes > DEVICE_DATA_FRACTION * free:
                return None
        else:
            return None
        with warnings.catch_warnings():
            # a read-only X (a memory map) is only ever read here
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            return torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)).to(device)

    def _training_loader(self, dataset, on_device=None):
        kwargs = self.get_params_for("iterator_train")
        kwargs.setdefault("batch_size", self.batch_size)
        kwargs.setdefault("shuffle", True)
        if torch.device(self.device).type == "cuda":
            # page-locked host batches: the copy to the GPU overlaps the next batch
            kwargs.setdefault("pin_memory", True)
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(dataset)
        epoch = len(self.history)  # the current epoch (1-based) during training
        seed = None if self.random_state is None else [self.random_state, epoch]
        augmentation = getattr(self, "_augmentation", None)
        if (self.between_class or augmentation is not None) and "collate_fn" not in kwargs:
            kwargs["collate_fn"] = BetweenClassCollate(
                self.module_.n_classes
                if hasattr(self.module_, "n_classes")
                else len(self.classes_),
                random_state=seed,
                center=self._mixing_center(),
                between_class=self.between_class,
                augmentation=augmentation,
            )
        if kwargs["shuffle"] and seed is not None and "generator" not in kwargs:
            kwargs["generator"] = torch.Generator().manual_seed(
                int(np.random.SeedSequence(seed).generate_state(1)[0])
            )
        if on_device is not None:  # the same draws, gathered and mixed on the device
            generator = kwargs.get("generator")
            if kwargs["shuffle"] and generator is None:  # as RandomSampler seeds itself
                generator = torch.Generator().manual_seed(
                    int(torch.empty((), dtype=torch.int64).random_().item())
                )
            collate = kwargs.get("collate_fn")
            return DeviceBatches(
                on_device,
                dataset.y,
                getattr(collate, "n_classes", 0) or len(self.classes_),
                kwargs["batch_size"],
                generator if kwargs["shuffle"] else None,
                seed,
                getattr(collate, "center", None),
                between_class=getattr(collate, "between_class", False),
                augmentation=getattr(collate, "augmentation", None),
            )
        if augmentation is not None and augmentation.crops:
            dataset = NeighbourSegments(dataset.X, dataset.y, augmentation)
        return self.iterator_train(dataset, **kwargs)

    # -------------------------------------------------------------- training
    def _autocast(self):
        if self.mixed_precision and torch.device(self.device).type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return torch.autocast("cpu", enabled=False)

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """Start the epoch's history row and reseed torch's global RNG (dropout)
        from ``(random_state, epoch)``."""
        super().on_epoch_begin(
            net, dataset_train=dataset_train, dataset_valid=dataset_valid, **kwargs
        )
        if self.lr_schedule == "cosine":  # closed form: a resumed fit gets the same rates
            epoch = min(len(self.history) - 1, max(self.max_epochs, 1) - 1)  # 0-based
            rate = 0.5 * self.lr * (1.0 + math.cos(math.pi * epoch / max(self.max_epochs, 1)))
            for group in self.optimizer_.param_groups:
                group["lr"] = rate
        if self.random_state is not None:
            seed = np.random.SeedSequence([self.random_state, len(self.history), 1])
            _seed_global_rng(
                int(seed.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)), self.device
            )

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """skorch's epoch loop, reading the batch losses back from the device once,
        at the end of the epoch, instead of once per batch.

        While the epoch runs, each batch's ``<prefix>_loss`` in the history is a
        0-d device tensor; when the loop ends (or stops on an error) the epoch's
        batch rows are recorded again with Python floats, read in one transfer.
        """
        if iterator is None:
            return
        per_batch = any(
            isinstance(callback, ProgressBar) for _, callback in getattr(self, "callbacks_", [])
        )
        key = prefix + "_loss"
        first = len(self.history[-1]["batches"])  # this loop's first batch row
        losses = []
        try:
            for batch in iterator:
                self.notify("on_batch_begin", batch=batch, training=training)
                step = step_fn(batch, **fit_params)
                loss = step["loss"].detach()
                self.history.record_batch(key, loss.item() if per_batch else loss)
                losses.append(loss)
                self.history.record_batch(
                    prefix + "_batch_size",
                    get_len(batch[0] if isinstance(batch, (tuple, list)) else batch),
                )
                self.notify("on_batch_end", batch=batch, training=training, **step)
        finally:
            if losses and not per_batch:
                values = torch.stack(losses).float().cpu().tolist()  # the one wait
                self.history.record(
                    "batches", _with_losses(self.history[-1]["batches"], first, key, values)
                )
        self.history.record(prefix + "_batch_count", len(losses))
        values = [row[key] for row in self.history[-1]["batches"][first : first + len(losses)]]
        bad = [i for i, value in enumerate(values, start=1) if not math.isfinite(value)]
        if training and bad:  # the epoch's losses are host floats now: no extra wait
            raise TrainingDivergedError(
                f"The training loss became {values[bad[0] - 1]} in epoch "
                f"{len(self.history)} (batch {bad[0]} of {len(values)}): training diverged. "
                f"Lower the learning rate (lr={self.lr:g}), e.g. to lr={self.lr / 10:g}."
            )

    def infer(self, x, **fit_params):
        """Module forward pass (under bf16 autocast on CUDA with ``mixed_precision``).

        A tensor batch is copied to the device with ``non_blocking=True`` (an
        asynchronous copy when the DataLoader pinned it).
        """
        if isinstance(x, torch.Tensor):
            x = x.to(self.device, non_blocking=True)
        with self._autocast():
            return super().infer(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """KL divergence (eq. 12) between the target and ``softmax(y_pred)``.

        ``y_true`` is either soft labels ``(batch, n_classes)`` (BC training
        batches) or class codes ``(batch,)`` (validation, ``between_class=False``),
        which are made one-hot.
        """
        if isinstance(y_true, torch.Tensor):
            y_true = y_true.to(self.device, non_blocking=True)
        else:
            y_true = to_tensor(y_true, device=self.device)
        if y_true.ndim == 1:
            y_true = torch.nn.functional.one_hot(y_true.long(), y_pred.shape[1])
        log_proba = torch.log_softmax(y_pred.float(), dim=1)
        return self.criterion_(log_proba, y_true.to(log_proba.dtype))

    # ------------------------------------------------------------ prediction
    def _predict_slice(self) -> int:
        """Segments per forward pass: ``predict_batch_size``, or its device default."""
        if self.predict_batch_size is not None:
            return self.predict_batch_size
        # on the CPU small slices keep the activations in cache: 32 segments run about
        # 1.2-1.7x faster than 512 and take 42 MB instead of 670 (benchmarks/inference.py)
        return 2048 if torch.device(self.device).type == "cuda" else 32

    def _run(self, X, fn: Callable) -> Any:
        """``fn(module, batch)`` over ``X`` in slices of ``predict_batch_size``, in
        inference mode, each slice's output copied into one preallocated float32
        host array (or a dict of them when ``fn`` returns a dict): the host holds the
        result once, plus one slice, and the device never more than one slice."""
        self.check_is_fitted()
        X = self._check_X(X)
        self.module_.eval()
        out = None
        device = self.device
        pin = torch.device(device).type == "cuda"
        n = len(X)
        with torch.inference_mode(), self._autocast():
            step = self._predict_slice()
            for start in range(0, n, step):
                xb = torch.from_numpy(X[start : start + step])
                if pin:  # an asynchronous copy: the host slices the next batch meanwhile
                    xb = xb.pin_memory()
                result = fn(self.module_, xb.to(device, non_blocking=True))
                parts = result if isinstance(result, dict) else {None: result}
                if out is None:
                    out = {
                        key: np.empty((n,) + tuple(value.shape[1:]), dtype=np.float32)
                        for key, value in parts.items()
                    }
                for key, value in parts.items():
                    out[key][start : start + value.shape[0]] = value.float().cpu().numpy()
        if out is None:
            raise SkascValueError(f"{type(self).__name__} got no segments to predict (X is empty).")
        return out if None not in out else out[None]

    def predict_proba(self, X) -> np.ndarray:
        """Softmax posteriors, shape ``(n_segments, n_classes)``, float32, columns in
        the order of ``classes_``."""
        return self._finite(
            self._run(X, lambda m, xb: torch.softmax(m(xb).float(), dim=1)), "posteriors"
        )

    def _finite(self, out: np.ndarray, what: str) -> np.ndarray:
        """``out``, checked on the host (no device sync): a diverged net says so here
        instead of a downstream "Input X contains NaN"."""
        bad = ~np.isfinite(out).all(axis=tuple(range(1, out.ndim)))
        if bad.any():
            raise TrainingDivergedError(
                f"{type(self).__name__} gives NaN or infinite {what} for {int(bad.sum())} of "
                f"{len(out)} segments (the first is segment {int(np.flatnonzero(bad)[0])}): "
                f"its weights diverged during training; fit again with a lower lr "
                f"(now {self.lr:g})."
            )
        return out

    def predict(self, X) -> np.ndarray:
        """Most probable class label (one of ``classes_``) per segment."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def transform(self, X) -> np.ndarray:
        """Pooled feature vectors (eval mode), shape ``(n_segments, embedding_size)``.

        ``2H = 256`` for :class:`AttCRNNClassifier` (eq. 9), ``n_filters[-1] =
        256`` for :class:`CNNBaselineClassifier`; these feed the linear SVM of
        section 2.4.
        """
        return self._finite(self._run(X, lambda m, xb: m.embed(xb)), "features")


class AttCRNNClassifier(SegmentNetClassifier):
    """Attention CRNN segment classifier (Phan et al., 2019) as a skorch estimator.

    Parameters
    ----------
    module : torch module class, default=AttCRNN
        Configured through ``module__*`` parameters (``module__n_filters``,
        ``module__hidden_size``, ``module__attention_size``, ...).
        ``module__n_classes/n_channels/n_bands/n_frames`` default to the data.
    criterion : default=torch.nn.KLDivLoss
        Called on ``(log_softmax(logits), target)``; ``reduction="batchmean"``
        unless ``criterion__reduction`` is given.
    optimizer : default=torch.optim.Adam
        Paper: Adam.
    lr : float, default=1e-4
        Learning rate (paper: 1e-4).
    batch_size : int, default=100
        Training mini-batch size (paper: 100).
    max_epochs : int, default=500
        Epochs (paper: 500).
    train_split : callable or None, default=None
        No validation split by default; see the module docstring for a split
        by recording.
    between_class : bool, default=True
        Train on between-class mixtures (section 3).
    crop : bool, default=False
        Draw each training segment's window at a random offset inside its
        recording, every epoch anew (:mod:`skasc.nn.augment`; the segments of a
        recording must be consecutive, not overlapping, and passed as
        ``fit(..., recording_index=...)``). Not with a ``train_split``.
    freq_mask_width, time_mask_width : int, default=0
        SpecAugment masks on the training batches: up to this many bands /
        frames per mask, set to the batch's mean; 0: none.
    n_masks : int, default=2
        Masks of each kind per training segment.
    lr_schedule : {"cosine", None}, default=None
        ``"cosine"``: the learning rate of epoch ``e`` (0-based) is
        ``lr * (1 + cos(pi * e / max_epochs)) / 2``; epochs past ``max_epochs``
        (``partial_fit``, a warm start) keep the last epoch's rate. None:
        ``lr`` throughout (the paper).
    standardize_input : bool, default=False
        Standardise every (channel, band) of the input with the training
        segments' mean and std (stored in the module, see the module docstring)
        and mix between classes around that mean. ``False``: raw images, mixed
        around zero (eq. 10 as printed); docs/design.md compares the two.
    random_state : int or None, default=None
        Seeds weights, dropout, shuffling and mixing.
    device : str, default="auto"
        ``"auto"``: ``"cuda"`` when available, else ``"cpu"``.
    mixed_precision : bool, default=False
        bf16 autocast on CUDA (ignored on the CPU).
    predict_batch_size : int or None, default=None
        Segments per forward pass in prediction and validation; None: 32 on the
        CPU, 2048 on CUDA (docs/scaling.md: the memory a slice takes).
    progress_bar : bool, default=False
        Add skorch's ``ProgressBar`` (per-batch progress).
    checkpoint_dir : str, path-like or None, default=None
        Save the training state after every epoch under
        ``checkpoint_dir/<key>/checkpoint.pt`` (``key`` hashes the parameters,
        ``X`` and ``y``) and resume an interrupted fit from it; see
        :mod:`skasc.nn.checkpoint`.  The file stays after training: rerunning
        a finished fit loads it and trains no more epochs.
    verbose : int, default=1
        1 prints skorch's per-epoch table (``train_loss`` is the KL value).
    **kwargs
        Other skorch parameters (``callbacks``, ``warm_start``, ``iterator_train__*``).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Labels seen at fit.
    module_ : AttCRNN
        The trained network.
    input_mean_, input_std_ : ndarray of shape (n_channels, n_bands)
        Statistics of the training segments (``standardize_input``); also in
        ``module_.input_norm``.
    history_ : skorch.History
        Per-epoch record.
    checkpoint_path_ : str
        The fit's checkpoint file (only with ``checkpoint_dir``).
    resumed_from_epoch_ : int
        Epochs loaded from the checkpoint at fit, 0 for a fresh start (only
        with ``checkpoint_dir``).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(20, 2, 64, 8)).astype(np.float32)
    >>> y = np.repeat(["park", "street"], 10)
    >>> clf = AttCRNNClassifier(module__n_filters=(4, 8, 8), module__hidden_size=8,
    ...                         module__attention_size=8, max_epochs=1, batch_size=10,
    ...                         random_state=0, device="cpu", verbose=0).fit(X, y)
    >>> clf.predict_proba(X).shape, clf.transform(X).shape, clf.classes_.tolist()
    ((20, 2), (20, 16), ['park', 'street'])
    """

    def __init__(self, module=AttCRNN, **kwargs):
        super().__init__(module, **kwargs)

    def attention_maps(self, X) -> dict:
        """Attention weights per segment (eval mode).

        Returns
        -------
        dict of ndarray
            ``temporal`` ``(n_segments, n_frames)`` (eq. 4), ``spatial``
            ``(n_segments, 2H)`` (eq. 5) and ``mask`` ``(n_segments, 2H, n_frames)``
            (eq. 8).
        """
        maps = self._run(X, lambda m, xb: m.attention(xb))
        return {key: maps[key] for key in ("temporal", "spatial", "mask")}


class CNNBaselineClassifier(SegmentNetClassifier):
    """CNN baseline of section 4.4 (conv block + global max pooling) as a skorch
    estimator.

    Same parameters, defaults and training (KL loss, between-class mixing) as
    :class:`AttCRNNClassifier`, with ``module=CNNBaseline``; :meth:`transform`
    gives the 256-d globally max-pooled features.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(20, 2, 64, 8)).astype(np.float32)
    >>> y = np.repeat([3, 7], 10)
    >>> clf = CNNBaselineClassifier(module__n_filters=(4, 8, 8), max_epochs=1, batch_size=10,
    ...                             random_state=0, device="cpu", verbose=0).fit(X, y)
    >>> clf.predict(X[:2]).shape, clf.transform(X).shape
    ((2,), (20, 8))
    """

    def __init__(self, module=CNNBaseline, **kwargs):
        super().__init__(module, **kwargs)
