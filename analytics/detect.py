"""Anomaly detectors and the merge of their flags into episodes: pure functions.

A series is a regular pandas Series (NaN where an expected report is missing). Each
detector returns a boolean mask over it:

- ``breaches``: the robust residual score (value against the seasonal baseline, in
  robust standard deviations) beyond a threshold: outside the baseline's interval;
- ``cusum``: a two-sided CUSUM of the same score, for level shifts and drift that
  start too small for one point to breach;
- ``noise_bursts``: point-to-point changes much larger than the series' usual ones;
- ``stuck``: the same value repeated by a series that normally varies;
- ``dropouts``: expected reports missing.

``detect`` runs them all and merges the flags into ``Episode`` s, each with a kind
(spike, level_shift, drift, noise_burst, stuck, dropout), a severity and an
explanation in words.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.outliers import widened

# MAD to standard deviation for normal data.
MAD_SCALE = 1.4826
KINDS = ("spike", "level_shift", "drift", "stuck", "dropout", "noise_burst")


@dataclass(frozen=True)
class Episode:
    start: pd.Timestamp
    end: pd.Timestamp
    kind: str
    severity: float
    explanation: str


@dataclass(frozen=True)
class Thresholds:
    """What counts as anomalous; the defaults are tuned on the simulator's scored scenario."""

    breach_z: float = 8.0
    cusum_k: float = 2.0  # slack, in robust standard deviations
    cusum_h: float = 20.0  # alarm level of the cumulative sum
    noise_ratio: float = 3.0
    noise_window: int = 6
    stuck_min_steps: int = 6
    dropout_min_steps: int = 2
    merge_gap_steps: int = 6
    spike_max_steps: int = 2
    min_peak_z: float = 5.0  # an episode's strongest point, in robust sd
    usual_peak_z: float = 4.0  # a day's largest score in a series with light tails (see ``tail_scale``)
    usual_body_z: float = 3.0  # a day's 95th-percentile score in an ordinary series
    point_z: float = 12.0  # one report beyond both neighbours (see ``point_spikes``)
    recurring_days: int = 14  # a stretch beginning at the time of day one did on these days before is a habit
    aftershock_hours: float = 1.0  # a weaker stretch this soon after an episode is part of it (later: its own)
    tail_of_days: float = 0.75  # which of those daily peaks is 'usual' (a quantile; see ``tail_scale``)
    record_margin: float = 0.15  # beyond the series' all-time extreme by this share of its reach (see ``records``)
    record_days: int = 2  # the history a record needs
    record_settled_days: float = 7.0  # until then the margin is wider, in proportion (see ``records``)


