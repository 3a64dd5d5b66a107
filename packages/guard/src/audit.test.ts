import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { auditLog, fileSink, hashInput } from './audit.js';

describe('auditLog', () => {
  it('writes one JSON line per record with an input hash and no input by default', () => {
    const stream = new PassThrough();
    const chunks: string[] = [];
    stream.on('data', (c) => chunks.push(String(c)));
    const audit = auditLog({ sink: stream, clock: () => Date.parse('2026-01-01T00:00:00Z') });
    audit.record({ principal: 'app', model: 'm', outcome: 'ok', latencyMs: 2, input: { email: 'a@b.c' } });
    const line = JSON.parse(chunks.join(''));
    expect(line).toEqual({
      time: '2026-01-01T00:00:00.000Z',
      principal: 'app',
      model: 'm',
      outcome: 'ok',
      latencyMs: 2,
      inputHash: hashInput({ email: 'a@b.c' }),
    });
  });

  it('logs redacted inputs when opted in, and survives a failing sink', () => {
    const lines: string[] = [];
    const audit = auditLog({ sink: { write: (l: string) => lines.push(l) }, includeInputs: true, redact: { fields: ['email'] } });
    audit.record({ outcome: 'INVALID_INPUT', latencyMs: 1, input: { email: 'a@b.c', n: 1 } });
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({
      principal: 'anonymous',
      outcome: 'INVALID_INPUT',
      input: { email: '[REDACTED]', n: 1 },
    });
    const broken = auditLog({
      sink: {
        write: () => {
          throw new Error('disk full');
        },
      },
    });
    broken.record({ outcome: 'ok', latencyMs: 0 });
    expect(broken.failures).toBe(1);
  });
});

describe('fileSink', () => {
  it('rotates by size and keeps maxFiles rotated files', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'ballast-audit-'));
    const path = join(directory, 'audit.log');
    let clock = Date.parse('2026-01-01T00:00:00Z');
    const sink = fileSink({ path, maxBytes: 100, maxAgeMs: 60_000, maxFiles: 2, clock: () => clock });
    const audit = auditLog({ sink, clock: () => clock });
    for (let i = 0; i < 3; i++) {
      audit.record({ principal: `p${i}`, outcome: 'ok', latencyMs: i });
      clock += 1;
    }
    // Each line is ~90 bytes, so every line after the first started a new file.
    clock += 60_000;
    audit.record({ principal: 'late', outcome: 'ok', latencyMs: 0 });
    await audit.close();
    const rotated = readdirSync(directory).filter((n) => n !== 'audit.log');
    expect(rotated).toHaveLength(2);
    expect(readFileSync(path, 'utf8')).toContain('"late"');
    const all = [path, ...rotated.map((n) => join(directory, n))].map((p) => readFileSync(p, 'utf8')).join('');
    for (const line of all.trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
  });

  it('rotates by age when the size limit is far away', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'ballast-audit-'));
    const path = join(directory, 'audit.log');
    let clock = Date.parse('2026-01-01T00:00:00Z');
    const sink = fileSink({ path, maxBytes: 1024 * 1024, maxAgeMs: 60_000, maxFiles: 5, clock: () => clock });
    const audit = auditLog({ sink, clock: () => clock });
    audit.record({ principal: 'early', outcome: 'ok', latencyMs: 0 });
    clock += 60_000;
    audit.record({ principal: 'late', outcome: 'ok', latencyMs: 0 });
    await audit.close();
    const rotated = readdirSync(directory).filter((n) => n !== 'audit.log');
    expect(rotated).toHaveLength(1);
    expect(readFileSync(join(directory, rotated[0] as string), 'utf8')).toContain('"early"');
    const current = readFileSync(path, 'utf8');
    expect(current).toContain('"late"');
    expect(current).not.toContain('"early"');
  });
});

describe('audit input hash', () => {
  const input = { email: 'jane@example.com', question: 'hi' };
  const lineOf = (options: { inputHashKey?: string }): { inputHash: string; input?: unknown } => {
    const lines: string[] = [];
    const audit = auditLog({
      sink: { write: (l: string) => lines.push(l) },
      includeInputs: true,
      redact: { fields: ['email'] },
      ...options,
    });
    audit.record({ outcome: 'ok', latencyMs: 1, input });
    return JSON.parse(lines[0] ?? '');
  };

  it('is keyed: a reader of the log cannot confirm a guessed redacted value with a plain SHA-256', () => {
    const line = lineOf({});
    expect(line.input).toEqual({ email: '[REDACTED]', question: 'hi' });
    const guess = createHash('sha256').update(JSON.stringify(input)).digest('hex');
    expect(line.inputHash).not.toBe(guess);
    expect(line.inputHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is the HMAC-SHA256 under the configured key, stable across logs that share it', () => {
    const key = 'audit-hash-key-of-at-least-32-bytes!';
    const line = lineOf({ inputHashKey: key });
    expect(line.inputHash).toBe(createHmac('sha256', key).update(JSON.stringify(input)).digest('hex'));
    expect(lineOf({ inputHashKey: key }).inputHash).toBe(line.inputHash);
    expect(lineOf({ inputHashKey: `${key}-other` }).inputHash).not.toBe(line.inputHash);
    expect(() => auditLog({ sink: { write: () => {} }, inputHashKey: 'short' })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
  });
});

describe('fileSink errors', () => {
  it('reports a path it cannot use as a typed CONFIG error, not a raw ENOTDIR', () => {
    const directory = mkdtempSync(join(tmpdir(), 'ballast-audit-'));
    const file = join(directory, 'plain-file');
    writeFileSync(file, 'x');
    let thrown: unknown;
    try {
      fileSink({ path: join(file, 'logs', 'audit.log') });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ name: 'BallastError', code: 'CONFIG', details: { errno: 'ENOTDIR' } });
  });
});
