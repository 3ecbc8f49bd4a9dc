"""Scene timelines over long files (issue 14): the streamed front end equals the
whole-file one, windows follow the product rule, bad windows are refused, and the
CSV, the PNG and the CLI carry the same numbers."""

import csv
import io
import os

import numpy as np
import pytest
import soundfile as sf
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skasc import FrontEnd, RecordingFusion, Segmenter, load_audio, make_fused_pipeline
from skasc.dsp.minstats import MinStatsStream, denoise
from skasc.frontend.audio import AudioFileError, iter_audio_blocks
from skasc.fusion import fuse_log_posteriors, segment_log_evidence
from skasc.timeline import SceneTimeline, predict_timeline

SR = 22050


def _flatten(segments):
    return segments.reshape(len(segments), -1)[:, ::53]


def lr_pipeline(segment_duration=0.5, **frontend):
    """A fast fitted pipeline: FrontEnd -> RecordingFusion(logistic regression)."""
    rng = np.random.default_rng(1)
    t = np.arange(2 * SR) / SR
    X = [
        (0.3 * np.sin(2 * np.pi * f * t) + 0.02 * rng.standard_normal(t.size)).astype(np.float32)
        for f in (300, 5000, 320, 5200)
    ]
    pipe = Pipeline(
        [
            (
                "frontend",
                FrontEnd(segmenter=Segmenter(segment_duration=segment_duration), **frontend),
            ),
            (
                "fusion",
                RecordingFusion(
                    make_pipeline(FunctionTransformer(_flatten), LogisticRegression(max_iter=200))
                ),
            ),
        ]
    )
    return pipe.fit(X, ["low", "high", "low", "high"])


def scene_file(path, rng, seconds=13.3, sr=48000, channels=2):
    """Low tone, then high tone, then low again, in noise whose level changes."""
    n = int(seconds * sr)
    t = np.arange(n) / sr
    freq = np.where((t > seconds / 3) & (t < 2 * seconds / 3), 5000.0, 300.0)
    level = np.where(t < seconds / 2, 0.01, 0.05)
    y = 0.3 * np.sin(2 * np.pi * np.cumsum(freq) / sr) + level * rng.standard_normal(n)
    data = np.stack([y, 0.8 * y], axis=1)[:, :channels]
    sf.write(path, data, sr, subtype="PCM_24")
    return path


# --- the streamed pieces equal the whole-file ones ----------------------------------
@pytest.mark.parametrize("block", [1, 100, 255, 256, 257, 4099, 22050, 10**6])
@pytest.mark.parametrize("n_fft,hop", [(512, 256), (400, 160)])
def test_streamed_denoising_equals_whole_recording(rng, block, n_fft, hop):
    n = 3 * SR + 77
    y = (rng.standard_normal(n) * np.linspace(0.01, 0.5, n)).astype(np.float32)
    stream = MinStatsStream(sr=SR, n_fft=n_fft, hop_length=hop)
    parts = [stream.push(y[i : i + block]) for i in range(0, y.size, block)]
    out = np.concatenate(parts + [stream.finish()])
    # the same frames through the same kernels in the same order: bit for bit
    np.testing.assert_array_equal(out, denoise(y, sr=SR, n_fft=n_fft, hop_length=hop))


def test_streamed_denoising_of_a_recording_shorter_than_a_frame(rng):
    y = rng.standard_normal(100).astype(np.float32)
    stream = MinStatsStream(sr=SR)
    out = np.concatenate([stream.push(y[:30]), stream.push(y[30:]), stream.finish()])
    np.testing.assert_array_equal(out, denoise(y, sr=SR))


def test_stream_misuse_is_a_clear_error(rng):
    stream = MinStatsStream(sr=SR)
    with pytest.raises(ValueError, match="no samples"):
        stream.finish()
    stream = MinStatsStream(sr=SR)
    with pytest.raises(ValueError, match=r"samples 10 to 20\) contains NaN"):
        stream.push(np.zeros(10))
        stream.push(np.full(10, np.nan))
    stream = MinStatsStream(sr=SR)
    stream.push(np.zeros(1000))
    stream.finish()
    with pytest.raises(ValueError, match="after finish"):
        stream.push(np.zeros(10))


