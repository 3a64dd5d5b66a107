/*
 * The typed array of each numeric element type, in a module of its own with no imports: the
 * worker thread's entry (session-worker.ts) reads it too, and must load without @ballast/core.
 */

/** The typed array the runtime takes for each numeric element type (bool as bytes, float16 as bits). */
export const ARRAY_TYPES = {
  float32: Float32Array,
  float64: Float64Array,
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
  float16: Uint16Array,
} as const;
