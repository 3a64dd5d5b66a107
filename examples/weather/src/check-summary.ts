/**
 * Checks a demo run from its JSON summary (CI runs `pnpm demo --quick` and then this):
 * every request settled; the fallback served during the fault phase; the breaker opened and
 * closed again; drift was reported for a season of 2014–2015 and not for the control window
 * drawn from the reference period; the Prometheus endpoint returned the Ballast series.
 *
 *   tsx src/check-summary.ts [path/to/summary.json]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

interface Summary {
  requests: { sent: number; settled: number; ok: number; byStatus: Record<string, number> };
  breaker: { opened: number; closed: number; finalState: string };
  fallback: { served: number; byPhase: Record<string, number> };
  drift: { control: { rows: number; driftedFeatures: string[] } | null; driftedWindows: number; windows: { driftedFeatures: string[] }[] };
  prometheus: { ballastSeries: string[] };
}

const path = process.argv[2] ?? join(import.meta.dirname, '..', 'out', 'summary.json');
const summary = JSON.parse(readFileSync(path, 'utf8')) as Summary;
const faultServed = (summary.fallback.byPhase['fault:error'] ?? 0) + (summary.fallback.byPhase['fault:hang'] ?? 0);
const checks: [string, boolean, string][] = [
  ['every request settled', summary.requests.settled === summary.requests.sent, `${summary.requests.settled}/${summary.requests.sent}`],
  ['at least 99% of requests answered 200', summary.requests.ok >= 0.99 * summary.requests.sent, JSON.stringify(summary.requests.byStatus)],
  ['the fallback served during the fault phase', faultServed > 0, `${faultServed} served in the fault phase`],
  ['the breaker opened', summary.breaker.opened > 0, `opened ${summary.breaker.opened}x`],
  [
    'the breaker closed again',
    summary.breaker.closed > 0 && summary.breaker.finalState === 'closed',
    `closed ${summary.breaker.closed}x, now ${summary.breaker.finalState}`,
  ],
  [
    'the control window shows no drift',
    summary.drift.control !== null && summary.drift.control.driftedFeatures.length === 0,
    JSON.stringify(summary.drift.control),
  ],
  [
    'drift reported for a 2014–2015 season',
    summary.drift.driftedWindows > 0,
    `${summary.drift.driftedWindows} of ${summary.drift.windows.length} windows`,
  ],
  [
    'Prometheus returned the Ballast series',
    ['ballast_inference_duration_seconds', 'ballast_batch_size', 'ballast_fallbacks', 'ballast_breaker_state', 'ballast_drift'].every(
      (name) => summary.prometheus.ballastSeries.some((s) => s.startsWith(name)),
    ),
    summary.prometheus.ballastSeries.join(', '),
  ],
];
let failed = 0;
for (const [name, passed, detail] of checks) {
  console.log(`${passed ? 'ok  ' : 'FAIL'} ${name} (${detail})`);
  if (!passed) failed++;
}
console.log(`${checks.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
