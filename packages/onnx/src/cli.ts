#!/usr/bin/env node
/*
 * ballast-onnx: encrypt, decrypt and fingerprint model files.
 *
 *   ballast-onnx keygen                         print a new 32-byte key (hex)
 *   ballast-onnx encrypt <in> <out> [--key K]   AES-256-GCM encrypt a model (key from --key or BALLAST_MODEL_KEY)
 *   ballast-onnx decrypt <in> <out> [--key K]   decrypt (to check a file; servers decrypt in memory)
 *   ballast-onnx sha256 <file>                  print the sha256 to pin with onnxModel({ sha256 })
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { isBallastError } from '@ballast/core';
import { decryptModel, encryptModel, generateModelKey } from './encryption.js';

const USAGE = `usage:
  ballast-onnx keygen
  ballast-onnx encrypt <in.onnx> <out.onnx.enc> [--key <hex|base64>]   (or BALLAST_MODEL_KEY)
  ballast-onnx decrypt <in.onnx.enc> <out.onnx> [--key <hex|base64>]
  ballast-onnx sha256 <file>`;

/** Runs the CLI with `argv` (without node and script); returns the exit code. */
export async function main(
  argv: readonly string[],
  out: (line: string) => void = console.log,
  err: (line: string) => void = console.error,
): Promise<number> {
  const args = [...argv];
  const keyIndex = args.indexOf('--key');
  let key = process.env.BALLAST_MODEL_KEY;
  if (keyIndex >= 0) {
    key = args[keyIndex + 1];
    args.splice(keyIndex, 2);
  }
  const [command, input, output] = args;
  try {
    if (command === 'keygen' && args.length === 1) {
      out(generateModelKey());
      return 0;
    }
    if (command === 'sha256' && input !== undefined && args.length === 2) {
      out(
        createHash('sha256')
          .update(await readFile(input))
          .digest('hex'),
      );
      return 0;
    }
    if ((command === 'encrypt' || command === 'decrypt') && input !== undefined && output !== undefined && args.length === 3) {
      if (!key) {
        err('a key is needed: --key <hex|base64> or BALLAST_MODEL_KEY');
        return 2;
      }
      const bytes = new Uint8Array(await readFile(input));
      const result = command === 'encrypt' ? encryptModel(bytes, key) : decryptModel(bytes, key);
      await writeFile(output, result, { mode: 0o600 });
      out(`${command}ed ${input} -> ${output} (${result.length} bytes, sha256 ${createHash('sha256').update(result).digest('hex')})`);
      return 0;
    }
    err(USAGE);
    return 2;
  } catch (error) {
    err(isBallastError(error) ? `${error.code}: ${error.message}` : String((error as Error).message ?? error));
    return 1;
  }
}

// Run when executed directly (the package bin), not when imported by tests.
const entry = process.argv[1] ?? '';
if (/ballast-onnx$|cli\.(c?js|ts)$/.test(entry)) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
