import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { BallastError } from '@ballast/core';

/*
 * Encrypted model files: AES-256-GCM with a random 12-byte IV. The file is
 * MAGIC | IV | TAG | CIPHERTEXT. GCM authenticates the whole file, so a changed byte or a
 * wrong key fails with INTEGRITY and nothing decrypted is ever used. Plaintext exists only in
 * memory: it is handed to onnxruntime as bytes and never written to disk.
 */

const MAGIC = Buffer.from('BALLAST-ONNX-AES256GCM-1\n', 'utf8');
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A 32-byte key: raw bytes, or a string of 64 hex digits or base64. */
export type ModelKey = Uint8Array | string;

/**
 * Reads a 32-byte AES-256 key from bytes, 64 hex digits or base64; fails with `CONFIG`.
 *
 * @example
 * const key = parseModelKey(process.env.MODEL_KEY ?? '');
 */
export function parseModelKey(key: ModelKey): Buffer {
  let bytes: Buffer | undefined;
  if (typeof key === 'string') {
    const text = key.trim();
    if (/^[0-9a-fA-F]{64}$/.test(text)) bytes = Buffer.from(text, 'hex');
    else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) bytes = Buffer.from(text, 'base64');
  } else if (key instanceof Uint8Array) {
    bytes = Buffer.from(key);
  }
  if (bytes === undefined || bytes.length !== 32) {
    throw new BallastError('CONFIG', 'the model key must be 32 bytes (64 hex digits or base64 of 32 bytes)');
  }
  return bytes;
}

/**
 * A new random 32-byte key as 64 hex digits.
 *
 * @example
 * const key = generateModelKey(); // keep it in a secret store, not next to the model
 */
export function generateModelKey(): string {
  return randomBytes(32).toString('hex');
}

/** Whether bytes look like a file made by {@link encryptModel}. */
export function isEncryptedModel(bytes: Uint8Array): boolean {
  return bytes.length >= MAGIC.length && Buffer.from(bytes.buffer, bytes.byteOffset, MAGIC.length).equals(MAGIC);
}

/**
 * Encrypts model bytes with AES-256-GCM; load the result with `onnxModel({ path, key })`.
 *
 * @example
 * const sealed = encryptModel(await readFile('model.onnx'), key);
 * await writeFile('model.onnx.enc', sealed);
 */
export function encryptModel(bytes: Uint8Array, key: ModelKey): Uint8Array {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', parseModelKey(key), iv);
  const body = Buffer.concat([cipher.update(bytes), cipher.final()]);
  return new Uint8Array(Buffer.concat([MAGIC, iv, cipher.getAuthTag(), body]));
}

/**
 * Decrypts a file made by {@link encryptModel}, in memory. A wrong key or a changed byte fails
 * with `INTEGRITY`; bytes that are not such a file fail with `CONFIG`.
 *
 * @example
 * const bytes = decryptModel(await readFile('model.onnx.enc'), key);
 */
export function decryptModel(bytes: Uint8Array, key: ModelKey): Uint8Array {
  if (!isEncryptedModel(bytes)) {
    throw new BallastError('CONFIG', 'a key was given but the model is not an encrypted Ballast model file');
  }
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (data.length < MAGIC.length + IV_BYTES + TAG_BYTES) throw new BallastError('INTEGRITY', 'the encrypted model file is truncated');
  const iv = data.subarray(MAGIC.length, MAGIC.length + IV_BYTES);
  const tag = data.subarray(MAGIC.length + IV_BYTES, MAGIC.length + IV_BYTES + TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', parseModelKey(key), iv);
  decipher.setAuthTag(tag);
  try {
    return new Uint8Array(Buffer.concat([decipher.update(data.subarray(MAGIC.length + IV_BYTES + TAG_BYTES)), decipher.final()]));
  } catch (error) {
    throw new BallastError('INTEGRITY', 'the encrypted model failed authentication: wrong key or a modified file', { cause: error });
  }
}
