/*
 * Execution providers: the order `'auto'` tries per platform, and the translation of
 * onnxruntime's load errors into messages that say what to install. The raw message stays in
 * every attempt's reason, after the translation, so nothing is lost.
 */

/** Execution providers onnxruntime-node knows. */
export type ProviderName = 'tensorrt' | 'cuda' | 'webgpu' | 'dml' | 'coreml' | 'cpu';

/** One provider tried while loading, and why it failed. */
export interface ProviderAttempt {
  /** The provider. */
  readonly provider: ProviderName;
  /** Whether the session was created with it. */
  readonly ok: boolean;
  /** Why it failed: a translated explanation followed by onnxruntime's own message. */
  readonly reason?: string;
}

/** Every provider name, in the order `'auto'` prefers them. */
export const PROVIDER_NAMES: readonly ProviderName[] = ['tensorrt', 'cuda', 'webgpu', 'dml', 'coreml', 'cpu'];

/**
 * The providers `'auto'` tries on a platform, best first, always ending with `cpu`: the ones
 * onnxruntime-node can use there (CUDA and TensorRT only on Linux x64, DirectML only on Windows,
 * CoreML only on macOS).
 *
 * @example
 * autoProviders('linux', 'x64'); // ['tensorrt', 'cuda', 'webgpu', 'cpu']
 */
export function autoProviders(platform: NodeJS.Platform = process.platform, arch: string = process.arch): ProviderName[] {
  if (platform === 'linux') return arch === 'x64' ? ['tensorrt', 'cuda', 'webgpu', 'cpu'] : ['cpu'];
  if (platform === 'win32') return ['dml', 'webgpu', 'cpu'];
  if (platform === 'darwin') return ['coreml', 'webgpu', 'cpu'];
  return ['cpu'];
}

const PLATFORMS: Record<ProviderName, string> = {
  tensorrt: 'Linux x64',
  cuda: 'Linux x64',
  webgpu: 'Windows, macOS and Linux x64',
  dml: 'Windows',
  coreml: 'macOS',
  cpu: 'every platform',
};

function firstLine(message: string): string {
  const line = message.split('\n').find((l) => l.trim().length > 0) ?? message;
  return line.trim();
}

/**
 * Explains why a provider failed to load, in words that say how to fix it; onnxruntime's own
 * message follows in parentheses.
 *
 * @example
 * translateProviderError('cuda', 'OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library');
 */
export function translateProviderError(
  provider: ProviderName,
  message: string,
  platform: string = process.platform,
  arch: string = process.arch,
): string {
  const raw = `(onnxruntime: ${firstLine(message)})`;
  if (/backend not found|no available backend/i.test(message)) {
    return `the ${provider} provider is not part of onnxruntime-node on ${platform}-${arch}; it is available on ${PLATFORMS[provider]} ${raw}`;
  }
  if (
    (provider === 'cuda' || provider === 'tensorrt') &&
    /failed to load (shared )?library|cannot open shared object|libcu|libnv/i.test(message)
  ) {
    const what = provider === 'cuda' ? 'CUDA' : 'TensorRT';
    return (
      `the ${what} provider library could not be loaded. onnxruntime-node does not ship it in the npm package: its install ` +
      `script downloads it on Linux x64 when allowed to run (pnpm: allow the build of onnxruntime-node, then \`pnpm rebuild onnxruntime-node\`; ` +
      `npm: do not use --ignore-scripts). The host also needs CUDA 12 and cuDNN 9${provider === 'tensorrt' ? ' and TensorRT 10' : ''} ` +
      `on the library path (LD_LIBRARY_PATH). See docs/gpu.md ${raw}`
    );
  }
  if (provider === 'webgpu' && /vulkan|adapter/i.test(message)) {
    return (
      'WebGPU found no GPU adapter: on Linux install the Vulkan loader (libvulkan1) and a GPU driver with Vulkan support; ' +
      `on Windows and macOS update the GPU driver. See docs/gpu.md ${raw}`
    );
  }
  if (provider === 'dml' && /dxgi|d3d12|directml/i.test(message)) {
    return `DirectML could not start: it needs Windows 10 1903+ with a DirectX 12 capable GPU and driver. See docs/gpu.md ${raw}`;
  }
  return `the ${provider} provider failed to load ${raw}`;
}