@pytest.mark.parametrize("file_sr,block", [(48000, 0.37), (48000, 5.0), (22050, 1.0)])
def test_block_reading_equals_loading_the_whole_file(tmp_path, rng, file_sr, block):
    path = scene_file(tmp_path / "a.wav", rng, seconds=4.1, sr=file_sr)
    blocks = list(iter_audio_blocks(path, sr=SR, block_duration=block))
    assert len(blocks) == int(np.ceil(4.1 / block))
    np.testing.assert_array_equal(np.concatenate(blocks), load_audio(path, sr=SR))


def test_block_reading_names_the_file_and_time_of_bad_samples(tmp_path):
    data = np.zeros(3 * 8000, np.float32)
    data[2 * 8000 + 5] = np.nan
    sf.write(tmp_path / "nan.wav", data, 8000, subtype="FLOAT")
    with pytest.raises(
        AudioFileError,
        match=r"nan.wav.*NaN or inf samples in the block "
        r"starting at 2\.000 s",
    ):
        list(iter_audio_blocks(tmp_path / "nan.wav", sr=8000, block_duration=1.0))
    with pytest.raises(ValueError, match="block_duration"):
        next(iter_audio_blocks(tmp_path / "nan.wav", block_duration=0))


# --- windows ------------------------------------------------------------------------
@pytest.mark.parametrize("tail", ["pad", "drop"])
def test_timeline_segments_equal_the_whole_file_front_end(tmp_path, rng, tail):
    pipe = lr_pipeline()
    pipe.set_params(frontend__segmenter__tail=tail)
    path = scene_file(tmp_path / "long.wav", rng)
    whole_evidence = segment_log_evidence(pipe[1:], pipe[0].transform([path])).segment_log_evidence
    # window=hop=one segment: each window is one segment's evidence, normalised
    tl = predict_timeline(pipe, path, window=0.5, hop=0.5, block_duration=1.7)
    expected = np.exp(
        fuse_log_posteriors(whole_evidence, lengths=np.ones(len(whole_evidence), int))
    )
    assert len(tl) == len(whole_evidence) == (27 if tail == "pad" else 26)
    np.testing.assert_allclose(tl.proba, expected, atol=1e-6)
    assert tl.end[-1] == pytest.approx(13.3 if tail == "pad" else 13.0)


def test_window_posteriors_are_the_product_rule_over_its_segments(tmp_path, rng):
    pipe = lr_pipeline()
    path = scene_file(tmp_path / "long.wav", rng)
    seg = pipe[-1].predict_proba_segments(pipe[0].transform([path]))  # 27 segments
    tl = predict_timeline(pipe, path, window=3.0, hop=2.0, block_duration=2.3)
    # windows of 6 segments every 4 segments, and one more ending at the last segment
    firsts = [0, 4, 8, 12, 16, 20, 21]
    np.testing.assert_allclose(tl.start, np.array(firsts) * 0.5)
    np.testing.assert_allclose(tl.end, np.minimum((np.array(firsts) + 6) * 0.5, 13.3))
    floor = pipe[-1].floor
    for row, first in zip(tl.proba, firsts):
        rows = np.maximum(seg[first : first + 6], floor)
        fused = np.prod(rows, axis=0)
        # float32 rounding of the two front ends differs with the BLAS thread count;
        # posteriors near 1e-10 carry it as a relative error above 1e-6
        np.testing.assert_allclose(row, fused / fused.sum(), rtol=1e-6, atol=1e-9)
    assert list(tl.labels) == [pipe.classes_[k] for k in np.argmax(tl.proba, axis=1)]


def test_a_window_longer_than_the_file_is_the_pipelines_prediction(tmp_path, rng):
    pipe = lr_pipeline()
    path = scene_file(tmp_path / "long.wav", rng, seconds=5.2)
    tl = predict_timeline(pipe, path, window=60.0, hop=10.0)
    assert len(tl) == 1 and tl.start[0] == 0 and tl.end[0] == pytest.approx(5.2)
    np.testing.assert_allclose(tl.proba, pipe.predict_proba([path]), atol=1e-6)


def test_windows_fuse_by_the_pipelines_rule_and_temperature(tmp_path, rng):
    pipe = lr_pipeline()
    path = scene_file(tmp_path / "long.wav", rng, seconds=5.2)
    pipe.set_params(fusion__rule="mean", fusion__temperature=1.7)
    pipe[-1].temperature_ = 1.7  # as a fit with that temperature sets it
    whole = predict_timeline(pipe, path, window=60.0, hop=10.0)
    np.testing.assert_allclose(whole.proba, pipe.predict_proba([path]), atol=1e-6)
    seg = pipe[-1].predict_proba_segments(pipe[0].transform([path]))
    tl = predict_timeline(pipe, path, window=1.0, hop=0.5)
    for row, start in zip(tl.proba, tl.start):
        first = int(round(start / 0.5))
        geo = np.exp(np.log(np.maximum(seg[first : first + 2], 1e-7)).mean(axis=0) / 1.7)
        np.testing.assert_allclose(row, geo / geo.sum(), rtol=1e-5, atol=1e-9)


