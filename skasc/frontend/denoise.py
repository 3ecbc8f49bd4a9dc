"""The auxiliary channel: background noise removed by minimum statistics.

Phan et al. (2019, Sec. 2.1) give the network a second input channel (K = 2):
the recording with its background noise subtracted, the noise being estimated by
R. Martin's minimum-statistics method. :class:`MinStatsDenoiser` adds that
channel; the signal processing lives in :mod:`skasc.dsp.minstats`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from joblib import Parallel, delayed

from skasc._base import StatelessTransformer
from skasc._recordings import check_batch, recording_error, stack_recordings
from skasc._validation import Int, NJobs, Real, check_int, check_params
from skasc.dsp.minstats import (
    FLOOR,
    N_SUBWINDOWS,
    OVERSUBTRACTION,
    WINDOW_DURATION,
    MinStatsStream,
    denoise,
)
from skasc.exceptions import InvalidParameterError, SkascValueError

__all__ = ["MinStatsDenoiser"]


class MinStatsDenoiser(StatelessTransformer, auto_wrap_output_keys=None):
    """Add a noise-subtracted copy of each recording as a second channel.

    Each recording is denoised on its own and as a whole: the noise PSD is
    tracked by minimum statistics (Martin 2001) over a search window of
    ``window_duration`` seconds and removed by power spectral subtraction with a
    gain floor (:func:`skasc.dsp.minstats.denoise`). The tracker needs several
    search windows of history to settle, far more than a 2-s segment, which is
    why this step comes *before* the ``Segmenter`` in the pipeline.

    Stateless: ``fit`` only validates the parameters, and ``transform`` works
    without it. To inspect the noise PSD itself (for plots or checks) call
    :func:`skasc.dsp.minstats.minimum_statistics` on a periodogram.

    Parameters
    ----------
    sr : float, default=22050
        Sample rate of the recordings in Hz (the paper's rate after resampling).
    n_fft : int, default=512
        FFT size of the STFT (23 ms at 22050 Hz, close to Martin's 32-ms frames).
    hop_length : int, default=256
        STFT hop in samples (half overlap, 11.6 ms at 22050 Hz); 1 <= hop_length
        <= n_fft.
    window_duration : float, default=WINDOW_DURATION
        Minimum-search window in seconds (Martin 2001: 96 frames of 16 ms; the
        default is :data:`skasc.dsp.minstats.WINDOW_DURATION`). A
        rise of the noise level is followed within about this long; a fall at
        once. It must give each sub-window at least 2 STFT frames.
    n_subwindows : int, default=N_SUBWINDOWS
        Number U of sub-windows of the search window, >= 2 (default: Martin's
        U, :data:`skasc.dsp.minstats.N_SUBWINDOWS`).
    oversubtraction : float, default=OVERSUBTRACTION
        Factor on the noise PSD in the subtraction, >= 0 (default:
        :data:`skasc.dsp.minstats.OVERSUBTRACTION`, after Berouti et al. 1979 at
        10-15 dB SNR). The paper does not give a value.
    floor : float, default=FLOOR
        Gain floor as a fraction of the noisy power ``|Y|^2`` in [0, 1]
        (:data:`skasc.dsp.minstats.FLOOR`): bins where only noise remains are
        attenuated by ``10 log10(floor)`` dB, not zeroed (no musical noise, no
        amplification).
    n_jobs : int or None, default=None
        Recordings denoised in parallel with joblib threads (the numba kernels
        and the FFTs release the GIL); None: one at a time, -1: all cores.
        A recording takes milliseconds (docs/design.md), so parallelism pays only
        for large batches (the ``FrontEnd`` parallelises anyway).

    See Also
    --------
    skasc.dsp.minstats.denoise : The function applied to each recording.
    skasc.dsp.minstats.minimum_statistics : The noise PSD tracker.

    Notes
    -----
    Recordings shorter than the search window still work: the noise estimate is
    then the bias-compensated minimum of the frames seen so far, which
    overestimates the noise when a foreground event fills the whole recording.
    All-zero recordings give all-zero channels.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(scale=0.1, size=(2, 3 * 22050)).astype(np.float32)
    >>> Xt = MinStatsDenoiser().fit_transform(X)
    >>> Xt.shape, Xt.dtype
    ((2, 2, 66150), dtype('float32'))
    >>> bool(np.array_equal(Xt[:, 0], X))
    True
    """

    _parameter_checks = {
        "sr": Real(low=0, low_inclusive=False),
        "n_fft": Int(low=2),
        "hop_length": Int(low=1),
        "window_duration": Real(low=0, low_inclusive=False),
        "n_subwindows": Int(low=2),
        "oversubtraction": Real(low=0),
        "floor": Real(low=0, high=1),
        "n_jobs": NJobs(),
    }

    def __init__(
        self,
        *,
        sr: float = 22050,
        n_fft: int = 512,
        hop_length: int = 256,
        window_duration: float = WINDOW_DURATION,
        n_subwindows: int = N_SUBWINDOWS,
        oversubtraction: float = OVERSUBTRACTION,
        floor: float = FLOOR,
        n_jobs: int | None = None,
    ) -> None:
        self.sr = sr
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.window_duration = window_duration
        self.n_subwindows = n_subwindows
        self.oversubtraction = oversubtraction
        self.floor = floor
        self.n_jobs = n_jobs

    def _check_params(self) -> None:
        name = type(self).__name__
        check_params(self)
        check_int(self.hop_length, "hop_length", self, low=1, high=self.n_fft)
        n_frames = self.window_duration * self.sr / self.hop_length
        if n_frames < 2 * self.n_subwindows:
            shortest = 2 * self.n_subwindows * self.hop_length / self.sr
            raise InvalidParameterError(
                f"The 'window_duration' parameter of {name} must cover at least 2 STFT "
                f"frames per sub-window, i.e. >= {shortest:.3g} s for "
                f"n_subwindows={self.n_subwindows}, hop_length={self.hop_length} and "
                f"sr={self.sr}. Got {self.window_duration!r} instead."
            )

    def _params(self) -> dict[str, Any]:
        """The parameters of :func:`~skasc.dsp.minstats.denoise`, checked."""
        self._check_params()
        return dict(
            sr=self.sr,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            window_duration=self.window_duration,
            n_subwindows=self.n_subwindows,
            oversubtraction=self.oversubtraction,
            floor=self.floor,
        )

    def stream(self) -> MinStatsStream:
        """This denoiser for one recording fed block by block.

        Returns
        -------
        MinStatsStream
            Its :meth:`~skasc.dsp.minstats.MinStatsStream.push` and
            :meth:`~skasc.dsp.minstats.MinStatsStream.finish` return, concatenated,
            the denoised channel :meth:`transform` gives the whole recording.

        Examples
        --------
        >>> y = np.random.default_rng(0).normal(scale=0.1, size=3 * 22050).astype(np.float32)
        >>> stream = MinStatsDenoiser().stream()
        >>> out = np.concatenate([stream.push(y[:30000]), stream.push(y[30000:]),
        ...                       stream.finish()])
        >>> bool(np.array_equal(out, MinStatsDenoiser().transform(y[np.newaxis])[0, 1]))
        True
        """
        return MinStatsStream(**self._params())

    def _check_batch(self, X: Any) -> list[np.ndarray]:
        recordings = []
        for i, rec in enumerate(
            check_batch(
                X,
                type(self).__name__,
                item_ndim=(1,),
                item_shape="(n_samples,) (mono)",
                hint="Pass one recording as X[np.newaxis].",
            )
        ):
            rec = rec.astype(np.float32, copy=False)
            if rec.size == 0:
                raise recording_error(SkascValueError, i, "is empty.")
            if not np.all(np.isfinite(rec)):
                raise recording_error(SkascValueError, i, "contains NaN or inf samples.")
            recordings.append(rec)
        return recordings

    def transform(self, X: Any) -> np.ndarray:
        """Stack each recording with its noise-subtracted copy.

        Parameters
        ----------
        X : ndarray of shape (n_recordings, n_samples), or object ndarray of shape (n_recordings,)
            Mono waveforms at ``sr`` (ragged batches: a 1-D object array of 1-D
            arrays).

        Returns
        -------
        Xt : ndarray of shape (n_recordings, 2, n_samples), float32
            Channel 0 the recording (as float32), channel 1 the denoised copy.
            An object ndarray of shape (n_recordings,) of (2, n_samples) arrays
            when the recordings differ in length.
        """
        params = self._params()
        recordings = self._check_batch(X)
        if self.n_jobs is None or self.n_jobs == 1 or len(recordings) == 1:
            cleaned = [_denoise_recording(rec, i, params) for i, rec in enumerate(recordings)]
        else:
            cleaned = Parallel(n_jobs=self.n_jobs, prefer="threads")(
                delayed(_denoise_recording)(rec, i, params) for i, rec in enumerate(recordings)
            )
        lengths = {len(rec) for rec in recordings}
        if len(lengths) == 1:  # dense batch, written in place (no extra copies)
            out = np.empty((len(recordings), 2, lengths.pop()), dtype=np.float32)
            for i, (rec, den) in enumerate(zip(recordings, cleaned)):
                out[i, 0], out[i, 1] = rec, den
            return out
        pairs = []
        for rec, den in zip(recordings, cleaned):
            pair = np.empty((2, len(rec)), dtype=np.float32)
            pair[0], pair[1] = rec, den
            pairs.append(pair)
        return stack_recordings(pairs)  # ragged: a 1-D object array of (2, n) arrays


def _denoise_recording(rec: np.ndarray, index: int, params: dict) -> np.ndarray:
    """:func:`denoise` one recording; its errors name the recording."""
    try:
        return denoise(rec, **params)
    except ValueError as exc:  # e.g. samples too large for float32 power spectra
        raise recording_error(SkascValueError, index, f"cannot be denoised: {exc}") from exc
