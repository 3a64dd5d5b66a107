/*
 * The Grafana dashboard and the alerting rules in examples/, checked against a real Prometheus
 * server scraping a real Ballast service: every panel query parses and returns a series, the
 * scrape passes `promtool check metrics`, and the rules pass `promtool check rules` and their
 * unit tests (`promtool test rules`).
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BallastError, batching, defineModel, emit, pipeline } from '@ballast/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTelemetry, type Telemetry } from '../src/node.js';

const root = join(import.meta.dirname, '../../..');
const dashboardPath = join(root, 'examples/grafana/ballast-dashboard.json');
const alertsDir = join(root, 'examples/prometheus');
const has = (binary: string) => spawnSync(binary, ['--version'], { stdio: 'ignore' }).status === 0;
const available = has('prometheus') && has('promtool');
// CI installs Prometheus (.ci/run); elsewhere these tests are skipped rather than failing on a missing binary.
const describeWithPrometheus = available || process.env.CI ? describe : describe.skip;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Target {
  readonly expr: string;
  readonly refId: string;
}
interface Panel {
  readonly title: string;
  readonly type: string;
  readonly targets?: readonly Target[];
}

/** What Grafana puts in place of the dashboard's variables: every model and monitor, a 1 min rate window. */
function substitute(expr: string): string {
  return expr.replaceAll('$__rate_interval', '1m').replaceAll('$__range', '5m').replaceAll('$model', '.*').replaceAll('$monitor', '.*');
}

