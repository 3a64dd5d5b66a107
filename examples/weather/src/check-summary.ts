/**
 * Checks a demo run from its JSON summary (CI runs `pnpm demo --quick` and then this):
 * every request settled; the fallback served during the fault phase; the breaker opened and
 * closed again; drift was reported for a season of 2014–2015 and not for the control window
 * drawn from the reference period, and every drifted window has its HTML report, linked from the
 * summary, showing that window's drifted features; the Prometheus endpoint returned the Ballast series.
 *
 *   tsx src/check-summary.ts [path/to/summary.json]
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

interface Summary {
  requests: { sent: number; settled: number; ok: number; byStatus: Record<string, number> };
  breaker: { opened: number; closed: number; finalState: string };
  fallback: { served: number; byPhase: Record<string, number> };
  drift: {
    control: { rows: number; driftedFeatures: string[] } | null;
    driftedWindows: number;
    windows: { driftedFeatures: string[]; report?: string }[];
  };
  prometheus: { ballastSeries: string[] };
}

const path = process.argv[2] ?? join(import.meta.dirname, '..', 'out', 'summary.json');
const summary = JSON.parse(readFileSync(path, 'utf8')) as Summary;
const driftedWindows = summary.drift.windows.filter((w) => w.driftedFeatures.length > 0);
/** The features a report page marks as drifted, or undefined when the page is missing. */
function driftedInReport(report: string | undefined): string[] | undefined {
  if (report === undefined) return undefined;
  const file = join(dirname(path), report);
  if (!existsSync(file)) return undefined;
  const html = readFileSync(file, 'utf8');
  return [...html.matchAll(/data-feature="([^"]*)" data-drifted="true"/g)].map((m) => m[1] as string).sort();
}
const unreported = driftedWindows.filter(
  (w) => JSON.stringify(driftedInReport(w.report)) !== JSON.stringify([...w.driftedFeatures].sort()),
);
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
    'every drifted window has its report, linked from the summary, showing its drifted features',
    driftedWindows.length === summary.drift.driftedWindows && unreported.length === 0,
    `${driftedWindows.length - unreported.length} of ${driftedWindows.length} reports${unreported.length > 0 ? `; missing or wrong: ${unreported.map((w) => w.report ?? '(no link)').join(', ')}` : ''}`,
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
