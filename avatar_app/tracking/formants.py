"""Which vowel a block of speech sounds like: formants by linear prediction, then the nearest vowel.

A vowel is told by its first two formants (the vocal tract's resonances): ``aa`` has a high F1,
``ih`` a low F1 and a high F2, ``ou`` and ``oh`` a low F2, ``oh`` with the higher F1. So per
audio block:

1. The power spectrum of the windowed block, pre-emphasised (voiced speech falls ~6 dB per
   octave; without it LPC fits the slope, not the peaks) and cut at ``LPC_RATE_HZ / 2``. Its
   inverse FFT is the autocorrelation of the block as if resampled to ``LPC_RATE_HZ``: one FFT,
   no resampling filter, any input rate.
2. Levinson-Durbin gives an all-pole model (order 12: two poles per kHz plus two for the
   glottis), whose narrow-band roots are the formants.
3. The vowel weights are a soft nearest-centroid in (log F1, log F2): log, because a larger
   or smaller vocal tract scales every formant by the same factor.

The centroids are the Japanese vowels of VRM's ``aa ih ou ee oh`` (``a i u e o``), measured on
speech synthesised by espeak-ng (voice ``ja``, male and female variants m1 m3 f1 f3, the
training half; ``tools/evaluate_mic.py --fit`` prints them, README "Microphone" has the
accuracy on the held-out variants). Numpy only.
"""

from __future__ import annotations

import math

import numpy as np

from avatar_app.rig.expressions import VOWELS

LPC_RATE_HZ = 11025.0  # formants F1, F2 lie below 3 kHz; F3 below 5.5 kHz
LPC_ORDER = 12
PRE_EMPHASIS = 0.97
MIN_FORMANT_HZ = 150.0  # below: the voice's fundamental, not a resonance
MAX_BANDWIDTH_HZ = 500.0  # wider poles shape the spectrum's tilt, they are not formants

# (F1, F2) in Hz per vowel, in VOWELS order: the geometric mean over the training voices.
VOWEL_FORMANTS_HZ = np.array(
    [
        (908.0, 1311.0),  # aa
        (321.0, 2467.0),  # ih
        (392.0, 808.0),  # ou
        (543.0, 2161.0),  # ee
        (573.0, 828.0),  # oh
    ]
)
# Spread of the soft assignment, in log-frequency units: about 12%, half the smallest gap (ou - oh in F1).
VOWEL_SPREAD = 0.12
# A block whose (F1, F2) lies farther than this from every vowel (in spreads) is no vowel: the
# fading tail of a word, a fricative. It keeps the last shape instead of voting for the nearest.
MAX_VOWEL_DISTANCE = 3.0


def lpc_autocorrelation(block: np.ndarray, sample_rate_hz: float, order: int = LPC_ORDER) -> tuple[np.ndarray, float]:
    """(autocorrelation lags 0..order at the LPC rate, that rate): step 1 of the module docstring."""
    n = len(block)
    window = np.hanning(n)
    spectrum = np.fft.rfft(block * window, 2 * n)
    freqs = np.fft.rfftfreq(2 * n, 1.0 / sample_rate_hz)
    power = np.abs(spectrum) ** 2
    power *= np.abs(1.0 - PRE_EMPHASIS * np.exp(-2j * np.pi * freqs / sample_rate_hz)) ** 2
    power = power[freqs <= min(LPC_RATE_HZ, sample_rate_hz) / 2.0]
    rate_hz = 2.0 * (len(power) - 1) * sample_rate_hz / (2 * n)
    return np.fft.irfft(power)[: order + 1], rate_hz


def levinson(r: np.ndarray) -> np.ndarray:
    """All-pole coefficients ``a`` (a[0] = 1) from autocorrelation ``r``; zeros past a singular step."""
    order = len(r) - 1
    a = np.zeros(order + 1)
    a[0] = 1.0
    error = float(r[0]) * (1.0 + 1e-9)
    for i in range(1, order + 1):
        if error <= 0.0:
            break
        k = -(r[i] + a[1:i] @ r[i - 1 : 0 : -1]) / error
        a[1 : i + 1] = np.concatenate([a[1:i] + k * a[i - 1 : 0 : -1], [k]])
        error *= 1.0 - k * k
    return a


def formants_hz(block: np.ndarray, sample_rate_hz: float) -> np.ndarray:
    """The block's formant frequencies, ascending (may be fewer than two for noise or silence)."""
    block = np.asarray(block, np.float64)
    if len(block) < 2 * LPC_ORDER or not np.any(block):
        return np.zeros(0)
    r, rate_hz = lpc_autocorrelation(block - block.mean(), sample_rate_hz)
    if r[0] <= 0.0:
        return np.zeros(0)
    roots = np.roots(levinson(r))
    roots = roots[np.imag(roots) > 0.0]
    freqs = np.angle(roots) * rate_hz / (2.0 * math.pi)
    bandwidths = -np.log(np.maximum(np.abs(roots), 1e-12)) * rate_hz / math.pi
    keep = (freqs > MIN_FORMANT_HZ) & (bandwidths < MAX_BANDWIDTH_HZ)
    return np.sort(freqs[keep])


def vowel_distances(f1_hz: float, f2_hz: float) -> np.ndarray:
    """Distance of (F1, F2) to each vowel of :data:`VOWELS`, in log frequency over :data:`VOWEL_SPREAD`."""
    point = np.log([f1_hz, f2_hz])
    return np.sqrt(np.sum((np.log(VOWEL_FORMANTS_HZ) - point) ** 2, axis=1)) / VOWEL_SPREAD


def vowel_weights(f1_hz: float, f2_hz: float) -> np.ndarray:
    """Soft nearest-centroid over :data:`VOWELS` (sums to 1) for a block's first two formants."""
    logits = -0.5 * vowel_distances(f1_hz, f2_hz) ** 2
    weights = np.exp(logits - logits.max())
    return weights / weights.sum()


class VowelEstimator:
    """Block -> vowel weights over :data:`VOWELS`, holding the last vowel through blocks with no formants.

    A plosive, a breath or the fading tail of a word yields no two formants near any vowel; the
    mouth keeps its last shape then rather than snapping to a default. Before any vowel it is ``aa`` (an open mouth, the
    shape every talking avatar falls back on).
    """

    def __init__(self, sample_rate_hz: float):
        if not (isinstance(sample_rate_hz, (int, float)) and 4000.0 <= sample_rate_hz <= 384000.0):
            raise ValueError(f"VowelEstimator: sample rate expected 4000..384000 Hz, got {sample_rate_hz!r}")
        self.sample_rate_hz = float(sample_rate_hz)
        self.last = np.eye(len(VOWELS))[VOWELS.index("aa")]
        self.last_formants_hz: tuple[float, float] | None = None

    def estimate(self, block: np.ndarray) -> np.ndarray:
        found = formants_hz(block, self.sample_rate_hz)
        if len(found) >= 2 and vowel_distances(found[0], found[1]).min() <= MAX_VOWEL_DISTANCE:
            self.last_formants_hz = (float(found[0]), float(found[1]))
            self.last = vowel_weights(*self.last_formants_hz)
        return self.last
