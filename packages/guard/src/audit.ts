import { createHmac, randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, openSync, readdirSync, renameSync, statSync, unlinkSync, type WriteStream } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { BallastError, type ErrorCode, type Usage } from '@ballast/core';
import { type RedactionOptions, redactor } from './redact.js';

/** One audit line. */
export interface AuditEntry {
  /** When the request finished, ISO 8601. */
  time: string;
  /** The request id. */
  requestId?: string;
  /** The principal id (`anonymous` when none). */
  principal: string;
  /** The API key id that authenticated the request. */
  keyId?: string;
  /** The action (`infer`, `read`, ...). */
  action?: string;
  /** The model name. */
  model?: string;
  /** The model version. */
  version?: string;
  /** `ok`, or the error code that ended the request. */
  outcome: 'ok' | ErrorCode;
  /** The HTTP status answered, when served over HTTP. */
  status?: number;
  /** Time from request to answer, ms. */
  latencyMs: number;
  /**
   * HMAC-SHA256 (hex) of the input under the log's `inputHashKey`, to correlate requests without
   * storing them. Keyed, so that someone holding the log cannot confirm a guessed input.
   */
  inputHash?: string;
  /** The input, after redaction; only when `includeInputs` is on. */
  input?: unknown;
  /** Tokens a streamed answer used, as the model reported them (completed streams that report usage). */
  usage?: Usage;
}

/** What callers pass to {@link AuditLog.record}: an entry without `time`/`inputHash`, plus the raw input. */
export type AuditRecord = Omit<AuditEntry, 'time' | 'inputHash' | 'input' | 'principal'> & {
  /** The principal id; default `anonymous`. */
  principal?: string;
  /** The raw input; hashed always, logged (redacted) only with `includeInputs`. */
  input?: unknown;
};

/** Where audit lines go: anything with `write(line)` (a Node writable stream, a {@link fileSink}). */
export interface AuditSink {
  /** Writes one line (ending in `\n`). */
  write(line: string): unknown;
  /** Flushes and closes, if the sink owns a resource. */
  close?(): Promise<void>;
}

/** Options of {@link auditLog}. */
export interface AuditLogOptions {
  /** Where lines go: a writable stream (process.stdout, a socket) or a {@link fileSink}. */
  sink: AuditSink | NodeJS.WritableStream;
  /** Log inputs (after redaction). Default false: only their hash is logged. */
  includeInputs?: boolean;
  /** Fields and patterns redacted from logged inputs. */
  redact?: RedactionOptions;
  /** The clock for `time`, ms since the epoch. Default `Date.now`. */
  clock?: () => number;
  /**
   * The key of the `inputHash` HMAC (at least 32 bytes). Give every replica the same key (from
   * your secret manager) to correlate inputs across them and across restarts. Default: a random
   * key made once per process, so hashes match only within one process's lifetime.
   */
  inputHashKey?: string | Uint8Array;
}

/** Writes one JSON line per request. */
export interface AuditLog {
  /** Writes an entry. Never throws: a failing sink is counted in `failures`. */
  record(entry: AuditRecord): void;
  /** Lines the sink refused. */
  readonly failures: number;
  /** Closes the sink when it is closable. */
  close(): Promise<void>;
}

function toJsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return Array.from(value as unknown as ArrayLike<number>, Number);
  return value;
}

// The default inputHash key: random, once per process.
const processInputHashKey = randomBytes(32);

/**
 * HMAC-SHA256 (hex) of an input under `key`: bytes hash as they are, anything else as its JSON
 * (typed arrays as number arrays, bigints as strings). Keyed so that a hash in a log does not let
 * its reader test guesses of a redacted input. `key` defaults to a random key made once per process.
 *
 * @example
 * hashInput({ text: 'hello' }, process.env.AUDIT_HASH_KEY!); // '8a1b…'
 */
export function hashInput(input: unknown, key: string | Uint8Array = processInputHashKey): string {
  const hash = createHmac('sha256', key);
  if (input instanceof Uint8Array) hash.update(input);
  else hash.update(JSON.stringify(input, toJsonSafe) ?? 'undefined');
  return hash.digest('hex');
}

/**
 * An audit log writing JSON lines.
 *
 * @example
 * const audit = auditLog({ sink: fileSink({ path: './audit/ballast.log' }), redact: { fields: ['email'] } });
 * audit.record({ principal: 'checkout', model: 'fraud', outcome: 'ok', latencyMs: 3, input });
 */
export function auditLog(options: AuditLogOptions): AuditLog {
  const { sink, includeInputs = false, clock = Date.now } = options;
  if (sink === undefined || typeof (sink as AuditSink).write !== 'function') {
    throw new BallastError('CONFIG', 'auditLog: "sink" must have a write() method', { details: { path: 'sink' } });
  }
  const inputHashKey = options.inputHashKey ?? processInputHashKey;
  if (Buffer.byteLength(typeof inputHashKey === 'string' ? Buffer.from(inputHashKey, 'utf8') : inputHashKey) < 32) {
    throw new BallastError('CONFIG', 'auditLog: "inputHashKey" must be at least 32 bytes', { details: { path: 'inputHashKey' } });
  }
  const redact = redactor(options.redact);
  let failures = 0;
  return {
    record(entry) {
      try {
        const { input, principal, ...rest } = entry;
        const line: AuditEntry = {
          time: new Date(clock()).toISOString(),
          principal: principal ?? 'anonymous',
          ...rest,
          ...(input === undefined ? {} : { inputHash: hashInput(input, inputHashKey) }),
          ...(includeInputs && input !== undefined ? { input: redact(input) } : {}),
        };
        sink.write(`${JSON.stringify(line, toJsonSafe)}\n`);
      } catch {
        failures++;
      }
    },
    get failures() {
      return failures;
    },
    async close() {
      const closable = sink as AuditSink;
      if (typeof closable.close === 'function') await closable.close();
    },
  };
}

