import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ADWIN } from './adwin.js';
import { binCategorical, binNumeric, categoryCounts } from './binning.js';
import { chiSquareContingency, chiSquareGoodnessOfFit } from './chi-square.js';
import { cramerVonMises } from './cramer-von-mises.js';
import { hellinger, jensenShannon, klDivergence, psi, wassersteinDistance } from './distances.js';
import { ksTest } from './ks.js';
import { PageHinkley } from './page-hinkley.js';

// Reference values computed with scipy 1.17 / numpy 2.4 and River's documented detector settings.
// The repository keeps a copy in fixtures/ so the suite runs from a plain clone; where the team's
// shared test data sits beside the repository, the copy must still equal it.
const here = dirname(fileURLToPath(import.meta.url));
const vectorsPath = resolve(here, 'fixtures/drift-vectors.json');
const sharedPath = resolve(here, '../../../../shared/testdata/drift-vectors.json');

interface Numeric {
  name: string;
  reference: number[];
  current: number[];
  expected: Record<string, number | { statistic: number; pValue: number }>;
}
interface Categorical {
  name: string;
  reference: string[];
  current: string[];
  categories: string[];
  expected: Record<string, number | { statistic: number; pValue: number; dof: number }>;
}
const vectors = JSON.parse(readFileSync(vectorsPath, 'utf8')) as {
  numeric: Numeric[];
  categorical: Categorical[];
  online: {
    stream: number[];
    adwin: { delta: number; clock: number; maxBuckets: number; minWindowLength: number; gracePeriod: number; firstDriftIndex: number };
    pageHinkley: { minInstances: number; delta: number; threshold: number; alpha: number; mode: 'both'; firstDriftIndex: number };
  };
};

/** Statistics to 1e-9 relative. */
function expectStatistic(actual: number, expected: number): void {
  if (expected === 0) expect(Math.abs(actual)).toBeLessThanOrEqual(1e-12);
  else expect(Math.abs(actual - expected) / Math.abs(expected)).toBeLessThanOrEqual(1e-9);
}
/** p-values to 1e-6 relative, or 1e-12 absolute where tiny. */
function expectPValue(actual: number, expected: number): void {
  const ok = Math.abs(actual - expected) <= 1e-12 || Math.abs(actual - expected) / Math.abs(expected) <= 1e-6;
  expect(ok, `p-value ${actual} vs ${expected}`).toBe(true);
}

describe('scipy reference vectors: numeric', () => {
  it('loads the shared vectors', () => {
    expect(vectors.numeric.length).toBeGreaterThan(5);
  });
  for (const c of vectors.numeric) {
    describe(c.name, () => {
      for (const method of ['auto', 'exact', 'asymp'] as const) {
        const expected = c.expected[`ks_${method}`] as { statistic: number; pValue: number } | undefined;
        if (!expected) continue;
        it(`ks ${method}`, () => {
          const r = ksTest(c.reference, c.current, { method });
          expectStatistic(r.statistic, expected.statistic);
          expectPValue(r.pValue, expected.pValue);
        });
      }
      it('cramér-von mises', () => {
        const expected = c.expected.cramerVonMises as { statistic: number; pValue: number };
        const r = cramerVonMises(c.reference, c.current);
        expectStatistic(r.statistic, expected.statistic);
        expectPValue(r.pValue, expected.pValue);
      });
      it('wasserstein (plain and normed)', () => {
        expectStatistic(wassersteinDistance(c.reference, c.current), c.expected.wasserstein as number);
        expectStatistic(wassersteinDistance(c.reference, c.current, { normed: true }), c.expected.wassersteinNormed as number);
      });
      it('binned distances', () => {
        const b = binNumeric(new Float64Array(c.reference), Float64Array.from(c.current));
        expectStatistic(psi(b.reference, b.current), c.expected.psi as number);
        expectStatistic(klDivergence(b.reference, b.current), c.expected.kl as number);
        expectStatistic(jensenShannon(b.reference, b.current), c.expected.jensenShannon_ln as number);
        expectStatistic(jensenShannon(b.reference, b.current, { base: 2 }), c.expected.jensenShannon_base2 as number);
        expectStatistic(hellinger(b.reference, b.current), c.expected.hellinger as number);
      });
    });
  }
});

describe('scipy reference vectors: categorical', () => {
  for (const c of vectors.categorical) {
    it(c.name, () => {
      const ref = categoryCounts(c.reference, c.categories).counts;
      const cur = categoryCounts(c.current, c.categories).counts;
      const gof = chiSquareGoodnessOfFit(ref, cur);
      const eg = c.expected.chiSquareGoodnessOfFit as { statistic: number; pValue: number; dof: number };
      expectStatistic(gof.statistic, eg.statistic);
      expectPValue(gof.pValue, eg.pValue);
      expect(gof.dof).toBe(eg.dof);
      const ct = chiSquareContingency([ref, cur]);
      const ec = c.expected.chiSquareContingency as { statistic: number; pValue: number; dof: number };
      expectStatistic(ct.statistic, ec.statistic);
      expectPValue(ct.pValue, ec.pValue);
      expect(ct.dof).toBe(ec.dof);
      const b = binCategorical(c.reference, c.current);
      expectStatistic(jensenShannon(b.reference, b.current), c.expected.jensenShannon_ln as number);
      expectStatistic(jensenShannon(b.reference, b.current, { base: 2 }), c.expected.jensenShannon_base2 as number);
    });
  }
});

describe("River's documented first detections", () => {
  it('Page-Hinkley first fires at the documented index', () => {
    const { stream, pageHinkley: settings } = vectors.online;
    const detector = new PageHinkley(settings);
    const first = stream.findIndex((x) => detector.update(x).driftDetected);
    expect(first).toBe(settings.firstDriftIndex);
  });
  it('ADWIN first fires at the documented index', () => {
    const { stream, adwin: settings } = vectors.online;
    const detector = new ADWIN(settings);
    const first = stream.findIndex((x) => detector.update(x).driftDetected);
    expect(first).toBe(settings.firstDriftIndex);
  });
});

describe('reference data', () => {
  it.skipIf(!existsSync(sharedPath))('the fixture equals the shared test data', () => {
    expect(readFileSync(vectorsPath, 'utf8')).toBe(readFileSync(sharedPath, 'utf8'));
  });
});
