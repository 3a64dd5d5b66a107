import { BallastError } from '@ballast/core';
import type { DriftResult, FeatureDriftResult } from './monitor-types.js';

/** Options of {@link renderDriftReport}. */
export interface DriftReportOptions {
  /** Page title. Default `Drift report: <monitor>`. */
  title?: string;
  /** A line under the title (data source, period). */
  subtitle?: string;
}

/** The JSON report: the window result with features sorted drifted first. */
export interface DriftReport {
  /** Page title. */
  title: string;
  /** Line under the title. */
  subtitle?: string;
  /** Monitor name. */
  monitor: string;
  /** ISO time of the evaluation. */
  evaluatedAt: string;
  /** Rows in the window. */
  windowRows: number;
  /** Dataset-level verdict. */
  datasetDrift: boolean;
  /** Share of tested features that drifted. */
  share: number;
  /** Share at which the dataset counts as drifted. */
  driftShare: number;
  /** Multiple-testing correction used. */
  correction: string;
  /** Per-feature results, drifted first. */
  features: FeatureDriftResult[];
}

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

function formatNumber(x: number | undefined): string {
  if (x === undefined) return '–';
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const abs = Math.abs(x);
  return abs < 0.001 || abs >= 1e6 ? x.toExponential(2) : x.toPrecision(3);
}

/** Inline SVG: grouped bars of reference and current shares per bin. */
function chart(feature: FeatureDriftResult): string {
  const { labels, reference, current } = feature.histogram;
  const width = 510;
  const height = 190;
  const left = 40;
  const bottom = 40;
  const top = 12;
  const plotWidth = width - left - 10;
  const plotHeight = height - top - bottom;
  const max = Math.max(0.0001, ...reference, ...current);
  const bins = Math.max(1, labels.length);
  const slot = plotWidth / bins;
  const bar = Math.max(1, slot * 0.4);
  const parts: string[] = [];
  for (let i = 0; i < labels.length; i++) {
    const x = left + i * slot + slot * 0.1;
    const hr = ((reference[i] ?? 0) / max) * plotHeight;
    const hc = ((current[i] ?? 0) / max) * plotHeight;
    parts.push(
      `<rect class="reference" x="${x.toFixed(1)}" y="${(top + plotHeight - hr).toFixed(1)}" width="${bar.toFixed(1)}" height="${hr.toFixed(1)}"><title>reference ${escapeHtml(labels[i] as string)}: ${formatNumber(reference[i])}</title></rect>`,
      `<rect class="current" x="${(x + bar).toFixed(1)}" y="${(top + plotHeight - hc).toFixed(1)}" width="${bar.toFixed(1)}" height="${hc.toFixed(1)}"><title>current ${escapeHtml(labels[i] as string)}: ${formatNumber(current[i])}</title></rect>`,
    );
    const every = Math.ceil(bins / 8);
    if (i % every === 0) {
      parts.push(
        `<text x="${(x + bar).toFixed(1)}" y="${height - bottom + 14}" text-anchor="middle">${escapeHtml(labels[i] as string)}</text>`,
      );
    }
  }
  return [
    `<svg class="chart" role="img" aria-label="${escapeHtml(feature.feature)} reference vs current" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">`,
    `<line x1="${left}" y1="${top + plotHeight}" x2="${width - 10}" y2="${top + plotHeight}" stroke="#999"/>`,
    `<text x="4" y="${top + 8}">${formatNumber(max)}</text><text x="4" y="${top + plotHeight}">0</text>`,
    ...parts,
    '</svg>',
  ].join('');
}

/*
 * Bar colours, written once for the chart's CSS and the legend so the two cannot disagree:
 * current shares are blue, and red in the card of a drifted feature.
 */
const COLORS = { reference: '#9aa5b1', current: '#1a73e8', currentDrifted: '#d93025' } as const;

function sortFeatures(features: readonly FeatureDriftResult[]): FeatureDriftResult[] {
  return [...features].sort((a, b) => Number(b.drifted) - Number(a.drifted));
}

/**
 * Renders a window result as one self-contained HTML page (inline CSS and SVG, no script, no
 * network): per feature a histogram of reference vs current shares, the test, statistic, p-value,
 * threshold and verdict, drifted features first and highlighted; and the same facts as JSON.
 *
 * @example
 * const { html, json } = renderDriftReport(monitor.check(rows2014), { subtitle: 'summer 2014' });
 * await writeFile('drift.html', html);
 */
