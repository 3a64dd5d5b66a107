/**
 * Checks a demo run from its JSON summary (CI runs `pnpm demo --quick` and then this):
 * every request settled; the fallback served during the fault phase; the breaker opened and
 * closed again; drift was reported for a season of 2014–2015 and not for the control window
 * drawn from the reference period, and every drifted window has its HTML report, linked from the
 * summary, showing that window's drifted features; the Prometheus endpoint returned the Ballast series;
 * with two replicas sharing Redis, an input computed on one was answered from the cache by the
 * other, a burst over both was admitted about once by the global rate limit (not once per
 * replica), and a key revoked on one replica was refused by the other. Without redis-server the
 * scale-out part is skipped and reported; in CI (`CI` set) that is a failure.
 *
 *   tsx src/check-summary.ts [path/to/summary.json]
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ScaleOutSummary } from './scale-out.js';

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
  scaleOut?: ScaleOutSummary;
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
const scaleOut = summary.scaleOut;
if (scaleOut === undefined || !scaleOut.ran) {
  const reason = scaleOut === undefined ? 'no scaleOut section in the summary' : scaleOut.reason;
  if (process.env.CI) checks.push(['the scale-out part ran (CI installs redis-server)', false, reason]);
  else console.log(`skip scale-out checks (${reason})`);
} else {
  const repeatsOnly = Object.entries(scaleOut.cache.byReplica).find(([, r]) => r.firsts === 0 && r.repeats > 0);
  const limit = scaleOut.rateLimit;
  const admittedOn = Object.keys(limit.admittedByReplica).filter((name) => (limit.admittedByReplica[name] ?? 0) > 0);
  const after = Object.entries(scaleOut.keys.firstAfter);
  checks.push(
    [
      'scale-out: every repeat went to the other replica, and answered the same',
      scaleOut.cache.repeatedOnOtherReplica === scaleOut.cache.inputs && scaleOut.cache.identicalAnswers === scaleOut.cache.inputs,
      `${scaleOut.cache.repeatedOnOtherReplica} of ${scaleOut.cache.inputs} on the other replica, ${scaleOut.cache.identicalAnswers} identical`,
    ],
    [
      'scale-out: inputs computed on one replica were answered from the shared cache by the other',
      repeatsOnly !== undefined && repeatsOnly[1].remoteRequests === 0 && scaleOut.cache.sharedHits === scaleOut.cache.inputs,
      repeatsOnly === undefined
        ? `no replica served only repeats: ${JSON.stringify(scaleOut.cache.byReplica)}`
        : `${repeatsOnly[0]}: ${scaleOut.cache.sharedHits} of ${scaleOut.cache.inputs} repeats answered without a request to the model (${repeatsOnly[1].hits} cache hits)`,
    ],
    [
      'scale-out: the burst over both replicas was admitted once by the global limit, not once per replica',
      admittedOn.length === scaleOut.replicas &&
        limit.admitted >= limit.policy.burst * 0.9 &&
        limit.admitted <= limit.allowance * 1.1 + 2 &&
        limit.refused > 0 &&
        Object.keys(limit.otherStatuses).length === 0,
      `${limit.admitted} admitted (${JSON.stringify(limit.admittedByReplica)}), ${limit.refused} refused of ${limit.sent} in ${limit.seconds} s; one limit allows ${limit.allowance}, one per replica ${2 * limit.allowance}${Object.keys(limit.otherStatuses).length > 0 ? `; other answers ${JSON.stringify(limit.otherStatuses)}` : ''}`,
    ],
    [
      'scale-out: a key revoked on one replica was refused by every replica',
      Object.keys(scaleOut.keys.acceptedBefore).length === scaleOut.replicas &&
        after.length === scaleOut.replicas &&
        after.every(([, a]) => a.status === 401) &&
        Object.keys(scaleOut.keys.acceptedAfter).length === 0,
      `accepted before on ${Object.keys(scaleOut.keys.acceptedBefore).join(', ')}; revoked on ${scaleOut.keys.revokedOn}; after: ${after
        .map(([name, a]) => `${name} ${a.status} ${a.code ?? ''} at ${a.afterMs} ms`)
        .join(', ')}`,
    ],
  );
}
let failed = 0;
for (const [name, passed, detail] of checks) {
  console.log(`${passed ? 'ok  ' : 'FAIL'} ${name} (${detail})`);
  if (!passed) failed++;
}
console.log(`${checks.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
