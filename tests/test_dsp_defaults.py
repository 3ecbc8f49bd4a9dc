"""Martin's minimum-statistics constants are defined once, in skasc.dsp.minstats."""

import inspect

from skasc.dsp import minstats
from skasc.frontend.denoise import MinStatsDenoiser


def _defaults(func):
    return {
        name: p.default
        for name, p in inspect.signature(func).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


CONSTANTS = dict(
    window_duration="WINDOW_DURATION",
    n_subwindows="N_SUBWINDOWS",
    alpha_max="ALPHA_MAX",
    alpha_min="ALPHA_MIN",
    beta_max="BETA_MAX",
    a_v="A_V",
    oversubtraction="OVERSUBTRACTION",
    floor="FLOOR",
)


def test_martin_values():
    # Martin (2001): D = 96 frames of 16 ms, U = 8, alpha_max = 0.96,
    # beta_max = 0.8, a_v = 2.12; alpha_c smoothed with 0.7 and floored at 0.7.
    assert (minstats.WINDOW_DURATION, minstats.N_SUBWINDOWS) == (1.5, 8)
    assert (minstats.ALPHA_MAX, minstats.ALPHA_MIN, minstats.BETA_MAX, minstats.A_V) == (
        0.96,
        0.3,
        0.8,
        2.12,
    )
    assert (minstats.ALPHA_C_DECAY, minstats.ALPHA_C_MIN) == (0.7, 0.7)
    assert (minstats.OVERSUBTRACTION, minstats.FLOOR, minstats.TINY) == (2.0, 0.1, 1e-30)


def test_every_default_is_the_module_constant():
    funcs = [
        minstats.search_window,
        minstats.minimum_statistics,
        minstats.denoise,
        minstats.spectral_subtraction,
        minstats._noise_psd_frames,
        minstats._run_tracker,
        MinStatsDenoiser.__init__,
    ]
    for func in funcs:
        for name, value in _defaults(func).items():
            # _run_tracker's oversubtraction=0, floor=1 mean "no subtraction"
            # (the PSD-only mode), not a default of the method
            if name in CONSTANTS and not (
                func is minstats._run_tracker and name in ("oversubtraction", "floor")
            ):
                assert value == getattr(minstats, CONSTANTS[name]), (func.__name__, name)
    params = MinStatsDenoiser().get_params()
    for name, const in CONSTANTS.items():
        if name in params:
            assert params[name] == getattr(minstats, const), name
    # the front end's transformer carries no number of its own for these
    source = inspect.getsource(MinStatsDenoiser)
    for literal in ("= 1.5", "= 8,", "= 2.0", "= 0.1"):
        assert literal not in source, literal
