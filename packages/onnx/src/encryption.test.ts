import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from './cli.js';
import { decryptModel, encryptModel, generateModelKey, isEncryptedModel, parseModelKey } from './encryption.js';

describe('model encryption', () => {
  it('round-trips bytes with hex and base64 keys, with a fresh IV each time', () => {
    const key = generateModelKey();
    const bytes = new Uint8Array(1000).map((_, i) => (i * 7) % 256);
    const a = encryptModel(bytes, key);
    const b = encryptModel(bytes, Buffer.from(key, 'hex').toString('base64'));
    expect(isEncryptedModel(a)).toBe(true);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    expect(decryptModel(a, key)).toEqual(bytes);
    expect(decryptModel(b, Buffer.from(key, 'hex'))).toEqual(bytes);
  });

  it('fails with INTEGRITY on a changed byte, a truncated file or a wrong key, and CONFIG on a bad key', () => {
    const key = generateModelKey();
    const sealed = encryptModel(new Uint8Array([1, 2, 3, 4]), key);
    for (let i = 30; i < sealed.length; i++) {
      const changed = sealed.slice();
      changed[i] = (changed[i] as number) ^ 0x10;
      expect(() => decryptModel(changed, key)).toThrow(expect.objectContaining({ code: 'INTEGRITY' }));
    }
    expect(() => decryptModel(sealed.subarray(0, 40), key)).toThrow(expect.objectContaining({ code: 'INTEGRITY' }));
    expect(() => decryptModel(sealed, generateModelKey())).toThrow(expect.objectContaining({ code: 'INTEGRITY' }));
    expect(() => parseModelKey('abc')).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => decryptModel(new Uint8Array([8, 1]), key)).toThrow(expect.objectContaining({ code: 'CONFIG' }));
  });
});

describe('ballast-onnx CLI', () => {
  it('generates a key, encrypts, decrypts and prints sha256', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'ballast-cli-'));
    try {
      const lines: string[] = [];
      const errors: string[] = [];
      const out = (line: string) => lines.push(line);
      const err = (line: string) => errors.push(line);
      expect(await main(['keygen'], out, err)).toBe(0);
      const key = lines[0] as string;
      expect(key).toMatch(/^[0-9a-f]{64}$/);
      const plain = join(directory, 'm.onnx');
      await writeFile(plain, new Uint8Array([9, 8, 7, 6]));
      expect(await main(['encrypt', plain, `${plain}.enc`, '--key', key], out, err)).toBe(0);
      expect(decryptModel(new Uint8Array(await readFile(`${plain}.enc`)), key)).toEqual(new Uint8Array([9, 8, 7, 6]));
      expect(await main(['decrypt', `${plain}.enc`, join(directory, 'back.onnx'), '--key', key], out, err)).toBe(0);
      expect(new Uint8Array(await readFile(join(directory, 'back.onnx')))).toEqual(new Uint8Array([9, 8, 7, 6]));
      expect(await main(['sha256', plain], out, err)).toBe(0);
      expect(lines.at(-1)).toBe(
        createHash('sha256')
          .update(new Uint8Array([9, 8, 7, 6]))
          .digest('hex'),
      );
      expect(await main(['decrypt', `${plain}.enc`, join(directory, 'x'), '--key', generateModelKey()], out, err)).toBe(1);
      expect(errors.at(-1)).toMatch(/^INTEGRITY:/);
      expect(await main(['encrypt', plain], out, err)).toBe(2);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
