import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.shared';

// session-worker is the worker threads' entry: worker-backend.ts loads it from next to the bundle
// (dist/session-worker.js from index.js, dist/session-worker.cjs from index.cjs).
export default defineConfig(
  packageBuild({ index: 'src/index.ts', testing: 'src/testing.ts', cli: 'src/cli.ts', 'session-worker': 'src/session-worker.ts' }),
);