def _past_rolling(x: pd.Series, window: int, func: str) -> pd.Series:
    rolled = x.shift(1).rolling(window, min_periods=max(3, window // 4))
    return getattr(rolled, func)()  # type: ignore[no-any-return]


_WARP_STEPS = 2
# The least robust spread, as a share of the series' 3%-97% range: a series that is
# very regular (or very quiet at night) would otherwise make tiny changes look huge.
SPREAD_FLOOR_SHARE = 0.12


def _lagged(reference: np.ndarray, y: np.ndarray, lags: list[int]) -> np.ndarray:
    """Rows of ``reference`` values ``lags`` steps back (NaN where none is there), each the
    nearest to the point's own value ``y`` within +-2 steps of its lag: daily patterns that
    move by minutes (street lights follow sunset) must not look like jumps."""
    n = len(y)
    stacked = np.full((len(lags), n), np.nan)
    for row, lag in enumerate(lags):
        best = np.full(n, np.nan)
        for shift in range(-_WARP_STEPS, _WARP_STEPS + 1):
            back = lag - shift
            if back <= 0 or back >= n:
                continue
            candidate = np.full(n, np.nan)
            candidate[back:] = reference[: n - back]
            with np.errstate(invalid="ignore"):
                closer = np.isnan(best) | (np.abs(candidate - y) < np.abs(best - y))
            best = np.where(closer & ~np.isnan(candidate), candidate, best)
        stacked[row] = best
    return stacked


def _median_of_votes(votes: np.ndarray) -> np.ndarray:
    """The median of each column's non-NaN values (NaN where there is none).

    A sort of a few rows (NaN sorts last) and the middle of each column's finite values:
    numpy's nanmedian goes through masked arrays and was a tenth of a detection pass.
    """
    ordered = np.sort(votes, axis=0)
    count = np.isfinite(ordered).sum(axis=0)
    low = np.maximum((count - 1) // 2, 0)[None, :]
    high = np.maximum(count // 2, 0)[None, :]
    out: np.ndarray = 0.5 * (np.take_along_axis(ordered, low, axis=0)[0] + np.take_along_axis(ordered, high, axis=0)[0])
    out[count == 0] = np.nan
    return out


def _day_lags(series: pd.Series, steps_per_day: int, timezone: str | None) -> tuple[list[int], np.ndarray | None]:
    """The daily lags a point may read and, with a ``timezone``, each point's local day type
    (True on Saturdays and Sundays): a Monday's earlier days are the working days before it."""
    if timezone is None or not isinstance(series.index, pd.DatetimeIndex) or series.index.tz is None:
        return [steps_per_day, 2 * steps_per_day, 3 * steps_per_day], None
    weekend = np.asarray(series.index.tz_convert(timezone).day_of_week >= 5)
    return [d * steps_per_day for d in range(1, 7)], weekend


def baseline(
    series: pd.Series, *, steps_per_day: int, reference: pd.Series | None = None, timezone: str | None = None
) -> pd.Series:
    """The expected value of each point from the same time on earlier days.

    The median of the same time 1, 2 and 3 weeks before (weekdays and weekends differ).
    With a ``timezone``, where fewer than two of those are there, the median of those and
    of the days among the six before that are of the same kind (working day or weekend,
    local time) and of the day before whatever its kind (street lights follow the sun,
    not the calendar); one earlier week alone may hold a fault. Without one, the three days
    before in a series younger than two weeks. Else the median of the last hour-or-so
    of points (a local level, for a series younger than a day, or a first weekend).
    ``reference``: the values the earlier days are read from, when they differ from
    ``series`` (``scores`` passes the series with its first-pass outliers taken out).
    """
    y = series.to_numpy(dtype=float)
    ref = y if reference is None else reference.to_numpy(dtype=float)
    week = 7 * steps_per_day
    weekly = _lagged(ref, y, [week, 2 * week, 3 * week])
    day_lags, weekend = _day_lags(series, steps_per_day, timezone)
    if weekend is None:  # days of any kind: only for a series younger than two weeks
        seasonal = _median_of_votes(weekly if len(y) >= 2 * week else _lagged(ref, y, day_lags))
    else:
        daily = _lagged(ref, y, day_lags)
        for row, lag in zip(daily[1:], day_lags[1:], strict=True):  # the day before always votes
            same = np.zeros(len(y), dtype=bool)
            same[lag:] = weekend[lag:] == weekend[:-lag]
            row[~same] = np.nan
        weeks = np.isfinite(weekly).sum(axis=0)
        seasonal = np.where(weeks >= 2, _median_of_votes(weekly), _median_of_votes(np.vstack([weekly, daily])))
    local = _past_rolling(series, 12, "median").to_numpy()
    expected = np.where(np.isnan(seasonal), local, seasonal)
    # slow changes of one sensor's surroundings move its whole level: follow them over
    # half a day (the price: the end of a long drift can look like a level shift)
    level = _past_rolling(pd.Series(y - expected, index=series.index), steps_per_day // 2, "median")
    return pd.Series(expected + level.fillna(0.0).to_numpy(), index=series.index)


def _spread_floor(series: pd.Series) -> float:
    """The least spread a score divides by: a share of the series' own 3%-97% range, so the
    quiet hours of a counter (zeros and ones at night) do not turn every small change
    into many "standard deviations". Not the 1%-99% range: one flood in the month made a
    stream gauge's floor so wide that its spikes and drifts went unseen."""
    values = series.dropna().to_numpy(dtype=float)
    span = float(np.quantile(values, 0.97) - np.quantile(values, 0.03)) if len(values) else 0.0
    return max(SPREAD_FLOOR_SHARE * span, 1e-6)


def robust_z(series: pd.Series, expected: pd.Series, *, window: int) -> pd.Series:
    """Residual against ``expected`` in robust standard deviations of the past ``window`` residuals."""
    residual = series - expected
    center = _past_rolling(residual, window, "median")
    spread = _past_rolling((residual - center).abs(), window, "median") * MAD_SCALE
    return residual / spread.clip(lower=_spread_floor(series))


def tail_scale(
    z: pd.Series,
    *,
    steps_per_day: int,
    usual_peak_z: float,
    days: int = 7,
    quantile: float = 1.0,
    of_days: float = 0.5,
) -> np.ndarray:
    """How much heavier than usual a series' tails are, at each point: the ``of_days``
    quantile (0.5, the median) of the largest absolute score (or its ``quantile``) of each
    of the ``days`` whole days before it, over ``usual_peak_z`` (never below 1; 1 through
    the first day). Above the median, a series that bursts on most days but not all
    (a disk written every few nights) is judged against its burst days.

    A server's CPU that spikes to 100 every night, a disk written in bursts: their robust
    scores reach tens of robust sd every day, and a fixed threshold would alarm every day.
    Dividing the score by this scale judges each series against its own daily extremes;
    a series of well-behaved city sensors (daily peaks of 1 to 3 robust sd) keeps a scale of 1.
    """
    values = np.abs(np.nan_to_num(z.to_numpy(dtype=float), nan=0.0))
    n = len(values)
    whole = n // steps_per_day
    scale = np.ones(n)
    if whole < 1:
        return scale
    peaks = np.quantile(values[: whole * steps_per_day].reshape(whole, steps_per_day), quantile, axis=1)
    for day in range(1, whole + 1):
        usual = float(np.quantile(peaks[max(0, day - days) : day], of_days))
        scale[day * steps_per_day : (day + 1) * steps_per_day] = max(1.0, usual / usual_peak_z)
    return scale


def point_spikes(series: pd.Series, *, steps_per_day: int, threshold: float, usual_peak_z: float) -> np.ndarray:
    """Single reports far from both their neighbours, against how far the series' reports
    usually are from theirs (robust, over the day before): a river gauge's one wild reading
    is tiny beside the day's flood range but huge beside its smooth neighbours.

    A point needs a neighbour on each side (the newest report waits for the next); the
    score is judged against the series' own daily extremes, as ``tail_scale`` does.
    """
    y = series.to_numpy(dtype=float)
    n = len(y)
    if n < 5:
        return np.zeros(n, dtype=bool)
    around = np.full((4, n), np.nan)
    for row, lag in enumerate((-2, -1, 1, 2)):
        if lag < 0:
            around[row, -lag:] = y[:lag]
        else:
            around[row, :-lag] = y[lag:]
    both_sides = np.isfinite(around[1]) & np.isfinite(around[2])
    with np.errstate(all="ignore"):
        reference = _median_of_votes(around)
        gap = y - reference
        sides = np.minimum(np.abs(y - around[1]), np.abs(y - around[2]))  # far from both, not just one
    steps = np.abs(np.diff(y))
    steps = steps[np.isfinite(steps) & (steps > 0)]
    floor = float(np.median(steps)) if steps.size else 1e-6
    spread = _past_rolling(pd.Series(np.abs(gap)), steps_per_day, "median").to_numpy() * MAD_SCALE
    score = pd.Series(np.minimum(np.abs(gap), sides) / np.maximum(np.nan_to_num(spread, nan=floor), floor))
    score = score / tail_scale(score, steps_per_day=steps_per_day, usual_peak_z=usual_peak_z)
    return np.asarray((score > threshold).to_numpy() & both_sides & np.isfinite(y))


def records(
    series: pd.Series, *, steps_per_day: int, margin: float, days: int, settled_days: float = 0.0
) -> np.ndarray:
    """Reports beyond anything the series reported before, by more than ``margin`` of its
    reach (how far its earlier extreme lies from its earlier median), once it has ``days``
    of history: a server's CPU at a height it never touched, a road slower than any rush hour.

    A young series has not yet met its own extremes: before ``settled_days`` of history the
    margin is wider in proportion (three times as wide at a third of it).

    The seasonal score judges a point against the same hours of earlier days and divides
    by the series' own daily extremes, so a series with wild habits hides a new extreme
    among them; a value outside the whole of its history is news whatever the hour.
    """
    y = series.to_numpy(dtype=float)
    past = pd.Series(y).shift(1).expanding(min_periods=days * steps_per_day)
    highest, lowest, middle = (past.max().to_numpy(), past.min().to_numpy(), past.median().to_numpy())
    history_days = np.maximum(np.arange(len(y)), 1) / steps_per_day
    needed = margin * np.maximum(1.0, settled_days / history_days)
    with np.errstate(all="ignore"):
        above = (y - highest) / (highest - middle)
        below = (lowest - y) / (middle - lowest)
    return np.asarray(np.nan_to_num(np.fmax(above, below), nan=0.0, posinf=0.0) > needed)


def breaches(z: pd.Series, *, threshold: float) -> pd.Series:
    return z.abs() > threshold


def cusum(z: pd.Series, *, k: float, h: float) -> pd.Series:
    """True while a two-sided CUSUM of ``z`` (slack ``k``) is above ``h``; resets when it falls back."""
    values = np.nan_to_num(z.to_numpy(dtype=float), nan=0.0)
    values = np.clip(values, -h / 2, h / 2)  # a run of strong points raises the alarm, not one wild point
    high = low = 0.0
    cap = 2 * h  # so the alarm clears a few steps after the series is back to normal
    out = np.zeros(len(values), dtype=bool)
    for i, v in enumerate(values.tolist()):  # Python floats and plain comparisons: 3x quicker
        high += v - k
        if high < 0.0:
            high = 0.0
        elif high > cap:
            high = cap
        low -= v + k
        if low < 0.0:
            low = 0.0
        elif low > cap:
            low = cap
        if high > h or low > h:
            out[i] = True
    return pd.Series(out, index=z.index)


def noise_bursts(z: pd.Series, *, window: int, ratio: float) -> pd.Series:
    """Where the median absolute robust score over ``window`` points is ``ratio`` or more:
    a stretch much noisier than usual, even if no single point breaches (and one wild
    point is not a burst)."""
    typical = z.abs().rolling(window, min_periods=max(2, window // 2)).median()
    return typical > ratio


def bucket_outliers(mean: pd.Series, low: pd.Series, high: pd.Series, *, threshold: float, window: int) -> pd.Series:
    """Buckets whose highest or lowest report is far from the bucket's mean, compared with
    how far they usually are: a single wild report among many in a bucket."""
    reach = pd.concat([high - mean, mean - low], axis=1).max(axis=1)
    center = _past_rolling(reach, window, "median")
    spread = _past_rolling((reach - center).abs(), window, "median") * MAD_SCALE
    flagged: pd.Series = ((reach - center) / spread.clip(lower=_spread_floor(mean))) > threshold
    return flagged


def stuck(series: pd.Series, *, min_steps: int = 12) -> pd.Series:
    """True on runs of at least ``min_steps`` identical consecutive values of a varying series."""
    values = series.dropna()
    if values.nunique() <= 1:
        return pd.Series(False, index=series.index)
    run_id = (values != values.shift()).cumsum()
    run_len = values.groupby(run_id).transform("size")
    return (run_len >= min_steps).reindex(series.index, fill_value=False)


def cadence_steps(series: pd.Series) -> int:
    """How many steps apart the series usually reports: the median gap between reports
    (1 for a sensor that fills every step). Irregular senders are judged by their own rhythm."""
    present = np.flatnonzero(series.notna().to_numpy())
    if len(present) < 3:
        return 1
    return max(1, int(np.median(np.diff(present))))


def dropouts(series: pd.Series, *, min_steps: int) -> pd.Series:
    """True on runs of at least ``min_steps`` missing points after the first report."""
    missing = series.isna()
    seen = series.notna().cummax()
    run_id = (missing != missing.shift()).cumsum()
    run_len = missing.groupby(run_id).transform("size")
    return missing & seen & (run_len >= min_steps)


def _unusual_repeats(runs: pd.Series, series: pd.Series, steps_per_day: int) -> pd.Series:
    """Keep the repeated runs during which the same hours of an earlier day kept changing.

    Street lights at full power all night and footfall at zero before dawn repeat every
    day; a meter frozen at 11 through a busy afternoon does not.
    """
    # the same hours a week earlier, or a day earlier where no week back is there yet
    earlier = series.shift(7 * steps_per_day)
    earlier = earlier.where(earlier.notna().to_numpy(), series.shift(steps_per_day))
    changing = (earlier.diff().abs() > 0).to_numpy()
    known = earlier.notna().to_numpy()
    counts = series.value_counts()
    common = counts.index[counts > 0.05 * len(series)]  # a counter's zero, a light's off: never "stuck"
    values = series.dropna().to_numpy(dtype=float)
    # with no earlier day to compare (a series' first day), its own habit: a sensor whose
    # reports almost never repeat the one before does not hold one value for half an hour
    rarely_repeats = len(values) > 1 and float(np.mean(values[1:] == values[:-1])) < 0.05
    # a run at the series' own ceiling or floor is a sensor at the end of its range
    # (humidity at 100% through a foggy night, a full car park), not a frozen one
    bounds = (float(np.max(values)), float(np.min(values))) if len(values) else ()
    keep = np.zeros(len(series), dtype=bool)
    for a, b in _runs(runs.to_numpy(dtype=bool), 0):
        seen = known[a : b + 1]
        if series.iloc[a] in common or float(series.iloc[a]) in bounds:
            continue
        compared = seen.sum() >= 2 and changing[a : b + 1][seen].mean() >= 0.5
        if compared or (seen.sum() < 2 and rarely_repeats):
            keep[a : b + 1] = True
    return pd.Series(keep, index=series.index)


def _runs(mask: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """(first, last) index pairs of True runs, joining runs separated by at most ``gap`` False."""
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > gap + 1)
    starts = np.concatenate([[idx[0]], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks], [idx[-1]]])
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


def _duration(start: pd.Timestamp, end: pd.Timestamp, step: pd.Timedelta) -> str:
    minutes = round((end - start + step).total_seconds() / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def _stuck_words(value: float, start: pd.Timestamp, end: pd.Timestamp, step: pd.Timedelta) -> str:
    return f"value stuck at {value:g} for {_duration(start, end, step)}"


def classify(residual: np.ndarray, *, spike_max_steps: int) -> str:
    """The kind of a flagged stretch, from the shape of its residuals."""
    r = residual[~np.isnan(residual)]
    if len(r) <= spike_max_steps:
        return "spike"
    largest = np.sort(np.abs(r))
    if largest[-1] > 4.0 * largest[-2]:  # one report far beyond the rest of its stretch (the rest only
        return "spike"  # flagged by the cumulative sum around it, or across a gap in the reports)
    flips = float(np.mean(np.sign(r[1:]) != np.sign(r[:-1])))
    if flips > 0.3:  # noise swings both ways from one report to the next; shifts and drifts do not
        return "noise_burst"
    if len(r) >= 6:
        slope, _intercept = np.polyfit(np.arange(len(r)), r, 1)
        rise = slope * (len(r) - 1)
        # a drift grows through its stretch; a level shift stays where it jumped to
        if np.sign(rise) == np.sign(np.mean(r)) and abs(rise) > 0.6 * abs(float(np.mean(r))):
            return "drift"
    return "level_shift"


def detect(
    series: pd.Series,
    *,
    steps_per_day: int,
    thresholds: Thresholds | None = None,
    common_z: pd.Series | None = None,
    extremes: tuple[pd.Series, pd.Series] | None = None,
    scored: tuple[pd.Series, pd.Series] | None = None,
    timezone: str | None = None,
) -> list[Episode]:
    """Every episode in a regular series (NaN = expected report missing), oldest first.

    ``common_z``: the score shared by every series of the same metric at each time (see
    ``common_scores``); it is taken off this series' score, so a change the whole city
    sees at once (yellow dust, a rain storm) is weather, not a faulty sensor.
    ``extremes``: the lowest and highest report in each bucket when a bucket averages
    several reports, so one wild report is not averaged away (see ``bucket_outliers``).
    ``scored``: this series' ``scores`` when the caller has them already.
    ``timezone``: the city's, for working days and weekends (see ``baseline``).
    """
    t = thresholds or Thresholds()
    if len(series) < 3:
        return []
    step = pd.Timedelta(series.index[1] - series.index[0])
    out: list[Episode] = []
    every = cadence_steps(series)  # the series' own rhythm: a sensor reporting every 15 min is not
    gone = dropouts(series, min_steps=max(t.dropout_min_steps, 2 * every))  # silent between reports
    for a, b in _runs(gone.to_numpy(), 0):
        start, end = series.index[a], series.index[b]
        usual = _duration(start, start + (every - 1) * step, step)
        words = f"no reports for {_duration(start, end, step)} (expected every {usual})"
        out.append(Episode(start, end, "dropout", round((b - a + 1) / max(t.dropout_min_steps, 1), 2), words))
    expected, z = scored if scored is not None else scores(series, steps_per_day=steps_per_day, timezone=timezone)
    frozen = _unusual_repeats(stuck(series, min_steps=t.stuck_min_steps), series, steps_per_day)
    for a, b in _runs(frozen.to_numpy(), 0):
        words = _stuck_words(float(series.iloc[a]), series.index[a], series.index[b], step)
        out.append(Episode(series.index[a], series.index[b], "stuck", round((b - a + 1) / t.stuck_min_steps, 2), words))
    if common_z is not None:
        z = z - common_z.reindex(z.index).fillna(0.0)
    # points are judged against the series' own daily extremes, stretches against its
    # ordinary days (a server's nightly spikes must not hide a sustained change)
    sustained = z / tail_scale(
        z, steps_per_day=steps_per_day, usual_peak_z=t.usual_body_z, quantile=0.95, of_days=t.tail_of_days
    )
    z = z / tail_scale(z, steps_per_day=steps_per_day, usual_peak_z=t.usual_peak_z, of_days=t.tail_of_days)
    flags = breaches(z, threshold=t.breach_z) | cusum(sustained, k=t.cusum_k, h=t.cusum_h)
    flags |= noise_bursts(sustained, window=t.noise_window, ratio=t.noise_ratio)
    wild = np.zeros(len(series), dtype=bool)
    if extremes is not None:
        wild = bucket_outliers(series, *extremes, threshold=t.breach_z, window=steps_per_day).to_numpy().copy()
        flags |= wild
    lone = point_spikes(series, steps_per_day=steps_per_day, threshold=t.point_z, usual_peak_z=t.usual_peak_z)
    wild |= lone
    flags |= lone
    unseen = records(
        series, steps_per_day=steps_per_day, margin=t.record_margin, days=t.record_days,
        settled_days=t.record_settled_days,
    )  # fmt: skip
    if common_z is not None:  # a record the whole city's sensors of the metric set together is weather
        unseen &= ~(common_z.reindex(series.index).abs() > 2.0).to_numpy()
    wild |= unseen
    flags |= unseen
    flags &= ~frozen & series.notna()
    residual = (series - expected).to_numpy(dtype=float)
    zs = z.to_numpy(dtype=float)
    stretches: list[tuple[int, int, float]] = []
    for a, b in _runs(flags.to_numpy(), t.merge_gap_steps):
        peak_z = float(np.max(np.abs(np.nan_to_num(zs[a : b + 1]))))
        if peak_z < t.min_peak_z and not wild[a : b + 1].any():
            continue  # a long, mild wander (weather one sensor feels more): not worth an alarm
        stretches.append((a, b, peak_z))
    folded = _fold_aftershocks(stretches, gap_steps=int(t.aftershock_hours * steps_per_day / 24))
    for a, b, peak_z in _drop_recurring(folded, residual, steps_per_day=steps_per_day, days=t.recurring_days):
        chunk = residual[a : b + 1]
        if not np.isfinite(chunk).any():  # no expectation yet (a series' first day): against its median so far
            chunk = (series.iloc[a : b + 1] - float(series.iloc[: b + 1].median())).to_numpy(dtype=float)
        young = not np.isfinite(zs[a : b + 1]).any()  # no spread learnt to score it by
        kind = classify(chunk, spike_max_steps=t.spike_max_steps)
        worst = int(np.nanargmax(np.abs(chunk)))
        value = float(series.iloc[a + worst])
        typical = value - float(chunk[worst])
        severity = round(peak_z, 2)
        against = (
            f"against an expected {typical:.4g} ({value - typical:+.3g}; too little history to score it)"
            if young
            else f"against an expected {typical:.4g} ({value - typical:+.3g}, {severity:g} robust sd)"
        )
        lasting = _duration(series.index[a], series.index[b], step)
        words = f"{kind.replace('_', ' ')}: {value:.4g} {against} over {lasting}"
        out.append(Episode(series.index[a], series.index[b], kind, severity, words))
    return sorted(out, key=lambda e: (e.start, e.kind))


def _drop_recurring(
    stretches: list[tuple[int, int, float]], residual: np.ndarray, *, steps_per_day: int, days: int
) -> list[tuple[int, int, float]]:
    """The stretches less those that begin at the time of day (within half an hour) stretches
    moving the same way began on two or more of the ``days`` before: a pump that starts
    every evening, a weekly delivery, a nightly backup are the series' own habits, alarmed
    the first times and not again. (One earlier match is not a habit: with a few episodes a
    fortnight, a new fault would share a time of day with an old one too often.)"""
    tolerance = max(1, steps_per_day // 48)
    out: list[tuple[int, int, float]] = []
    seen: list[tuple[int, float]] = []  # (start, direction) of every earlier stretch
    for a, b, peak in stretches:
        part = residual[a : b + 1]
        direction = float(np.sign(np.nanmean(part))) if np.isfinite(part).any() else 0.0
        recurring = (
            sum(
                0 < a - start <= days * steps_per_day
                and min((a - start) % steps_per_day, -(a - start) % steps_per_day) <= tolerance
                and sign == direction
                for start, sign in seen
            )
            >= 2
        )
        seen.append((a, direction))
        if not recurring:
            out.append((a, b, peak))
    return out


def _fold_aftershocks(stretches: list[tuple[int, int, float]], *, gap_steps: int) -> list[tuple[int, int, float]]:
    """Fold a flagged stretch into the one before when it begins within ``gap_steps`` of its
    end and is no stronger: the tremors after a disturbance are part of it, one alarm
    (a stronger one is news, and stays its own)."""
    out: list[tuple[int, int, float]] = []
    for a, b, peak in stretches:
        if out and a - out[-1][1] <= gap_steps and peak <= out[-1][2]:
            first, _, strongest = out[-1]
            out[-1] = (first, b, strongest)
        else:
            out.append((a, b, peak))
    return out


def scores(
    series: pd.Series, *, steps_per_day: int, outlier_z: float = 12.0, timezone: str | None = None
) -> tuple[pd.Series, pd.Series]:
    """The expected value of each point (``baseline``) and its robust score (``robust_z``).

    Two passes: the points scoring beyond ``outlier_z`` in the first (and their
    neighbours) are left out of the earlier days the second reads, so last week's fault
    does not become this week's expectation.
    """
    expected = baseline(series, steps_per_day=steps_per_day, timezone=timezone)
    z = robust_z(series, expected, window=steps_per_day)
    outliers = widened((z.abs() > outlier_z).to_numpy())
    if outliers.any():
        reference = series.where(~outliers)
        expected = baseline(series, steps_per_day=steps_per_day, reference=reference, timezone=timezone)
        z = robust_z(series, expected, window=steps_per_day)
    return expected, z


def median_score(zs: dict[str, pd.Series], *, min_series: int = 3) -> pd.Series | None:
    """The median of robust scores on one time grid (0 where fewer than ``min_series`` have a
    score), or None when fewer than ``min_series`` series are given.

    The median of several independent sensors is near zero unless something moved them all.
    """
    if len(zs) < min_series:
        return None
    frame = pd.DataFrame(zs)
    # where fewer sensors have reported (the bucket being filled now), the "median" would be
    # one sensor's own score, and its anomaly would be taken off as if the city had it
    present = frame.notna().sum(axis=1)
    return frame.median(axis=1, skipna=True).where(present >= min_series, 0.0)


def common_scores(group: dict[str, pd.Series], *, steps_per_day: int, min_series: int = 3) -> pd.Series | None:
    """The median robust score across series of one metric at each time, or None if too few.

    Series must share their time grid (see ``median_score``).
    """
    zs = {key: scores(s, steps_per_day=steps_per_day)[1] for key, s in group.items()}
    return median_score(zs, min_series=min_series)


def episodes(flags: pd.Series, series: pd.Series, *, kind: str, max_gap: int = 1) -> list[Episode]:
    """Merge flagged points of one detector into episodes of ``kind`` (see ``detect`` for all)."""
    step = pd.Timedelta(series.index[1] - series.index[0]) if len(series) > 1 else pd.Timedelta(0)
    baseline_value = float(series.median())
    spread = float(series.std()) or 1.0
    out = []
    for a, b in _runs(flags.reindex(series.index, fill_value=False).to_numpy(dtype=bool), max_gap):
        chunk = series.iloc[a : b + 1]
        peak = float(chunk.iloc[int(np.argmax(np.abs(chunk.to_numpy() - baseline_value)))])
        if kind == "stuck":
            words = _stuck_words(peak, series.index[a], series.index[b], step)
        else:
            words = f"{kind}: {peak:g} against a typical {baseline_value:g}"
        out.append(
            Episode(series.index[a], series.index[b], kind, round(abs(peak - baseline_value) / spread, 2), words)
        )
    return out