describeWithPrometheus('the dashboard and alerts against a real Prometheus', () => {
  let telemetry: Telemetry;
  let prometheus: ChildProcess;
  let prometheusUrl: string;
  let dataDir: string;
  let prometheusLog = '';

  const query = async (
    expr: string,
  ): Promise<{ status: string; error?: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } }> => {
    const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    return (await response.json()) as never;
  };

  /** One wave of traffic through a small service: batched calls (some fail), a model that never fails, a nested call, and the events of the other packages. */
  const traffic = async (scorer: ReturnType<typeof scorerModel>, ranker: ReturnType<typeof rankerModel>) => {
    await Promise.allSettled(Array.from({ length: 24 }, (_, i) => scorer.infer(i)));
    await Promise.all(Array.from({ length: 10 }, (_, i) => ranker.infer(i)));
    const router = pipeline(defineModel({ name: 'router', infer: (x: number) => ranker.infer(x) }));
    await router.infer(3);
    emit('breaker', { model: 'scorer', from: 'closed', to: 'open', reason: 'failure-ratio' });
    emit('retry', { model: 'scorer', attempt: 1, delayMs: 10, error: new BallastError('OVERLOADED', 'busy') });
    emit('hedge', { model: 'scorer', afterMs: 20 });
    emit('fallback', { model: 'scorer', source: 'static', index: 0, error: new BallastError('TIMEOUT', 'slow'), served: true });
    emit('cache', { model: 'scorer', result: 'hit' });
    emit('cache', { model: 'scorer', result: 'miss' });
    emit('rejection', { model: 'scorer', code: 'OVERLOADED', source: 'batching' });
    emit('usage', { model: 'scorer', provider: 'cpu', inputTokens: 12, outputTokens: 3, items: 1 });
    emit('drift', {
      monitor: 'inputs',
      feature: 'x',
      test: 'ks',
      statistic: 0.4,
      pValue: 0.001,
      threshold: 0.05,
      drifted: true,
      windowSize: 100,
    });
  };
  const scorerModel = () =>
    pipeline(
      defineModel({
        name: 'scorer',
        version: '2',
        infer: async (x: number) => x,
        inferBatch: async (xs: readonly number[]) => {
          await sleep(2);
          if (xs.includes(13)) throw new BallastError('UPSTREAM', 'unlucky batch');
          return [...xs];
        },
      }),
      batching({ maxBatchSize: 8 }),
    );
  const rankerModel = () => pipeline(defineModel({ name: 'ranker', infer: async (x: number) => x * 2 }));

  beforeAll(async () => {
    telemetry = await startTelemetry({
      serviceName: 'dashboard-check',
      prometheus: { port: 0, host: '127.0.0.1' },
      instrument: { costs: [{ model: 'scorer', perCall: 0.001 }] },
    });
    emit('modelLoad', {
      model: 'scorer',
      version: '2',
      provider: 'cpu',
      durationMs: 120,
      attempts: [{ provider: 'cpu', ok: true }],
      phase: 'load',
    });
    const target = new URL(telemetry.metricsUrl as string);
    dataDir = mkdtempSync(join(tmpdir(), 'ballast-prometheus-'));
    const port = await freePort();
    prometheusUrl = `http://127.0.0.1:${port}`;
    writeFileSync(
      join(dataDir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        '  evaluation_interval: 1s',
        'rule_files:',
        `  - ${join(alertsDir, 'ballast-alerts.yml')}`,
        'scrape_configs:',
        '  - job_name: api',
        `    metrics_path: ${target.pathname}`,
        '    static_configs:',
        `      - targets: ['${target.host}']`,
        '',
      ].join('\n'),
    );
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${join(dataDir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dataDir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    prometheus.stderr?.on('data', (chunk: Buffer) => {
      prometheusLog += chunk.toString();
    });
    const scorer = scorerModel();
    const ranker = rankerModel();
    // Wait until Prometheus serves queries, then run traffic between scrapes so every counter and
    // histogram has increased inside the rate window.
    for (let i = 0; ; i++) {
      if (prometheus.exitCode !== null) throw new Error(`prometheus exited: ${prometheusLog}`);
      const ready = await fetch(`${prometheusUrl}/-/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) break;
      if (i > 150) throw new Error(`prometheus did not become ready: ${prometheusLog}`);
      await sleep(100);
    }
    await traffic(scorer, ranker);
    for (let i = 0; ; i++) {
      const up = await query('up{job="api"} == 1');
      if (up.data.result.length === 1) break;
      if (i > 100) throw new Error(`the service was never scraped: ${prometheusLog}`);
      await sleep(100);
    }
    await sleep(1500);
    await traffic(scorer, ranker);
    await sleep(2500);
  });

  afterAll(async () => {
    if (prometheus !== undefined && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus.once('exit', resolve));
      prometheus.kill('SIGTERM');
      await exited;
    }
    await telemetry?.shutdown();
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers every panel query of the dashboard with at least one series', async () => {
    const dashboard = JSON.parse(readFileSync(dashboardPath, 'utf8')) as {
      panels: Panel[];
      templating: { list: { name: string; query?: { query: string } }[] };
    };
    const targets = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel: panel.title, ...target })));
    expect(targets.length).toBeGreaterThan(20);
    const empty: string[] = [];
    for (const target of targets) {
      const answer = await query(substitute(target.expr));
      expect(answer.status, `${target.panel} ${target.refId}: ${answer.error}`).toBe('success');
      if (answer.data.result.length === 0) empty.push(`${target.panel} (${target.refId}): ${target.expr}`);
    }
    expect(empty).toEqual([]);
    // The variables' label_values() queries list the models and monitors.
    for (const variable of dashboard.templating.list) {
      const match = /^label_values\((\w+), (\w+)\)$/.exec(variable.query?.query ?? '');
      if (match === null) continue;
      const response = await fetch(`${prometheusUrl}/api/v1/label/${match[2]}/values?match[]=${match[1]}`);
      const { data } = (await response.json()) as { data: string[] };
      expect(data.length, variable.name).toBeGreaterThan(0);
    }
  });

  it('shows an error ratio of 0, not "no data", for a model with no failed call', async () => {
    const panel = JSON.parse(readFileSync(dashboardPath, 'utf8')).panels.find((p: Panel) => p.title === 'Error ratio') as Panel;
    const answer = await query(substitute(panel.targets?.[0]?.expr as string));
    const byModel = Object.fromEntries(answer.data.result.map((r) => [r.metric.gen_ai_request_model, Number(r.value[1])]));
    expect(byModel.ranker).toBe(0);
    expect(byModel.router).toBe(0);
    expect(byModel.scorer).toBeGreaterThan(0);
  });

  it('counts each call once: nested calls are not in the request rate', async () => {
    // Two waves of 10 ranker calls plus the router's inner call, recorded apart.
    const calls = await query('sum by (gen_ai_request_model) (ballast_inference_duration_seconds_count)');
    const byModel = Object.fromEntries(calls.data.result.map((r) => [r.metric.gen_ai_request_model, Number(r.value[1])]));
    expect(byModel).toMatchObject({ ranker: 20, router: 2, scorer: 48 });
    const nested = await query('sum by (gen_ai_request_model) (ballast_inference_nested_duration_seconds_count)');
    expect(nested.data.result.map((r) => [r.metric.gen_ai_request_model, Number(r.value[1])])).toEqual([['ranker', 2]]);
  });

  it('loads the alerting rules into the server', async () => {
    const response = await fetch(`${prometheusUrl}/api/v1/rules`);
    const { data } = (await response.json()) as { data: { groups: { name: string; rules: { name: string; health: string }[] }[] } };
    const rules = data.groups.flatMap((group) => group.rules);
    expect(rules.length).toBeGreaterThanOrEqual(8);
    // Evaluated at least once by now, without errors.
    for (const rule of rules) expect(rule.health, rule.name).toBe('ok');
  });

  it('serves a scrape that passes promtool check metrics', async () => {
    const text = await (await fetch(telemetry.metricsUrl as string)).text();
    const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${result.stdout}${result.stderr}`.trim()).toBe('');
    expect(result.status).toBe(0);
  });

  it('checks the alerting rules and runs their unit tests with promtool', () => {
    const check = execFileSync('promtool', ['check', 'rules', 'ballast-alerts.yml'], { cwd: alertsDir, encoding: 'utf8' });
    expect(check).toMatch(/SUCCESS: \d+ rules found/);
    const tests = spawnSync('promtool', ['test', 'rules', 'ballast-alerts.test.yml'], { cwd: alertsDir, encoding: 'utf8' });
    expect(tests.stdout + tests.stderr).toContain('SUCCESS');
    expect(tests.status).toBe(0);
  });
});
