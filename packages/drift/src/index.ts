/** @packageDocumentation Drift detection: scipy-exact statistical tests, reference profiles, streaming monitors, online detectors and reports */
export {};
