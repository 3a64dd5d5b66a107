// docs/examples/onnx-providers.ts
import { onnxModel } from '@ballast/onnx';
import { mlpModel, randomLayers } from '@ballast/onnx/testing';

const bytes = mlpModel({ layers: randomLayers({ sizes: [4, 8, 2] }) });

// 'auto' tries the GPU providers of this platform, then cpu; every attempt is recorded.
const model = await onnxModel({ bytes, providers: 'auto' });
console.log(`serving on ${model.provider}`);
for (const attempt of model.providerAttempts) {
  console.log(`- ${attempt.provider}: ${attempt.ok ? 'loaded' : attempt.reason}`);
}
await model.close();

// requireProvider refuses to fall back.
await onnxModel({ bytes, providers: ['cuda', 'cpu'], requireProvider: 'cuda' }).catch((error) =>
  console.log(`\n${error.code}: ${error.message.slice(0, 120)}…`),
);
