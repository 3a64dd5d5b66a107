/*
 * Sticky assignment needs a fast, well-mixed 32-bit hash of a short string, computed on every
 * call. FNV-1a followed by the murmur3 `fmix32` finaliser is ten lines, allocates nothing and
 * spreads similar keys (`user-1`, `user-2`) evenly, so it is written here rather than pulled in
 * (node:crypto costs about a microsecond per digest and allocates a Buffer).
 */

/**
 * A 32-bit unsigned hash of `key`, mixed with `seed`.
 *
 * @example
 * hashKey('user-42', 7); // an integer in [0, 2^32)
 */
export function hashKey(key: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Where `key` falls on the unit interval, in [0, 1). A key is on the candidate while
 * `bucketOf(key) < weight`, so raising the weight only moves keys from the stable version to the
 * candidate, never back: each user keeps its version across a ramp (consistent assignment).
 *
 * @example
 * const onCandidate = bucketOf('user-42', seed) < 0.1;
 */
export function bucketOf(key: string, seed = 0): number {
  return hashKey(key, seed) / 4294967296;
}
