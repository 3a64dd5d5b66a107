import type { Correction, FeatureDriftResult } from './monitor-types.js';

/** Benjamini-Hochberg adjusted p-values. */
function adjustFdr(p: number[]): number[] {
  const m = p.length;
  const order = p.map((_, i) => i).sort((a, b) => (p[a] as number) - (p[b] as number));
  const adjusted = new Array<number>(m);
  let running = 1;
  for (let rank = m; rank >= 1; rank--) {
    const i = order[rank - 1] as number;
    running = Math.min(running, ((p[i] as number) * m) / rank);
    adjusted[i] = Math.min(running, 1);
  }
  return adjusted;
}

/**
 * Corrects the p-values of a window's p-value tests across features (Bonferroni, Benjamini-Hochberg
 * or none) and sets each verdict: drifted when the corrected p-value is below the threshold.
 */
export function applyCorrection(results: readonly FeatureDriftResult[], correction: Correction): void {
  const tested = results.filter((r) => r.rawPValue !== undefined);
  if (tested.length === 0) return;
  const raw = tested.map((r) => r.rawPValue as number);
  const adjusted = correction === 'bonferroni' ? raw.map((p) => Math.min(1, p * raw.length)) : correction === 'fdr' ? adjustFdr(raw) : raw;
  tested.forEach((r, i) => {
    r.pValue = adjusted[i] as number;
    r.drifted = r.status === 'ok' && r.pValue < r.threshold;
  });
}
