"""PressTrust health core: squared envelope, SWNSES indicators, fast kurtogram / infogram, fault
frequencies, optimised weights, healthy baselines, adaptive thresholds, ISO 10816-3 zones, press
stroke handling, a signal simulator and ML features.

Pure numpy / scipy: nothing here imports Django. Services in ``health`` turn database rows into
arrays, call these functions, and persist what comes back (``to_dict`` everywhere).
"""

from .advice import MAINTENANCE_ADVICE, Advice, maintenance_advice
from .analysis import AnalysisResult, analyze_signal, windowed_indicators
from .baseline import INDEX_INDICATOR_NAMES, HealthyBaseline, fit_healthy_baseline, robust_location_spread
from .envelope import (
    analytic_signal,
    half_rate_squared_envelope,
    normalized_ses,
    normalized_squared_envelope,
    squared_envelope,
    squared_envelope_spectrum,
)
from .faults import (
    BEARING_PRESETS,
    BearingGeometry,
    FaultFrequency,
    FaultMatch,
    SesPeak,
    bearing_fault_frequencies,
    bearing_preset,
    find_ses_peaks,
    gear_fault_frequencies,
    match_fault_frequencies,
    stroke_fault_frequencies,
)
from .features import FEATURE_NAMES, window_features
from .indicators import (
    GAUSSIAN_BASELINES,
    INDICATOR_NAMES,
    WEIGHT_FUNCTIONS,
    envelope_indicators,
    gini_weights,
    kurtosis_weights,
    negentropy_weights,
    smoothness_weights,
    swnses,
    swnses_indicators,
)
from .iso10816 import ISO_10816_3_ZONE_LIMITS_MM_S, IsoZone, iso10816_zone, velocity_rms_mm_s
from .kurtogram import Band, KurtogramResult, band_complex_envelope, fast_kurtogram
from .press import StrokeResidual, remove_stroke_synchronous_average, stroke_starts_from_rate, stroke_starts_from_trigger
from .simulate import (
    SimulatedPress,
    severity_profile,
    simulate_bearing_run,
    simulate_bearing_signal,
    simulate_press_signal,
    simulated_fault_frequency_hz,
)
from .thresholds import LEVEL_NAMES, ThresholdConfig, ThresholdDecision, ThresholdMonitor, level_for_z
from .validation import MIN_SAMPLES, SignalError, validate_signal
from .weights import blend_weights, learned_index_score, optimised_weights, weighted_index

__all__ = [
    "MAINTENANCE_ADVICE", "Advice", "maintenance_advice",
    "AnalysisResult", "analyze_signal", "windowed_indicators",
    "INDEX_INDICATOR_NAMES", "HealthyBaseline", "fit_healthy_baseline", "robust_location_spread",
    "analytic_signal", "half_rate_squared_envelope", "normalized_ses", "normalized_squared_envelope", "squared_envelope", "squared_envelope_spectrum",
    "BEARING_PRESETS", "BearingGeometry", "FaultFrequency", "FaultMatch", "SesPeak", "bearing_fault_frequencies",
    "bearing_preset", "find_ses_peaks", "gear_fault_frequencies", "match_fault_frequencies", "stroke_fault_frequencies",
    "FEATURE_NAMES", "window_features",
    "GAUSSIAN_BASELINES", "INDICATOR_NAMES", "WEIGHT_FUNCTIONS", "envelope_indicators", "gini_weights",
    "kurtosis_weights", "negentropy_weights", "smoothness_weights", "swnses", "swnses_indicators",
    "ISO_10816_3_ZONE_LIMITS_MM_S", "IsoZone", "iso10816_zone", "velocity_rms_mm_s",
    "Band", "KurtogramResult", "band_complex_envelope", "fast_kurtogram",
    "StrokeResidual", "remove_stroke_synchronous_average", "stroke_starts_from_rate", "stroke_starts_from_trigger",
    "SimulatedPress", "severity_profile", "simulate_bearing_run", "simulate_bearing_signal", "simulate_press_signal",
    "simulated_fault_frequency_hz",
    "LEVEL_NAMES", "ThresholdConfig", "ThresholdDecision", "ThresholdMonitor", "level_for_z",
    "MIN_SAMPLES", "SignalError", "validate_signal",
    "blend_weights", "learned_index_score", "optimised_weights", "weighted_index",
]
