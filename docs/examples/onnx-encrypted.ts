// docs/examples/onnx-encrypted.ts
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { subscribe } from '@ballast/core';
import { encryptModel, generateModelKey, onnxModel } from '@ballast/onnx';
import { mlpModel, randomLayers } from '@ballast/onnx/testing';

// At build time: encrypt the model (or: npx ballast-onnx encrypt model.onnx model.onnx.enc).
const key = generateModelKey(); // keep it in a secret store
const directory = await mkdtemp(join(tmpdir(), 'ballast-'));
const sealed = encryptModel(mlpModel({ layers: randomLayers({ sizes: [4, 8, 2], seed: 1 }) }), key);
await writeFile(join(directory, 'v1.onnx.enc'), sealed);
const sha256 = createHash('sha256').update(sealed).digest('hex');

// At run time: pinned by sha256, decrypted in memory only.
const stop = subscribe('modelLoad', (event) => {
  const outcome = event.error ? 'failed, old model keeps serving' : `on ${event.provider}`;
  console.log(`model-load: ${event.phase} ${event.model}@${event.version} ${outcome}`);
});
const model = await onnxModel({ path: join(directory, 'v1.onnx.enc'), key, sha256, name: 'risk', version: 'v1' });
console.log('v1:', (await model.infer([1, 2, 3, 4])).output?.data);

// Hot reload: calls keep being served while v2 loads.
const v2 = encryptModel(mlpModel({ layers: randomLayers({ sizes: [4, 8, 2], seed: 2 }) }), key);
await writeFile(join(directory, 'v2.onnx.enc'), v2);
await model.reload({ path: join(directory, 'v2.onnx.enc'), key, version: 'v2' });
console.log('v2:', (await model.infer([1, 2, 3, 4])).output?.data);

// A file that does not match its pin is refused.
await model.reload({ path: join(directory, 'v2.onnx.enc'), key, sha256 }).catch((error) => console.log(`${error.code}: ${error.message}`));
stop();
await model.close();
