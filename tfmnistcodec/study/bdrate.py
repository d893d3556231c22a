"""Bjøntegaard delta rate and quality: the average gap between two RD curves.

VCEG-M33 (G. Bjøntegaard, "Calculation of average PSNR differences between
RD-curves", 2001) compares two rate-distortion curves, an anchor and a test,
by fitting the logarithm of the rate as a function of quality for each, and
averaging the difference of the two fits over the quality interval that both
curves cover. The BD-rate is that mean difference turned back into a rate
ratio, `(exp(mean) - 1) * 100`: the percent more (positive) or less
(negative) rate the test needs, on average, for the same quality. The
BD-quality (BD-PSNR when the quality is PSNR) swaps the axes: quality as a
function of log rate, averaged over the common log-rate interval.

Two fits, by `method`:

- `"cubic"`: VCEG-M33's third-order polynomial, least squares when a curve
  has more than four points (as ETRO's Excel add-in and the usual Matlab
  and Python ports do). Needs four distinct abscissae per curve.
- `"pchip"`: piecewise cubic Hermite interpolation with Fritsch–Carlson
  shape-preserving slopes (Moler, "Numerical Computing with MATLAB", 3.4: the
  same curve as Matlab's `pchip` and scipy's `PchipInterpolator`), integrated
  exactly, piece by piece. The JCT-VC and JVET BD-rate Excel sheets (JCTVC-
  E137, JCTVC-L1100, JVET-T2010) switched to it after the single cubic gave
  misleading numbers for some curve shapes during HEVC's standardization.
  The JCT-VC sheet takes four points per curve; like Matlab and scipy, this
  one accepts two or more (two points make a straight line). Every point is
  interpolated, so the abscissae of a curve must be distinct.

The module imports only numpy: no TensorFlow, no scipy.
"""

import numpy as np

from tfmnistcodec import contract

__all__ = [
    "METHODS", "bd_rate", "bd_quality", "bd_rate_distortion",
    "distortion_to_quality"
]

METHODS = ("cubic", "pchip")
# The cubic is a fit of 4 coefficients; pchip interpolates any 2 or more.
_MIN_POINTS = {"cubic": 4, "pchip": 2}


def bd_rate(anchor_rates, anchor_quality, test_rates, test_quality,
            method="cubic"):
  """The Bjøntegaard delta rate of a test RD curve against an anchor.

  Quality is higher-is-better (PSNR, say); the points of each curve may come
  in any order. Rates may be in any unit, as long as both curves use the
  same one.

  Args:
    anchor_rates: 1-D sequence of positive rates of the anchor.
    anchor_quality: The anchor's quality at those rates, same length.
    test_rates: 1-D sequence of positive rates of the test.
    test_quality: The test's quality at those rates, same length.
    method: `"cubic"` (VCEG-M33) or `"pchip"` (JCT-VC/JVET); see the module
      docstring.

  Returns:
    The average rate difference in percent, a float: -20.0 means the test
    needs 20% less rate than the anchor for the same quality.

  Raises:
    ValueError: For an unknown method; for lengths that differ; for too few
      points, or (pchip) repeated quality values within a curve; for rates
      that are not positive; for NaN or infinite values; when the quality
      ranges of the two curves do not overlap.
  """
  anchor_log_rates, anchor_quality = _curve("anchor", anchor_rates,
                                            anchor_quality)
  test_log_rates, test_quality = _curve("test", test_rates, test_quality)
  mean_log_ratio = _mean_difference(anchor_quality, anchor_log_rates,
                                    test_quality, test_log_rates, method,
                                    "quality")
  return float(np.expm1(mean_log_ratio) * 100.)


def bd_quality(anchor_rates, anchor_quality, test_rates, test_quality,
               method="cubic"):
  """The Bjøntegaard delta quality (BD-PSNR) of a test RD curve.

  Fits quality as a function of log rate for both curves and averages the
  difference over the log-rate interval both cover.

  Args:
    anchor_rates, anchor_quality, test_rates, test_quality, method: As for
      `bd_rate`.

  Returns:
    The average quality difference, test minus anchor, in the units of the
    quality (dB for PSNR), a float: positive means the test is better.

  Raises:
    ValueError: As for `bd_rate`, with rates in place of quality values for
      the checks on repeats and overlap.
  """
  anchor_log_rates, anchor_quality = _curve("anchor", anchor_rates,
                                            anchor_quality)
  test_log_rates, test_quality = _curve("test", test_rates, test_quality)
  return float(_mean_difference(anchor_log_rates, anchor_quality,
                                test_log_rates, test_quality, method, "rate"))


