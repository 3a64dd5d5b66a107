import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DriftMonitor } from './monitor.js';
import { createProfile } from './profile.js';
import { renderDriftReport } from './report.js';
import { normalSample } from './test-data.js';

function table(n: number, shift: number, seed: number): Record<string, unknown>[] {
  const temp = normalSample(n, 12 + shift * 6, 5, seed);
  const wind = normalSample(n, 3, 1.2, seed + 1);
  const rain = normalSample(n, 2 + shift, 1, seed + 2);
  return temp.map((t, i) => ({
    temp_max: t,
    wind: wind[i],
    precipitation: Math.max(0, rain[i] as number),
    'weather <kind>': i % 3 === 0 || (shift > 0 && i % 2 === 0) ? 'sun' : 'rain',
  }));
}

const reference = createProfile(table(700, 0, 1));
const result = new DriftMonitor({ name: 'weather', reference }).check(table(250, 1, 9));
const drifted = result.features.filter((f) => f.drifted).map((f) => f.feature);

describe('renderDriftReport', () => {
  it('returns a self-contained page and a JSON report, drifted features first', () => {
    expect(drifted.length).toBeGreaterThan(0);
    expect(drifted.length).toBeLessThan(result.features.length);
    const { html, json } = renderDriftReport(result, { subtitle: 'test window' });
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script|\bsrc=|href="http/);
    expect(html).toContain('weather &lt;kind&gt;');
    expect(html.match(/<svg class="chart"/g)).toHaveLength(result.features.length);
    expect(
      json.features
        .map((f) => f.feature)
        .slice(0, drifted.length)
        .sort(),
    ).toEqual([...drifted].sort());
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
  });
  it('has a legend entry for every colour the bars are drawn in', () => {
    const { html } = renderDriftReport(result);
    const fill = (selector: string) => new RegExp(`${selector.replace(/\./g, '\\.')}\\{fill:(#[0-9a-f]{6})\\}`).exec(html)?.[1];
    const legend = new Map(
      [...(/<div class="legend">(.*?)<\/div>/.exec(html)?.[1] ?? '').matchAll(/background:(#[0-9a-f]{6})"><\/span>([^<]+)/g)].map((m) => [
        m[1],
        m[2],
      ]),
    );
    expect(legend.get(fill('.chart .reference') as string)).toBe('reference');
    expect(legend.get(fill('}.chart .current') as string)).toBe('current');
    expect(legend.get(fill('.drifted .chart .current') as string)).toMatch(/drifted/);
  });
  it('rejects a non-result with INVALID_INPUT', () => {
    expect(() => renderDriftReport({} as never)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });
});

// Real headless Chromium (Debian's package + playwright-core). CI installs the browser, so a
// missing browser there is a failure; elsewhere the test is skipped with the reason.
/** The one browser global the page functions use (the package's types have no DOM lib). */
interface BrowserGlobals {
  getComputedStyle(element: unknown): { borderTopColor: string; fill: string; backgroundColor: string };
}

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) {
  describe('renderDriftReport in Chromium', () => {
    it('needs /usr/bin/chromium on CI', () => {
      throw new Error(`${CHROMIUM} is missing: CI must install Debian's chromium package`);
    });
  });
}
describe.skipIf(!haveChromium)(`renderDriftReport in Chromium${haveChromium ? '' : ` (skipped: ${CHROMIUM} not installed)`}`, () => {
  it('shows one chart per feature and highlights the drifted ones', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1180, height: 900 } });
      const { html } = renderDriftReport(result, {
        title: 'Drift report: weather-like features',
        subtitle: 'reference vs a shifted window',
      });
      await page.setContent(html, { waitUntil: 'load' });
      const charts = await page.locator('section.feature svg.chart').count();
      expect(charts).toBe(result.features.length);
      const order = await page
        .locator('section.feature')
        .evaluateAll((nodes) => nodes.map((n) => ({ name: n.getAttribute('data-feature'), drifted: n.classList.contains('drifted') })));
      expect(
        order
          .filter((o) => o.drifted)
          .map((o) => o.name)
          .sort(),
      ).toEqual([...drifted].sort());
      expect(order.slice(0, drifted.length).every((o) => o.drifted)).toBe(true);
      const border = await page
        .locator('section.feature.drifted')
        .first()
        .evaluate((n) => (globalThis as unknown as BrowserGlobals).getComputedStyle(n).borderTopColor);
      expect(border).toBe('rgb(217, 48, 37)');
      const calm = await page
        .locator('section.feature:not(.drifted)')
        .first()
        .evaluate((n) => (globalThis as unknown as BrowserGlobals).getComputedStyle(n).borderTopColor);
      expect(calm).not.toBe(border);
      // The legend's swatches are the colours the bars are drawn in, drifted cards included.
      const fillOf = (selector: string) =>
        page
          .locator(selector)
          .first()
          .evaluate((n) => (globalThis as unknown as BrowserGlobals).getComputedStyle(n).fill);
      const swatches = await page
        .locator('.legend span')
        .evaluateAll((nodes) =>
          nodes.map(
            (n) => [(globalThis as unknown as BrowserGlobals).getComputedStyle(n).backgroundColor, n.nextSibling?.textContent] as const,
          ),
        );
      const legend = new Map(swatches);
      expect(legend.get(await fillOf('section.feature:not(.drifted) rect.current'))).toBe('current');
      expect(legend.get(await fillOf('section.feature.drifted rect.current'))).toMatch(/drifted/);
      expect(legend.get(await fillOf('section.feature rect.reference'))).toBe('reference');
      const box = await page.locator('section.feature svg.chart rect.current').first().boundingBox();
      expect(box?.width).toBeGreaterThan(0);
      const shot = await page.screenshot({ fullPage: true });
      expect(shot.subarray(1, 4).toString()).toBe('PNG');
      await writeFile(process.env.BALLAST_DRIFT_SCREENSHOT ?? join(tmpdir(), 'ballast-drift-report.png'), shot);
    } finally {
      await browser.close();
    }
  }, 60000);
});
