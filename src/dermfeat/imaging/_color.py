"""Colour conversions of RGB ``uint8`` images: CIELAB, HSV, YCrCb and grey, exact and fast."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["rgb_to_grey", "rgb_to_hsv", "rgb_to_lab", "rgb_to_ycrcb"]

# sRGB (IEC 61966-2-1) decoding of 8-bit values to linear light, exact per value.
_V = np.arange(256, dtype=np.float64) / 255.0
_SRGB_TO_LINEAR = np.where(_V <= 0.04045, _V / 12.92, ((_V + 0.055) / 1.055) ** 2.4).astype(np.float32)
#: Linear sRGB -> CIE XYZ (D65) and the D65 2-degree reference white.
_RGB_TO_XYZ = np.array(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])
_RGB_TO_XYZN = (_RGB_TO_XYZ / _WHITE_D65[:, None]).astype(np.float32)
_LAB_EPS = 216.0 / 24389.0  # (6/29)**3
_LAB_SLOPE = 24389.0 / 27.0 / 116.0  # slope of the linear segment: 1 / (3 (6/29)**2)
#: [L, a, b] = A @ [fX, fY, fZ] + offset
_F_TO_LAB = np.array([[0, 116, 0, -16], [500, -500, 0, 0], [0, 200, -200, 0]], dtype=np.float32)
#: Full-range ITU-R BT.601 (JFIF) R'G'B' (0-255) -> Y, Cr, Cb (0-255)
_RGB_TO_YCRCB = np.array(
    [
        [0.299, 0.587, 0.114, 0.0],
        [0.5, -0.418688, -0.081312, 128.0],
        [-0.168736, -0.331264, 0.5, 128.0],
    ],
    dtype=np.float32,
)


def rgb_to_lab(rgb):
    """CIELAB (D65, 2-degree observer) of an RGB ``uint8`` image, as float32.

    ``L*`` is in [0, 100]; ``a*`` and ``b*`` roughly in [-128, 128].  sRGB values
    are decoded exactly (a 256-entry table), converted to XYZ with the sRGB/D65
    matrix and to CIELAB with the CIE formulas::

        f(t) = t ** (1/3)                 if t > (6/29)**3
             = t / (3 (6/29)**2) + 4/29   otherwise
        L* = 116 f(Y/Yn) - 16
        a* = 500 (f(X/Xn) - f(Y/Yn))
        b* = 200 (f(Y/Yn) - f(Z/Zn))

    The result agrees with :func:`skimage.color.rgb2lab` to about 1e-3.

    Parameters
    ----------
    rgb : ndarray of shape (..., 3), uint8

    Returns
    -------
    lab : ndarray of shape (..., 3), float32

    Examples
    --------
    >>> import numpy as np
    >>> from dermfeat.imaging import rgb_to_lab
    >>> L, a, b = rgb_to_lab(np.full((1, 1, 3), 255, np.uint8)).ravel()  # white
    >>> round(float(L), 2), abs(round(float(a), 2)), abs(round(float(b), 2))
    (100.0, 0.0, 0.0)
    """
    linear = cv2.LUT(np.ascontiguousarray(rgb), _SRGB_TO_LINEAR)
    xyz = cv2.transform(linear, _RGB_TO_XYZN)
    # f(t) = cbrt(max(t, eps)) + slope * min(t - eps, 0): the CIE linear segment is
    # the tangent of the cube root at eps, so this equals the piecewise definition.
    below = np.minimum(xyz, np.float32(_LAB_EPS))
    below -= np.float32(_LAB_EPS)
    below *= np.float32(_LAB_SLOPE)
    np.maximum(xyz, np.float32(_LAB_EPS), out=xyz)
    np.cbrt(xyz, out=xyz)
    xyz += below
    return cv2.transform(xyz, _F_TO_LAB)


def rgb_to_ycrcb(rgb):
    """Full-range (JFIF) ``Y, Cr, Cb`` of an RGB ``uint8`` image, float32 in [0, 255].

    The JFIF formulas::

        Y  = 0.299 R + 0.587 G + 0.114 B
        Cr = 128 + 0.5 R - 0.418688 G - 0.081312 B
        Cb = 128 - 0.168736 R - 0.331264 G + 0.5 B

    Parameters
    ----------
    rgb : ndarray of shape (..., 3), uint8

    Returns
    -------
    ycrcb : ndarray of shape (..., 3), float32

    Examples
    --------
    >>> import numpy as np
    >>> from dermfeat.imaging import rgb_to_ycrcb
    >>> rgb_to_ycrcb(np.full((1, 1, 3), 128, np.uint8)).ravel().tolist()
    [128.0, 128.0, 128.0]
    """
    return cv2.transform(np.asarray(rgb, dtype=np.float32), _RGB_TO_YCRCB)


def rgb_to_hsv(rgb):
    """HSV of an RGB ``uint8`` image as float32: hue in degrees [0, 360), S and V in [0, 1].

    With ``M = max(R, G, B)``, ``m = min(R, G, B)`` and ``d = M - m``::

        V = M / 255,   S = d / M  (0 when M = 0)
        H = 60 (G - B) / d        (mod 360) if M = R
          = 120 + 60 (B - R) / d            if M = G
          = 240 + 60 (R - G) / d            if M = B
          = 0                               if d = 0

    Hues of 8-bit colours are multiples of ``60 / d``, so float rounding only
    matters at exactly 180 degrees (``G = B > R``), which is set exactly; any
    other hue is at least 0.23 degrees from 180.

    Parameters
    ----------
    rgb : ndarray of shape (..., 3), uint8

    Returns
    -------
    hsv : ndarray of shape (..., 3), float32

    Examples
    --------
    >>> import numpy as np
    >>> from dermfeat.imaging import rgb_to_hsv
    >>> rgb_to_hsv(np.array([[[255, 0, 0]]], np.uint8)).round(4).ravel().tolist()
    [0.0, 1.0, 1.0]
    """
    rgb = np.ascontiguousarray(rgb)
    hsv = cv2.cvtColor(rgb.astype(np.float32) * np.float32(1 / 255), cv2.COLOR_RGB2HSV)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    hsv[..., 0][(g == b) & (r < g)] = 180.0
    return hsv


def rgb_to_grey(rgb):
    """ITU-R BT.601 luma ``0.299 R + 0.587 G + 0.114 B`` as ``uint8`` (OpenCV's rounding).

    Parameters
    ----------
    rgb : ndarray of shape (..., 3), uint8

    Returns
    -------
    grey : ndarray of shape (...), uint8

    Examples
    --------
    >>> import numpy as np
    >>> from dermfeat.imaging import rgb_to_grey
    >>> rgb_to_grey(np.array([[[255, 0, 0]]], np.uint8)).ravel().tolist()
    [76]
    """
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
