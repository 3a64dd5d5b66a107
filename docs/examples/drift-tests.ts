// docs/examples/drift-tests.ts
import { binnedDistance, chiSquareContingency, chiSquareGoodnessOfFit, cramerVonMises, ksTest, wassersteinDistance } from '@ballast/drift';

// Two small samples of daily maximum temperatures (°C): a mild month and a warm one.
const march = [9.4, 10.6, 11.1, 8.9, 12.2, 10.0, 13.3, 11.7, 9.4, 10.6, 12.8, 11.1, 10.0, 8.3, 12.2];
const june = [18.9, 21.1, 12.0, 22.8, 19.4, 23.9, 20.6, 18.3, 25.0, 21.7, 19.4, 22.2, 13.3, 24.4, 17.8];

const ks = ksTest(march, june); // exact p-value (lattice paths), as scipy.stats.ks_2samp
console.log(`KS: D = ${ks.statistic.toFixed(3)}, p = ${ks.pValue.toExponential(3)} (${ks.method})`);

const cvm = cramerVonMises(march, june); // exact for ≤ 20 values per sample, as scipy
console.log(`Cramér-von Mises: T = ${cvm.statistic.toFixed(3)}, p = ${cvm.pValue.toExponential(3)}`);

// NaN and ±Infinity are dropped and counted, never silently compared.
const withGaps = ksTest([...march, Number.NaN], june);
console.log(`dropped from the reference: ${withGaps.droppedReference}`);

console.log(
  `Wasserstein: ${wassersteinDistance(march, june).toFixed(2)} °C, normed: ${wassersteinDistance(march, june, { normed: true }).toFixed(2)}`,
);

// Distances over bins: PSI, KL, Jensen-Shannon (distance, natural log unless base is given), Hellinger.
const psi = binnedDistance(march, june, { metric: 'psi', binning: { quantiles: 4 } });
const js = binnedDistance(march, june, { metric: 'jensen-shannon', base: 2, binning: 'sturges' });
console.log(`PSI (reference quartiles): ${psi.value.toFixed(2)}; Jensen-Shannon (base 2, Sturges): ${js.value.toFixed(3)}`);

// Categories: goodness of fit of the current counts against the reference shares, or a 2×k table.
const referenceWeather = { sun: 120, rain: 180, fog: 40 };
const currentWeather = { sun: 70, rain: 20, fog: 10 };
const gof = chiSquareGoodnessOfFit(referenceWeather, currentWeather);
console.log(`chi-square goodness of fit: ${gof.statistic.toFixed(1)}, dof ${gof.dof}, p = ${gof.pValue.toExponential(2)}`);
const table = chiSquareContingency([
  [120, 180, 40],
  [70, 20, 10],
]);
console.log(`chi-square contingency: ${table.statistic.toFixed(1)}, dof ${table.dof}, p = ${table.pValue.toExponential(2)}`);
