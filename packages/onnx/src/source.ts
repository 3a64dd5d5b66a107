import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { BallastError } from '@ballast/core';
import { decryptModel, isEncryptedModel, type ModelKey } from './encryption.js';

/** Where a model comes from: a file path or its bytes, with optional pin and key. */
export interface ModelSource {
  /** Path of an `.onnx` file (or of an encrypted one, with `key`). */
  path?: string;
  /** The model bytes (or encrypted bytes, with `key`). */
  bytes?: Uint8Array;
  /**
   * Expected SHA-256 of the file or bytes as stored (hex; of the encrypted bytes for an
   * encrypted model). A mismatch fails with `INTEGRITY`.
   */
  sha256?: string;
  /** AES-256-GCM key of an encrypted model (see `encryptModel`); decrypted in memory only. */
  key?: ModelKey;
  /** Version label reported by the model and its events. */
  version?: string;
}

/**
 * Reads, verifies and decrypts a model source into plain ONNX bytes.
 * Fails with `CONFIG` (no source, unreadable file) or `INTEGRITY` (pin mismatch, failed decryption).
 */
export async function loadSource(source: ModelSource): Promise<Uint8Array> {
  const hasPath = typeof source.path === 'string' && source.path.length > 0;
  const hasBytes = source.bytes instanceof Uint8Array;
  if (hasPath === hasBytes) throw new BallastError('CONFIG', 'give exactly one of "path" or "bytes"');
  let bytes: Uint8Array;
  if (hasPath) {
    try {
      bytes = new Uint8Array(await readFile(source.path as string));
    } catch (error) {
      throw new BallastError('CONFIG', `cannot read model file ${source.path}: ${(error as Error).message}`, { cause: error });
    }
  } else {
    bytes = source.bytes as Uint8Array;
  }
  if (source.sha256 !== undefined) {
    const expected = source.sha256.trim().toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(expected)) throw new BallastError('CONFIG', 'sha256 must be 64 hex digits');
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== expected) {
      throw new BallastError('INTEGRITY', `model ${source.path ?? 'bytes'} has sha256 ${actual}, expected ${expected}`, {
        details: { expected, actual },
      });
    }
  }
  if (source.key !== undefined) return decryptModel(bytes, source.key);
  if (isEncryptedModel(bytes)) throw new BallastError('CONFIG', 'the model is encrypted: pass its "key"');
  return bytes;
}
