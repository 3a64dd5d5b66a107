import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const tsxCli = require.resolve('tsx/cli');

/** Runs a TypeScript file in a new node process (tsx, workspace sources) and resolves with its stdout. */
export function runTsx(file: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [tsxCli, '--conditions=source', fileURLToPath(new URL(file, import.meta.url)), ...args],
      { timeout: 20_000 },
      (error, stdout, stderr) => (error ? reject(new Error(`${file} failed: ${stderr || error.message}`)) : resolve(stdout)),
    );
  });
}