def test_fused_network_pipeline_timeline_matches_whole_file(tmp_path, rng):
    """The paper's two-system pipeline (tiny networks) through the same path."""
    from test_pipelines import TINY, tone_corpus

    X, y = tone_corpus(rng, n_per_class=2)
    pipe = make_fused_pipeline(
        max_epochs=2, lr=1e-2, batch_size=16, random_state=0, verbose=0, net_params=TINY
    )
    pipe.set_params(frontend__segmenter=Segmenter(segment_duration=0.5)).fit(X, y)
    path = scene_file(tmp_path / "long.wav", rng, seconds=7.0, channels=1)
    tl = predict_timeline(pipe, path, window=7.0, hop=1.0, block_duration=1.3)
    np.testing.assert_allclose(tl.proba, pipe.predict_proba([path]), atol=1e-5)
    assert set(tl.classes) == {"low", "high", "bursts"}


def test_overlapping_segments_keep_their_grid(tmp_path, rng):
    """A segmenter with hop_duration: windows on its 0.25-s grid, the same segments."""
    pipe = lr_pipeline()
    pipe.set_params(frontend__segmenter__hop_duration=0.25)
    path = scene_file(tmp_path / "long.wav", rng, seconds=3.1)
    whole_evidence = segment_log_evidence(pipe[1:], pipe[0].transform([path])).segment_log_evidence
    tl = predict_timeline(pipe, path, window=0.5, hop=0.25, block_duration=0.7)
    assert len(tl) == len(whole_evidence) == 12  # starts 0, 0.25, ..., 2.75 (tail padded)
    np.testing.assert_allclose(tl.start, np.arange(12) * 5512 / SR)  # the hop in samples
    np.testing.assert_allclose(
        tl.proba, np.exp(fuse_log_posteriors(whole_evidence, lengths=np.ones(12, int))), atol=1e-6
    )
    whole = predict_timeline(pipe, path, window=10.0, hop=1.0)
    np.testing.assert_allclose(whole.proba, pipe.predict_proba([path]), atol=1e-6)


def test_no_denoiser_gives_one_channel(tmp_path, rng):
    pipe = lr_pipeline(denoiser="drop")
    path = scene_file(tmp_path / "long.wav", rng, seconds=4.0)
    tl = predict_timeline(pipe, path, window=4.0, hop=1.0, block_duration=0.9)
    np.testing.assert_allclose(tl.proba, pipe.predict_proba([path]), atol=1e-6)


@pytest.mark.parametrize(
    "kwargs,error,message",
    [
        (dict(window=0.4), ValueError, r"'window'=0.4 s is shorter than one segment \(0.5 s\)"),
        (dict(hop=0.0), ValueError, r"'hop'=0.0 s must be > 0"),
        (dict(hop=-1.0), ValueError, r"'hop'=-1.0 s must be > 0"),
        (
            dict(hop=0.75),
            ValueError,
            r"'hop'=0.75 s is not on the segment grid: .*hops \(0.5 s\), e.g. 0.5, 1, 1.5 s\.$",
        ),
        (
            dict(window=1.2, hop=0.5),
            ValueError,  # the window given, not what is past a segment
            r"'window'=1.2 s is not on the segment grid: it must be one segment \(0.5 s\) plus a "
            r"whole number of segment hops \(0.5 s\), e.g. 0.5, 1, 1.5 s\.$",
        ),
        (dict(hop=0.2), ValueError, r"'hop'=0.2 s is not on the segment grid"),
        (dict(window=1.0, hop=1.5), ValueError, r"'hop'=1.5 s is longer than 'window'=1.0 s"),
        (dict(block_duration=float("inf")), ValueError, r"'block_duration' must be a finite"),
        (dict(window="30"), TypeError, r"'window' of predict_timeline must be a number"),
        (dict(hop=float("nan")), ValueError, r"'hop' of predict_timeline must be finite"),
    ],
)
def test_bad_windows_are_refused_before_reading(tmp_path, kwargs, error, message):
    pipe = lr_pipeline()
    with pytest.raises(error, match=message):
        predict_timeline(pipe, tmp_path / "never-read.wav", **kwargs)