/** Options of {@link fileSink}. */
export interface FileSinkOptions {
  /** The active log file. Rotated files sit next to it as `<name>.<timestamp>`. */
  path: string;
  /** Rotate when the file reaches this many bytes. Default 10 MiB. */
  maxBytes?: number;
  /** Rotate when the file is older than this, ms. Default 24 h. */
  maxAgeMs?: number;
  /** Rotated files kept; older ones are deleted. Default 7. */
  maxFiles?: number;
  /** The clock, ms since the epoch. Default `Date.now`. */
  clock?: () => number;
}

/** A file sink: an {@link AuditSink} with size/age rotation. */
export interface FileSink extends AuditSink {
  /** Rotates now (also done automatically). */
  rotate(): void;
  /** The last write error, if any. */
  readonly lastError: unknown;
}

function sinkError(message: string, error: unknown): BallastError {
  return new BallastError('CONFIG', message, { cause: error, details: { errno: (error as NodeJS.ErrnoException | undefined)?.code } });
}

/*
 * Rotation renames the open file and opens a new one. On POSIX the old stream keeps writing its
 * queued lines into the renamed file, so no line is lost or split across files and no write waits
 * for the rotation. Rotation work (stat, rename, readdir) is synchronous but runs only when a
 * threshold is crossed.
 */

/**
 * An append-only file sink with rotation by size and by age.
 *
 * @example
 * const sink = fileSink({ path: '/var/log/ballast/audit.log', maxBytes: 50 * 1024 * 1024, maxAgeMs: 86_400_000, maxFiles: 14 });
 */
export function fileSink(options: FileSinkOptions): FileSink {
  const { path, maxBytes = 10 * 1024 * 1024, maxAgeMs = 86_400_000, maxFiles = 7, clock = Date.now } = options;
  if (typeof path !== 'string' || path.length === 0) {
    throw new BallastError('CONFIG', 'fileSink: "path" must be a non-empty string', { details: { path: 'path' } });
  }
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (error) {
    throw sinkError(`fileSink: cannot create the directory of ${path}`, error);
  }
  let size = 0;
  let openedAt = clock();
  try {
    const stat = statSync(path);
    size = stat.size;
    openedAt = stat.birthtimeMs > 0 ? stat.birthtimeMs : stat.mtimeMs;
  } catch {
    // No file yet: it is created by the first write.
  }
  let lastError: unknown;
  let sequence = 0;
  const open = (): WriteStream => {
    // Opened synchronously so the file exists at once and a rotation can rename it right away.
    const stream = createWriteStream(path, { fd: openSync(path, 'a', 0o600) });
    stream.on('error', (error) => {
      lastError = error;
    });
    return stream;
  };
  let stream: WriteStream;
  try {
    stream = open();
  } catch (error) {
    throw sinkError(`fileSink: cannot open ${path}`, error);
  }

  const prune = () => {
    const directory = dirname(path);
    const base = `${basename(path)}.`;
    const rotated = readdirSync(directory)
      .filter((name) => name.startsWith(base))
      .sort();
    for (const name of rotated.slice(0, Math.max(0, rotated.length - maxFiles))) {
      try {
        unlinkSync(join(directory, name));
      } catch (error) {
        lastError = error;
      }
    }
  };

  const rotate = () => {
    const stamp = new Date(clock()).toISOString().replace(/[:.]/g, '-');
    sequence = (sequence + 1) % 1000;
    try {
      renameSync(path, `${path}.${stamp}-${String(sequence).padStart(3, '0')}`);
    } catch (error) {
      // Nothing written yet (ENOENT) is fine; anything else is reported and writing continues.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') lastError = error;
    }
    let next: WriteStream;
    try {
      next = open();
    } catch (error) {
      // The file cannot be opened again: keep writing to the renamed one and report it.
      lastError = sinkError(`fileSink: cannot open ${path}`, error);
      return;
    }
    stream.end();
    stream = next;
    size = 0;
    openedAt = clock();
    prune();
  };

  return {
    write(line: string) {
      const bytes = Buffer.byteLength(line);
      if (size === 0) openedAt = Math.min(openedAt, clock());
      if (size > 0 && (size + bytes > maxBytes || clock() - openedAt >= maxAgeMs)) rotate();
      else if (size === 0 && clock() - openedAt >= maxAgeMs) openedAt = clock();
      size += bytes;
      return stream.write(line);
    },
    rotate,
    get lastError() {
      return lastError;
    },
    close() {
      return new Promise<void>((resolve) => {
        stream.end(() => resolve());
      });
    },
  };
}
