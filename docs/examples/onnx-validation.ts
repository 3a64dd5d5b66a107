// docs/examples/onnx-validation.ts
import { isBallastError } from '@ballast/core';
import { type OnnxInputs, onnxModel } from '@ballast/onnx';
import { int64Model, mlpModel, randomLayers } from '@ballast/onnx/testing';

const model = await onnxModel({ bytes: mlpModel({ layers: randomLayers({ sizes: [4, 8, 2] }) }) });

// Wrong length, wrong element, unknown input: each fails alone with INVALID_INPUT.
const bad: OnnxInputs[] = [{ input: [1, 2, 3] }, { input: [1, 2, 'three', 4] }, { pixels: [1, 2, 3, 4] }];
for (const input of bad) {
  try {
    await model.infer(input);
  } catch (error) {
    if (isBallastError(error)) console.log(`${error.code} (HTTP ${error.status}): ${error.message}`);
  }
}
// Accepted forms: nested or flat arrays, typed arrays, { data, dims }, or the bare value.
console.log((await model.infer(new Float32Array([1, 2, 3, 4]))).output?.data);
console.log((await model.infer({ input: { data: [1, 2, 3, 4], dims: [4] } })).output?.data);
await model.close();

// int64 inputs take BigInt64Array or plain safe integers.
const ids = await onnxModel({ bytes: int64Model({ width: 3 }) });
console.log((await ids.infer({ ids: [1, 2, 3] })).scaled);
await ids.close();
