"""Gabor filter bank: magnitude-response statistics."""

from __future__ import annotations

import functools
import math
from numbers import Integral, Real

import cv2
import numpy as np
import scipy.fft

from ..utils._param_validation import Interval, SequenceOf
from ._family import _as_float_tuple, _HandcraftedFamily

_STATISTICS = ("mean", "std", "energy")


def _sigma(frequency, bandwidth):
    """Gaussian width for a half-magnitude bandwidth of ``bandwidth`` octaves."""
    return math.sqrt(math.log(2) / 2) / math.pi * (2.0**bandwidth + 1) / (2.0**bandwidth - 1) / frequency


def _gabor_kernel(frequency, theta, bandwidth, n_stds):
    sigma = _sigma(frequency, bandwidth)
    c, s = math.cos(theta), math.sin(theta)
    half_x = math.ceil(max(abs(n_stds * sigma * c), abs(n_stds * sigma * s), 1))
    half_y = math.ceil(max(abs(n_stds * sigma * c), abs(n_stds * sigma * s), 1))
    y, x = np.mgrid[-half_y : half_y + 1, -half_x : half_x + 1].astype(np.float64)
    along = x * c + y * s
    across = -x * s + y * c
    envelope = np.exp(-0.5 * (along**2 + across**2) / sigma**2) / (2 * np.pi * sigma**2)
    return envelope * np.exp(2j * np.pi * frequency * along)


def gabor_kernels(frequencies=(0.05, 0.1, 0.2, 0.4), n_orientations=4, bandwidth=1.0, n_stds=3.0):
    """The complex Gabor kernels of a bank, frequency-major.

    For frequency ``f`` (cycles per pixel) and orientation ``theta``::

        g(x, y) = 1 / (2 pi sigma^2) exp(-(x'^2 + y'^2) / (2 sigma^2)) exp(2 pi i f x')
        x' =  x cos(theta) + y sin(theta)
        y' = -x sin(theta) + y cos(theta)
        sigma = sqrt(ln 2 / 2) / (pi f) * (2^b + 1) / (2^b - 1)

    with ``x`` the column and ``y`` the row offset (rows point down) and ``b``
    the half-magnitude bandwidth in octaves.  The kernel covers
    ``|x|, |y| <= ceil(max(n_stds sigma |cos theta|, n_stds sigma |sin theta|, 1))``.
    These are the kernels of :func:`skimage.filters.gabor_kernel` with
    ``sigma_x = sigma_y``.  Orientations are ``theta_k = k pi / n_orientations``.

    Parameters
    ----------
    frequencies : sequence of float, default=(0.05, 0.1, 0.2, 0.4)
        Spatial frequencies in cycles per pixel, in (0, 0.5].
    n_orientations : int, default=4
        Number of orientations in [0, pi).
    bandwidth : float, default=1.0
        Bandwidth ``b`` in octaves.
    n_stds : float, default=3.0
        Kernel half-size in standard deviations of the Gaussian envelope.

    Returns
    -------
    bank : list of (float, float, ndarray of complex128)
        ``(frequency, theta in radians, kernel)`` for every filter.

    Examples
    --------
    >>> from dermfeat.features import gabor_kernels
    >>> bank = gabor_kernels(frequencies=[0.1, 0.2], n_orientations=2)
    >>> [(f, round(t, 3), k.shape) for f, t, k in bank]
    [(0.1, 0.0, (35, 35)), (0.1, 1.571, (35, 35)), (0.2, 0.0, (19, 19)), (0.2, 1.571, (19, 19))]
    """
    return [
        (float(f), k * math.pi / n_orientations, _gabor_kernel(float(f), k * math.pi / n_orientations, bandwidth, n_stds))
        for f in frequencies
        for k in range(n_orientations)
    ]


