/**
 * Ascending sort of finite float64 values by LSD radix sort on their bit patterns (16-bit digits,
 * passes skipped where every key shares the digit). Why: `Float64Array.prototype.sort` costs about
 * 0.6 µs per element on Node 20 at 100k values and dominated `ksTest`; the radix sort is O(n) and
 * about twice as fast at 100k values. Below 16k values the built-in sort is as fast and is used.
 */
export function sortFloat64(values: Float64Array): Float64Array {
  const n = values.length;
  if (n < 16384) return values.slice().sort();
  const source = new Float64Array(values);
  const words = new Uint32Array(source.buffer);
  // Map each double to an unsigned key whose integer order is the numeric order:
  // negative numbers flip all bits, positive numbers flip the sign bit.
  let hi = new Uint32Array(n);
  let lo = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const l = words[2 * i] as number;
    const h = words[2 * i + 1] as number;
    if (h & 0x80000000) {
      hi[i] = ~h >>> 0;
      lo[i] = ~l >>> 0;
    } else {
      hi[i] = (h | 0x80000000) >>> 0;
      lo[i] = l;
    }
  }
  let hiOut = new Uint32Array(n);
  let loOut = new Uint32Array(n);
  // Histograms of the four 16-bit digits in one pass, then one scatter pass per digit.
  const counts = new Uint32Array(4 * 65536);
  for (let i = 0; i < n; i++) {
    const l = lo[i] as number;
    const h = hi[i] as number;
    const d0 = l & 0xffff;
    const d1 = 65536 + (l >>> 16);
    const d2 = 131072 + (h & 0xffff);
    const d3 = 196608 + (h >>> 16);
    counts[d0] = (counts[d0] as number) + 1;
    counts[d1] = (counts[d1] as number) + 1;
    counts[d2] = (counts[d2] as number) + 1;
    counts[d3] = (counts[d3] as number) + 1;
  }
  for (let pass = 0; pass < 4; pass++) {
    const base = pass * 65536;
    const first =
      pass === 0
        ? (lo[0] as number) & 0xffff
        : pass === 1
          ? (lo[0] as number) >>> 16
          : pass === 2
            ? (hi[0] as number) & 0xffff
            : (hi[0] as number) >>> 16;
    if (counts[base + first] === n) continue; // every key shares this digit
    let total = 0;
    for (let d = base; d < base + 65536; d++) {
      const c = counts[d] as number;
      counts[d] = total;
      total += c;
    }
    if (pass < 2) {
      const shift = pass * 16;
      for (let i = 0; i < n; i++) {
        const l = lo[i] as number;
        const slot = base + ((l >>> shift) & 0xffff);
        const at = counts[slot] as number;
        counts[slot] = at + 1;
        loOut[at] = l;
        hiOut[at] = hi[i] as number;
      }
    } else {
      const shift = (pass - 2) * 16;
      for (let i = 0; i < n; i++) {
        const h = hi[i] as number;
        const slot = base + ((h >>> shift) & 0xffff);
        const at = counts[slot] as number;
        counts[slot] = at + 1;
        hiOut[at] = h;
        loOut[at] = lo[i] as number;
      }
    }
    [hi, hiOut] = [hiOut, hi];
    [lo, loOut] = [loOut, lo];
  }
  for (let i = 0; i < n; i++) {
    const h = hi[i] as number;
    const l = lo[i] as number;
    if (h & 0x80000000) {
      words[2 * i + 1] = (h & 0x7fffffff) >>> 0;
      words[2 * i] = l;
    } else {
      words[2 * i + 1] = ~h >>> 0;
      words[2 * i] = ~l >>> 0;
    }
  }
  return source;
}