def test_an_estimator_without_segments_is_refused(tmp_path):
    with pytest.raises(TypeError, match="first step is a FrontEnd"):
        predict_timeline(LogisticRegression(), tmp_path / "x.wav")


def test_short_file_warns_once_and_gives_one_window(tmp_path, rng):
    pipe = lr_pipeline()
    sf.write(tmp_path / "short.wav", 0.1 * rng.standard_normal(5000), SR)
    with pytest.warns(UserWarning, match="shorter than"):
        tl = predict_timeline(pipe, tmp_path / "short.wav", window=1.0, hop=0.5)
    assert len(tl) == 1
    np.testing.assert_allclose(tl.proba, pipe.predict_proba([tmp_path / "short.wav"]), atol=1e-6)


# --- change points, CSV, figure, CLI -------------------------------------------------
def _timeline(labels, starts, window):
    labels = np.array(labels)
    classes = np.array(sorted(set(labels)))
    proba = np.array(
        [[0.8 if c == lab else 0.2 / (len(classes) - 1) for c in classes] for lab in labels]
    )
    starts = np.array(starts, float)
    return SceneTimeline(
        start=starts,
        end=starts + window,
        labels=labels,
        proba=proba,
        classes=classes,
        duration=float(starts[-1] + window),
    )


def test_change_points_are_the_middle_of_the_overlap():
    tl = _timeline(["bus", "bus", "park", "park", "bus"], [0, 10, 20, 30, 40], 30.0)
    # windows 10-40 and 20-50 overlap over 20-40: the change is at 30 (between centres)
    assert tl.change_points == [(30.0, "bus", "park"), (50.0, "park", "bus")]
    contiguous = _timeline(["a", "b"], [0, 10], 10.0)
    assert contiguous.change_points == [(10.0, "a", "b")]


def test_csv_rows_hold_the_timeline(tmp_path):
    tl = _timeline(["bus", "park"], [0, 10], 30.0)
    tl.to_csv(tmp_path / "t.csv")
    rows = list(csv.reader(open(tmp_path / "t.csv", newline="")))
    assert rows[0] == ["start_s", "end_s", "label", "p_bus", "p_park"]
    assert rows[1:] == [
        ["0.000", "30.000", "bus", "0.8", "0.2"],
        ["10.000", "40.000", "park", "0.2", "0.8"],
    ]
    buffer = io.StringIO()
    tl.to_csv(buffer)
    assert buffer.getvalue() == open(tmp_path / "t.csv", newline="").read()


def test_csv_writes_a_label_from_a_non_utf8_name_as_its_bytes(tmp_path):
    """A class named after a file whose name is not UTF-8 ('caf\\udce9', as Python
    decodes b'caf\\xe9') is written as the bytes the file system holds, as
    ``skasc predict --out`` writes such names."""
    tl = _timeline(["bus", os.fsdecode(b"caf\xe9")], [0, 10], 30.0)
    tl.to_csv(tmp_path / "t.csv")
    rows = (tmp_path / "t.csv").read_bytes().splitlines()
    assert rows[0] == b"start_s,end_s,label,p_bus,p_caf\xe9"
    assert rows[2] == b"10.000,40.000,caf\xe9,0.2,0.8"