def distortion_to_quality(distortions):
  """Lower-is-better distortions on a higher-is-better dB scale.

  `-10 * log10(distortion)`; see `bd_rate_distortion` for why.

  Args:
    distortions: 1-D sequence of positive, finite distortions.

  Returns:
    A float64 numpy array of the same length.

  Raises:
    ValueError: For distortions that are NaN, infinite, zero or negative.
  """
  return _log_quality("distortions", distortions)


def bd_rate_distortion(anchor_rates, anchor_distortions, test_rates,
                       test_distortions, method="cubic"):
  """`bd_rate` for a lower-is-better distortion measure, such as MAE.

  Each distortion `D` becomes the quality `-10 * log10(D)`, a dB scale, as
  PSNR is `-10 * log10(MSE)` up to a constant. Why a log scale: the BD-rate
  integrates over quality, and on a log scale every halving of the
  distortion weighs the same wherever it happens, the way PSNR treats MSE
  (and the way the rate axis is already logarithmic); on a linear scale the
  few high-distortion points would dominate the average. The factor 10 and
  any reference level (PSNR's `255**2`) do not change the result: both
  fits, and the mean of their difference, are unchanged by an affine change
  of the quality axis, so this is the BD-rate "in PSNR terms" for any such
  dB convention.

  Args:
    anchor_rates: 1-D sequence of positive rates of the anchor.
    anchor_distortions: The anchor's positive distortions, same length.
    test_rates: 1-D sequence of positive rates of the test.
    test_distortions: The test's positive distortions, same length.
    method: `"cubic"` or `"pchip"`, as for `bd_rate`.

  Returns:
    The average rate difference in percent, as `bd_rate`.

  Raises:
    ValueError: As for `bd_rate`, and for distortions that are not
      positive.
  """
  return bd_rate(
      anchor_rates, _log_quality("anchor distortions", anchor_distortions),
      test_rates, _log_quality("test distortions", test_distortions), method)


def _vector(name, values):
  values = np.asarray(values, np.float64)
  if values.ndim != 1:
    raise contract.UserValueError(f"{name} must be a 1-D sequence, got shape "
                                  f"{values.shape}.")
  bad = np.flatnonzero(~np.isfinite(values))
  if bad.size:
    raise contract.UserValueError(
        f"{name} must be finite, but value {bad[0]} is "
        f"{values[bad[0]]}.")
  return values


def _curve(name, rates, quality):
  """Checked float64 (log rates, quality) of one curve."""
  rates = _vector(f"{name} rates", rates)
  quality = _vector(f"{name} quality", quality)
  if len(rates) != len(quality):
    raise contract.UserValueError(
        f"the {name} curve has {len(rates)} rates but "
        f"{len(quality)} quality values.")
  bad = np.flatnonzero(rates <= 0)
  if bad.size:
    raise contract.UserValueError(
        f"{name} rates must be positive (their log is fitted), "
        f"but value {bad[0]} is {rates[bad[0]]}.")
  return np.log(rates), quality


def _log_quality(name, distortions):
  distortions = _vector(name, distortions)
  bad = np.flatnonzero(distortions <= 0)
  if bad.size:
    raise contract.UserValueError(
        f"{name} must be positive to go on a log scale, but value {bad[0]} "
        f"is {distortions[bad[0]]}; a lossless point has no place on an RD "
        "curve for the BD-rate.")
  return -10. * np.log10(distortions)


