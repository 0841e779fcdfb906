"""Colour statistics in RGB, HSV, CIELAB and YCrCb."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

from ..utils._param_validation import Interval, Options, SequenceOf
from ._family import _HandcraftedFamily, channel_statistics, percentile_name

#: Colour space -> channel names, in output order.
COLOR_SPACES = {
    "rgb": ("r", "g", "b"),
    "hsv": ("h", "s", "v"),
    "lab": ("L", "a", "b"),
    "ycrcb": ("y", "cr", "cb"),
}
#: Histogram range of every channel.
_RANGES = {
    "rgb": [(0.0, 256.0)] * 3,
    "hsv": [(-180.0, 180.0), (0.0, 1.0), (0.0, 1.0)],
    "lab": [(0.0, 100.0), (-128.0, 128.0), (-128.0, 128.0)],
    "ycrcb": [(0.0, 256.0)] * 3,
}


def signed_hue(hue):
    """Hue in degrees mapped to [-180, 180): red is 0 and skin hues do not wrap."""
    return np.where(hue >= 180.0, hue - np.float32(360.0), hue).astype(np.float32, copy=False)


def color_channels(view, space):
    """The three channels of a colour space as a ``(3, N)`` float32 array.

    ``rgb``: 0-255; ``hsv``: hue in degrees in [-180, 180) (0 = red), S and V in
    [0, 1]; ``lab``: CIELAB D65; ``ycrcb``: full-range BT.601, 0-255.
    """
    if space == "rgb":
        values = view.rgb.reshape(-1, 3).T.astype(np.float32)
    elif space == "hsv":
        values = view.hsv.reshape(-1, 3).T.copy()
        values[0] = signed_hue(values[0])
    elif space == "lab":
        values = view.lab.reshape(-1, 3).T
    else:
        values = view.ycrcb.reshape(-1, 3).T
    return np.ascontiguousarray(values)


class ColorFeatures(_HandcraftedFamily):
    """Per-channel colour statistics in several colour spaces.

    For each channel ``c`` of each colour space, over all ``N`` pixels of the
    working image: ``mean = (1/N) sum c``, ``std = sqrt((1/N) sum (c - mean)^2)``
    and the requested percentiles (linear interpolation between order
    statistics), optionally followed by a normalised histogram (sums to 1) over
    the channel's fixed range.

    The colour spaces, computed from the 8-bit sRGB values:

    * ``rgb``: R, G, B in 0-255.
    * ``hsv``: hue in degrees mapped to [-180, 180) so that red is 0 and the
      red-to-yellow hues of skin and lesions do not wrap around; saturation
      ``(max - min) / max`` and value ``max / 255`` in [0, 1].
    * ``lab``: CIELAB (D65, 2-degree observer; sRGB decoded exactly):
      ``L*`` in [0, 100], ``a*`` (green-red) and ``b*`` (blue-yellow).
    * ``ycrcb``: full-range ITU-R BT.601 (JFIF) luma and chroma in 0-255:
      ``Y = 0.299 R + 0.587 G + 0.114 B``, ``Cr = 128 + 0.5 R - 0.418688 G - 0.081312 B``,
      ``Cb = 128 - 0.168736 R - 0.331264 G + 0.5 B``.

    Parameters
    ----------
    spaces : list of {"rgb", "hsv", "lab", "ycrcb"}, default=("rgb", "hsv", "lab", "ycrcb")
        Colour spaces, in output order.
    percentiles : list of float, default=(10, 50, 90)
        Percentiles in [0, 100]; may be empty.
    histogram_bins : int, default=0
        Bins of the per-channel histograms (0: no histograms).
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
        ``<space>_<channel>_<statistic>``, e.g. ``lab_a_mean``, ``hsv_h_p50``,
        ``rgb_r_hist3``.
    n_features_out_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from dermfeat.features import ColorFeatures
    >>> image = np.full((32, 32, 3), (200, 120, 100), dtype=np.uint8)
    >>> colour = ColorFeatures(spaces=["rgb", "hsv"], percentiles=[50], image_size=32).fit()
    >>> features = dict(zip(colour.get_feature_names_out(), colour.transform(image)[0].round(3).tolist()))
    >>> features["rgb_r_mean"], features["rgb_r_std"], features["rgb_r_p50"]
    (200.0, 0.0, 200.0)
    >>> features["hsv_h_mean"]  # hue: 60 * (G - B) / (max - min) degrees
    12.0
    """

    _parameter_constraints = {
        **_HandcraftedFamily._parameter_constraints,
        "spaces": [SequenceOf(Options(*COLOR_SPACES), "a non-empty list of 'rgb', 'hsv', 'lab', 'ycrcb'")],
        "percentiles": [list, tuple],
        "histogram_bins": [Interval(Integral, 0, 256)],
    }

    def __init__(
        self,
        spaces=("rgb", "hsv", "lab", "ycrcb"),
        percentiles=(10, 50, 90),
        histogram_bins=0,
        image_size=256,
        n_jobs=None,
        memory=None,
        on_error="raise",
    ):
        self.spaces = spaces
        self.percentiles = percentiles
        self.histogram_bins = histogram_bins
        self.image_size = image_size
        self.n_jobs = n_jobs
        self.memory = memory
        self.on_error = on_error

    @classmethod
    def _get_test_params(cls):
        return [{"image_size": 32}, {"image_size": 24, "spaces": ["hsv"], "percentiles": [], "histogram_bins": 8}]

    def _check_params(self):
        from ..utils._param_validation import InvalidParameterError

        if len(set(self.spaces)) != len(self.spaces):
            raise InvalidParameterError(f"ColorFeatures: spaces must not repeat, got {self.spaces!r}")
        if not all(Interval(Real, 0, 100).is_satisfied_by(q) for q in self.percentiles):
            raise InvalidParameterError(f"ColorFeatures: percentiles must lie in [0, 100], got {self.percentiles!r}")

    def _feature_names(self):
        stats = ["mean", "std", *(percentile_name(q) for q in self.percentiles)]
        names = []
        for space in self.spaces:
            for channel in COLOR_SPACES[space]:
                names += [f"{space}_{channel}_{stat}" for stat in stats]
                names += [f"{space}_{channel}_hist{k}" for k in range(self.histogram_bins)]
        return names

    def _features_from_view(self, view):
        out = []
        for space in self.spaces:
            channels = color_channels(view, space)
            stats = channel_statistics(channels, list(self.percentiles))
            for c in range(3):
                out.append(stats[c])
                if self.histogram_bins:
                    counts, _ = np.histogram(channels[c], bins=self.histogram_bins, range=_RANGES[space][c])
                    out.append(counts / channels.shape[1])
        return np.concatenate(out)