def test_timeline_figure_draws_each_window_once_with_its_posterior(tmp_path):
    from skasc.plotting import plot_timeline

    tl = _timeline(["bus", "bus", "park"], [0, 10, 20], 30.0)
    fig = plot_timeline(tl, path=tmp_path / "t.png")
    patches = fig.axes[0].patches
    assert [(p.get_x(), p.get_width()) for p in patches] == [(0, 20), (20, 10), (30, 20)]
    assert [round(p.get_alpha(), 6) for p in patches] == [0.8, 0.8, 0.8]
    assert patches[0].get_facecolor()[:3] != patches[2].get_facecolor()[:3]
    assert [line.get_xdata()[0] for line in fig.axes[0].lines] == [30.0]
    assert (tmp_path / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_timeline_writes_csv_and_png(tmp_path, rng, capsys):
    from skasc import cli, make_cnn_baseline_pipeline, save
    from test_pipelines import CNN_TINY, tone_corpus

    X, y = tone_corpus(rng, n_per_class=2)
    pipe = make_cnn_baseline_pipeline(
        max_epochs=2, lr=1e-2, batch_size=16, random_state=0, verbose=0, net_params=CNN_TINY
    ).fit(X, y)
    save(pipe, tmp_path / "m.skasc")
    path = scene_file(tmp_path / "long.wav", rng, seconds=12.0)
    argv = [
        "predict",
        str(tmp_path / "m.skasc"),
        str(path),
        "--timeline",
        "--window",
        "6",
        "--hop",
        "4",
        "--out",
        str(tmp_path / "t.csv"),
        "--figure",
        str(tmp_path / "t.png"),
    ]
    assert cli.main(argv) == 0
    assert "Wrote 3 windows" in capsys.readouterr().out
    expected = predict_timeline(pipe, path, window=6.0, hop=4.0)
    buffer = io.StringIO()
    expected.to_csv(buffer)
    assert open(tmp_path / "t.csv", newline="").read() == buffer.getvalue()
    assert (tmp_path / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # to standard output without --out
    assert cli.main(argv[:8]) == 0
    assert capsys.readouterr().out.replace("\r\n", "\n") == buffer.getvalue().replace("\r\n", "\n")
    # --figure needs --timeline; --timeline needs one file
    assert cli.main(["predict", str(tmp_path / "m.skasc"), str(path), "--figure", "x.png"]) == 2
    assert "--figure applies to a timeline; pass --timeline too" in capsys.readouterr().err
    assert cli.main(["predict", str(tmp_path / "m.skasc"), str(path), "--hop", "4"]) == 2
    assert "--hop applies to a timeline" in capsys.readouterr().err
    assert cli.main(argv[:8] + ["--skip-bad"]) == 2
    assert "--skip-bad does not apply to --timeline" in capsys.readouterr().err
    assert cli.main(["predict", str(tmp_path / "m.skasc"), str(path), str(path), "--timeline"]) == 2
    assert "exactly one audio file" in capsys.readouterr().err


def test_real_recordings_stream_like_the_whole_file(tut_samples):
    """Two real TUT scenes (48 kHz, 24-bit, stereo): streamed in 1.3-s blocks, each
    segment's posterior equals the whole-file front end's."""
    pipe = lr_pipeline()
    for path in tut_samples[:2]:
        whole_evidence = segment_log_evidence(
            pipe[1:], pipe[0].transform([path])
        ).segment_log_evidence
        tl = predict_timeline(pipe, path, window=0.5, hop=0.5, block_duration=1.3)
        np.testing.assert_allclose(
            tl.proba,
            np.exp(fuse_log_posteriors(whole_evidence, lengths=np.ones(len(whole_evidence), int))),
            atol=1e-6,
        )
        assert tl.duration == pytest.approx(10.0, abs=1e-3)


def test_a_recording_instead_of_a_path_is_a_type_error(rng):
    """predict_timeline reads one file; an array is refused by skasc, not by os."""
    from skasc.exceptions import SkascTypeError

    with pytest.raises(
        SkascTypeError,
        match=r"^Expected the path of an audio file \(str or "
        r"os\.PathLike\); got ndarray\.$",
    ):
        predict_timeline(lr_pipeline(), rng.standard_normal(22050))


def test_the_denoisers_stream_is_its_transform_block_by_block(rng):
    from skasc import MinStatsDenoiser

    y = (rng.standard_normal(2 * SR + 11) * 0.1).astype(np.float32)
    denoiser = MinStatsDenoiser(
        n_fft=400, hop_length=160, window_duration=0.6, oversubtraction=2.0, floor=0.05
    )
    stream = denoiser.stream()
    parts = [stream.push(y[i : i + 3001]) for i in range(0, y.size, 3001)]
    np.testing.assert_array_equal(
        np.concatenate(parts + [stream.finish()]), denoiser.transform(y[np.newaxis])[0, 1]
    )
    with pytest.raises(ValueError, match="hop_length"):
        MinStatsDenoiser(n_fft=256, hop_length=300).stream()


def test_a_network_error_while_the_next_block_is_read_is_raised(tmp_path, rng):
    # the front end of block k + 1 runs in a second thread while block k is classified
    pipe = lr_pipeline()
    path = scene_file(tmp_path / "long.wav", rng, seconds=6.0)
    calls = []

    def broken(X):
        calls.append(len(X))
        raise RuntimeError("network failed")

    pipe[-1].estimator_.steps[-1][1].predict_proba = broken
    with pytest.raises(RuntimeError, match="network failed"):
        predict_timeline(pipe, path, window=1.0, hop=0.5, block_duration=1.0)
    assert len(calls) == 1
