import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// The main entry must stay on the OpenTelemetry API: only `@ballast/otel/node` may import an SDK.
const dir = import.meta.dirname;
const sources = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
const importsOf = (file: string) =>
  [...readFileSync(join(dir, file), 'utf8').matchAll(/^\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1] as string);

describe('package boundary', () => {
  it('imports only @opentelemetry/api, @ballast/core and node built-ins outside node.ts', () => {
    expect(sources).toContain('instrument.ts');
    for (const file of sources.filter((f) => f !== 'node.ts')) {
      for (const specifier of importsOf(file)) {
        expect(
          ['@opentelemetry/api', '@ballast/core'].includes(specifier) || /^(node:|\.\/)/.test(specifier),
          `${file} imports ${specifier}`,
        ).toBe(true);
      }
    }
  });

  it('keeps the SDK imports in node.ts, loaded when telemetry starts', () => {
    const text = readFileSync(join(dir, 'node.ts'), 'utf8');
    const dynamic = [...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1] as string);
    expect([...new Set(dynamic)].sort()).toEqual([
      '@opentelemetry/exporter-metrics-otlp-http',
      '@opentelemetry/exporter-prometheus',
      '@opentelemetry/exporter-trace-otlp-http',
      '@opentelemetry/sdk-node',
    ]);
    // Static imports of SDK packages are types only, so loading the entry needs no SDK installed.
    const staticValue = [...text.matchAll(/^\s*import\s+(?!type\b)[^'"]*?from\s+['"](@opentelemetry\/[^'"]+)['"]/gm)]
      .map((m) => m[1] as string)
      .filter((specifier) => specifier !== '@opentelemetry/api');
    expect(staticValue).toEqual([]);
  });
});