def _mean_difference(anchor_x, anchor_y, test_x, test_y, method, x_word):
  """Mean of fit(test) - fit(anchor) over the common range of x."""
  if method not in METHODS:
    raise contract.UserValueError(
        f"method must be one of {METHODS}, got {method!r}.")
  fits = []
  for name, x, y in (("anchor", anchor_x, anchor_y),
                     ("test", test_x, test_y)):
    need = _MIN_POINTS[method]
    if len(x) < need:
      raise contract.UserValueError(
          f"the {method} method needs at least {need} points "
          f"per curve; the {name} curve has {len(x)}.")
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    distinct = 1 + np.count_nonzero(np.diff(x))
    if method == "pchip" and distinct < len(x):
      raise contract.UserValueError(
          f"the {name} curve has repeated {x_word} values; "
          "pchip interpolates every point, so they must be "
          "distinct.")
    if method == "cubic" and distinct < 4:
      raise contract.UserValueError(
          f"the cubic method needs 4 distinct {x_word} values "
          f"per curve; the {name} curve has {distinct}.")
    fits.append((x, y))
  low = max(anchor_x.min(), test_x.min())
  high = min(anchor_x.max(), test_x.max())
  if not low < high:
    # Rates are fitted as logs; the message shows them as given.
    shown = np.exp if x_word == "rate" else float
    raise contract.UserValueError(
        f"the {x_word} ranges do not overlap: anchor "
        f"{shown(anchor_x.min()):g} to {shown(anchor_x.max()):g}, test "
        f"{shown(test_x.min()):g} to {shown(test_x.max()):g}.")
  mean = _cubic_mean if method == "cubic" else _pchip_mean
  (ax, ay), (tx, ty) = fits
  return mean(tx, ty, low, high) - mean(ax, ay, low, high)


def _cubic_mean(x, y, low, high):
  """Mean over [low, high] of the least-squares cubic through (x, y)."""
  # Fit on a centred axis scaled to [-1, 1]: for PSNRs of 28 to 38 the raw
  # Vandermonde matrix has a condition number of 5e7 (1e4 even after
  # polyfit's column scaling), the centred one of 8. The fitted curve, and
  # its mean over the interval, are the same on any affine axis.
  centre, scale = x.mean(), np.ptp(x) / 2.
  t_low, t_high = (low - centre) / scale, (high - centre) / scale
  antiderivative = np.polyint(np.polyfit((x - centre) / scale, y, 3))
  return ((np.polyval(antiderivative, t_high) -
           np.polyval(antiderivative, t_low)) / (t_high - t_low))


def _pchip_end_slope(h0, h1, delta0, delta1):
  """Slope at an end: three-point formula, kept shape-preserving."""
  slope = ((2. * h0 + h1) * delta0 - h0 * delta1) / (h0 + h1)
  if np.sign(slope) != np.sign(delta0):
    return 0.
  if np.sign(delta0) != np.sign(delta1) and abs(slope) > abs(3. * delta0):
    return 3. * delta0
  return slope


def _pchip_mean(x, y, low, high):
  """Mean over [low, high] of the pchip interpolant of sorted (x, y)."""
  h = np.diff(x)
  delta = np.diff(y) / h
  if len(x) == 2:
    slopes = np.array([delta[0], delta[0]])
  else:
    # Interior: weighted harmonic mean of the neighbouring secant slopes, or
    # 0 at a local extremum (or a flat piece) so no overshoot is made.
    w1, w2 = 2. * h[1:] + h[:-1], h[1:] + 2. * h[:-1]
    monotone = delta[:-1] * delta[1:] > 0
    safe_left = np.where(monotone, delta[:-1], 1.)
    safe_right = np.where(monotone, delta[1:], 1.)
    harmonic = (w1 + w2) / (w1 / safe_left + w2 / safe_right)
    slopes = np.concatenate([
        [_pchip_end_slope(h[0], h[1], delta[0], delta[1])],
        np.where(monotone, harmonic, 0.),
        [_pchip_end_slope(h[-1], h[-2], delta[-1], delta[-2])],
    ])
  # On piece i, with s = x - x[i]: y[i] + d[i] s + c[i] s^2 + b[i] s^3.
  d0, d1 = slopes[:-1], slopes[1:]
  c = (3. * delta - 2. * d0 - d1) / h
  b = (d0 - 2. * delta + d1) / h**2
  s0 = np.clip(low, x[:-1], x[1:]) - x[:-1]
  s1 = np.clip(high, x[:-1], x[1:]) - x[:-1]
  integral = np.sum(y[:-1] * (s1 - s0) + d0 * (s1**2 - s0**2) / 2. +
                    c * (s1**3 - s0**3) / 3. + b * (s1**4 - s0**4) / 4.)
  return integral / (high - low)
