import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.shared';

// `node` is the opt-in entry that imports the OpenTelemetry SDK; `index` imports the API only.
export default defineConfig(packageBuild({ index: 'src/index.ts', node: 'src/node.ts' }));