@functools.lru_cache(maxsize=4)
def _bank(frequencies, n_orientations, bandwidth, n_stds):
    """Kernels of a bank and the padding they need (built once per parameter set)."""
    kernels = [k for _, _, k in gabor_kernels(frequencies, n_orientations, bandwidth, n_stds)]
    pad = max(max(k.shape) // 2 for k in kernels)
    return kernels, pad


def _fast_len(n):
    """An FFT-friendly length >= n (5-smooth, from a multiple of 8: fewer distinct shapes to cache)."""
    return cv2.getOptimalDFTSize(int(math.ceil(n / 8) * 8))


@functools.lru_cache(maxsize=8)
def _bank_spectra(frequencies, n_orientations, bandwidth, n_stds, shape):
    """Fourier transforms of the bank's kernels for one FFT shape, cached.

    Returned as float32 arrays of shape ``(n_filters, H, W, 2)`` (real, imaginary),
    OpenCV's complex layout.
    """
    kernels, _ = _bank(frequencies, n_orientations, bandwidth, n_stds)
    spectra = np.empty((len(kernels), *shape, 2), dtype=np.float32)
    for i, kernel in enumerate(kernels):
        kh, kw = kernel.shape
        embedded = np.zeros(shape, dtype=np.complex128)
        embedded[:kh, :kw] = kernel
        # centre of the kernel at index (0, 0): a true convolution, no shift
        embedded = np.roll(embedded, (-(kh // 2), -(kw // 2)), axis=(0, 1))
        spectrum = scipy.fft.fft2(embedded)
        spectra[i, ..., 0], spectra[i, ..., 1] = spectrum.real, spectrum.imag
    spectra.setflags(write=False)
    return spectra


def _symmetric_pad(image, pad):
    if pad < min(image.shape):
        return cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    return np.pad(image, pad, mode="symmetric")


def gabor_magnitudes(image, frequencies=(0.05, 0.1, 0.2, 0.4), n_orientations=4, bandwidth=1.0, n_stds=3.0):
    """Magnitude of the response of every filter of a Gabor bank, as float32.

    The response is the convolution ``r = I * g`` with each kernel of
    :func:`gabor_kernels`, with symmetric boundary extension (the edge pixel is
    repeated: ``d c b a | a b c d``, scipy's ``"reflect"``); the magnitude is
    ``|r| = sqrt(Re(r)^2 + Im(r)^2)``.  It is computed in the Fourier domain
    (OpenCV's DFT, float32): the padded image is transformed once and multiplied
    by the cached transforms of all kernels, so the cost does not grow with the
    kernel size.

    Parameters
    ----------
    image : ndarray of shape (H, W)
        Grey image (float; e.g. in [0, 1]).
    frequencies, n_orientations, bandwidth, n_stds
        The bank, see :func:`gabor_kernels`.

    Returns
    -------
    magnitudes : ndarray of shape (n_filters, H, W), float32

    Examples
    --------
    >>> import numpy as np
    >>> from dermfeat.features import gabor_magnitudes
    >>> stripes = np.tile(np.float32([0, 0, 0, 0, 1, 1, 1, 1]), (32, 4))  # period 8 along x
    >>> mags = gabor_magnitudes(stripes, frequencies=[0.125], n_orientations=2)
    >>> bool(mags[0].mean() > 10 * mags[1].mean())  # theta = 0 responds, theta = 90 does not
    True
    """
    key = (_as_float_tuple(frequencies), int(n_orientations), float(bandwidth), float(n_stds))
    image = np.asarray(image, dtype=np.float32)
    _, pad = _bank(*key)
    h, w = image.shape
    shape = (_fast_len(h + 2 * pad), _fast_len(w + 2 * pad))
    spectra = _bank_spectra(*key, shape)
    buffer = np.zeros(shape, dtype=np.float32)
    padded = _symmetric_pad(image, pad)
    buffer[: padded.shape[0], : padded.shape[1]] = padded
    image_spectrum = cv2.dft(buffer, flags=cv2.DFT_COMPLEX_OUTPUT, nonzeroRows=padded.shape[0])
    out = np.empty((len(spectra), h, w), dtype=np.float32)
    for i, spectrum in enumerate(spectra):
        product = cv2.mulSpectrums(image_spectrum, spectrum, 0)
        response = cv2.idft(product, flags=cv2.DFT_SCALE | cv2.DFT_COMPLEX_OUTPUT)
        np.abs(response.view(np.complex64)[pad : pad + h, pad : pad + w, 0], out=out[i])
    return out


class GaborFeatures(_HandcraftedFamily):
    """Mean, standard deviation and energy of Gabor magnitude responses.

    The grey image (BT.601 luma scaled to [0, 1]) at the working size is
    filtered by a bank of ``len(frequencies) x n_orientations`` complex Gabor
    filters (:func:`gabor_kernels`, :func:`gabor_magnitudes`); for each filter's
    magnitude ``m = |I * g|`` over all ``N`` pixels::

        mean   = (1/N) sum m
        std    = sqrt((1/N) sum (m - mean)^2)
        energy = (1/N) sum m^2

    The bank is built once per parameter set on first use (module-level cache,
    keyed by the parameters and the FFT shape), never per image; filtering is a
    single forward FFT per image and one inverse FFT per filter.  Magnitudes
    agree with :func:`skimage.filters.gabor` (``mode="reflect"``) to float32
    precision.

    Parameters
    ----------
    frequencies : list of float, default=(0.05, 0.1, 0.2, 0.4)
        Spatial frequencies in cycles per pixel of the working image, in (0, 0.5].
    n_orientations : int, default=4
        Orientations ``k pi / n_orientations`` (0, 45, 90 and 135 degrees by default).
    bandwidth : float, default=1.0
        Half-magnitude bandwidth in octaves (sets the Gaussian width).
    n_stds : float, default=3.0
        Kernel half-size in Gaussian standard deviations.
    image_size : int, default=256
        Working size: the shorter side of the resized image.
    n_jobs : int or None, default=None
        Parallel workers over images.
    memory : None, str, path-like or joblib.Memory, default=None
        Per-image feature cache.
    on_error : {"raise", "nan"}, default="raise"
        What to do with unreadable images.

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        ``f<frequency>_t<degrees>_<statistic>``, e.g. ``f0.1_t45_mean``.
    n_features_out_ : int

    Examples
    --------
    >>> from dermfeat.datasets import make_lesion_images
    >>> from dermfeat.features import GaborFeatures
    >>> images = make_lesion_images(2, image_size=64, random_state=0).images
    >>> gabor = GaborFeatures(frequencies=[0.1, 0.2], n_orientations=2, image_size=64)
    >>> gabor.fit_transform(images).shape
    (2, 12)
    >>> gabor.get_feature_names_out()[:3].tolist()
    ['f0.1_t0_mean', 'f0.1_t0_std', 'f0.1_t0_energy']
    """

    _parameter_constraints = {
        **_HandcraftedFamily._parameter_constraints,
        "frequencies": [SequenceOf(Interval(Real, 0, 0.5, closed="right"), "a non-empty list of floats in (0, 0.5]")],
        "n_orientations": [Interval(Integral, 1, 64)],
        "bandwidth": [Interval(Real, 0.1, 8)],
        "n_stds": [Interval(Real, 1, 10)],
    }

    def __init__(
        self,
        frequencies=(0.05, 0.1, 0.2, 0.4),
        n_orientations=4,
        bandwidth=1.0,
        n_stds=3.0,
        image_size=256,
        n_jobs=None,
        memory=None,
        on_error="raise",
    ):
        self.frequencies = frequencies
        self.n_orientations = n_orientations
        self.bandwidth = bandwidth
        self.n_stds = n_stds
        self.image_size = image_size
        self.n_jobs = n_jobs
        self.memory = memory
        self.on_error = on_error

    @classmethod
    def _get_test_params(cls):
        return [{"image_size": 32, "frequencies": [0.1, 0.3], "n_orientations": 2}]

    def _feature_names(self):
        return [
            f"f{float(f):g}_t{round(180.0 * k / self.n_orientations, 2):g}_{stat}"
            for f in self.frequencies
            for k in range(self.n_orientations)
            for stat in _STATISTICS
        ]

    def _features_from_view(self, view):
        mags = gabor_magnitudes(view.grey_float, self.frequencies, self.n_orientations, self.bandwidth, self.n_stds)
        flat = mags.reshape(len(mags), -1)
        mean = flat.sum(axis=1, dtype=np.float64) / flat.shape[1]
        energy = np.einsum("ij,ij->i", flat, flat, dtype=np.float64) / flat.shape[1]
        # float32 products are exact in float64, so E[m^2] - E[m]^2 loses nothing that matters
        std = np.sqrt(np.maximum(energy - mean**2, 0.0))
        return np.column_stack([mean, std, energy]).ravel()
