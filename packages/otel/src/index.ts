/** @packageDocumentation OpenTelemetry traces and metrics for every Ballast inference */
export {};