export function renderDriftReport(result: DriftResult, options: DriftReportOptions = {}): { html: string; json: DriftReport } {
  if (result === null || typeof result !== 'object' || !Array.isArray(result.features)) {
    throw new BallastError('INVALID_INPUT', 'renderDriftReport needs a DriftResult');
  }
  const title = options.title ?? `Drift report: ${result.monitor}`;
  const features = sortFeatures(result.features);
  const json: DriftReport = {
    title,
    ...(options.subtitle === undefined ? {} : { subtitle: options.subtitle }),
    monitor: result.monitor,
    evaluatedAt: new Date(result.at).toISOString(),
    windowRows: result.windowRows,
    datasetDrift: result.datasetDrift,
    share: result.share,
    driftShare: result.driftShare,
    correction: result.correction,
    features,
  };
  const cards = features.map((f) => {
    const verdict = f.status === 'missing' ? 'all values missing' : f.status !== 'ok' ? 'not tested' : f.drifted ? 'drift' : 'no drift';
    const pValue = f.pValue === undefined ? '' : `<dt>p-value</dt><dd>${formatNumber(f.pValue)}</dd>`;
    return `<section class="feature${f.drifted ? ' drifted' : ''}" data-feature="${escapeHtml(f.feature)}" data-drifted="${f.drifted}">
<h2>${escapeHtml(f.feature)} <span class="badge">${verdict}</span></h2>
<dl><dt>test</dt><dd>${escapeHtml(f.test)}</dd><dt>statistic</dt><dd>${formatNumber(f.statistic)}</dd>${pValue}<dt>threshold</dt><dd>${formatNumber(f.threshold)}</dd><dt>values</dt><dd>${f.windowSize}${f.dropped ? ` (${f.dropped} dropped)` : ''}</dd></dl>
${chart(f)}
</section>`;
  });
  const drifted = features.filter((f) => f.drifted).length;
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}
header{margin-bottom:16px}h1{font-size:22px;margin:0 0 4px}
.summary{padding:10px 14px;border-radius:6px;background:#e8f4ea;border:1px solid #9ccaa5;display:inline-block}
.summary.drift{background:#fdecea;border-color:#e0867c}
.grid{display:flex;flex-wrap:wrap;gap:16px;margin-top:16px}
.feature{box-sizing:border-box;background:#fff;border:1px solid #ddd;border-radius:8px;padding:12px 14px;width:548px}
.feature.drifted{border:3px solid #d93025;background:#fff6f5}
.feature h2{font-size:16px;margin:0 0 6px}
.badge{font-size:12px;padding:2px 8px;border-radius:10px;background:#e6e6e6;vertical-align:middle}
.drifted .badge{background:#d93025;color:#fff}
dl{display:grid;grid-template-columns:auto 1fr auto 1fr;gap:2px 10px;margin:0 0 6px}dt{color:#666}dd{margin:0}
.chart text{font-size:10px;fill:#555}.chart .reference{fill:${COLORS.reference}}.chart .current{fill:${COLORS.current}}.drifted .chart .current{fill:${COLORS.currentDrifted}}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}
</style></head>
<body><header><h1>${escapeHtml(title)}</h1>${options.subtitle === undefined ? '' : `<div>${escapeHtml(options.subtitle)}</div>`}
<p class="summary${result.datasetDrift ? ' drift' : ''}" data-dataset-drift="${result.datasetDrift}">${result.datasetDrift ? 'Dataset drift' : 'No dataset drift'}: ${drifted} of ${features.length} features drifted (share ${formatNumber(result.share)}, threshold ${formatNumber(result.driftShare)}); ${result.windowRows} rows; correction ${escapeHtml(result.correction)}; evaluated ${escapeHtml(json.evaluatedAt)}</p>
<div class="legend"><span class="reference" style="background:${COLORS.reference}"></span>reference<span class="current" style="background:${COLORS.current}"></span>current<span class="current-drifted" style="background:${COLORS.currentDrifted}"></span>current, drifted feature</div></header>
<main class="grid">
${cards.join('\n')}
</main></body></html>
`;
  return { html, json };
}
