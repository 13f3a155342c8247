// report_width.js: opens `rbench report` pages in Debian's chromium (playwright-core) at a
// laptop's and a desktop's size and fails when a page is wider than the window (a reader
// would have to scroll sideways), when the headline is missing, or when the page logs errors:
// the direct-vs-batched page, and the six placements of scenarios/placements.yaml compared N
// ways (a column per group).
// Usage: node report_width.js RBENCH WORKDIR   (RBENCH_SCREENSHOT_DIR=DIR keeps screenshots)
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (e) {
  console.error('report_width.js: playwright-core is not installed in tests/browser: run tools/install-deps.sh');
  process.exit(1);
}

const [rbench, work] = process.argv.slice(2);
if (!rbench || !work) {
  console.error('usage: node report_width.js RBENCH WORKDIR');
  process.exit(2);
}

// A results document as rbench run writes it (docs/results.md), with the Redis and agent
// sections; values are made up, the shape is the real one.
function resultsDoc(run, batching, rep, reps) {
  const raw = [];
  for (let i = 0; i < 120; i++) {
    const exec = (batching ? 2.2 : 1.6) + ((i * 37) % 50) / 40 + rep * 0.05;
    raw.push({ index: i, intended_ms: i * 50, sent_ms: i * 50 + 0.1, end_ms: i * 50 + exec,
               execution_time_ms: exec, service_time_ms: exec - 0.1, success: i % 41 !== 7,
               outcome: i % 41 !== 7 ? 'success' : 'timeout' });
  }
  const doc = {
    schema_version: 1, complete: true, rbench: { name: 'rbench', version: '0.1.0', git_commit: 'test' },
    host: { hostname: 'laptop-with-a-rather-long-host-name.example.internal', os: 'Linux 6.1.0-18-amd64 x86_64', cpus: 8 },
    target: 'local', action: '/opt/rbench/build/release/action/rbench-action',
    scenario: { name: 'quickstart', description: 'direct vs batched Redis access on the local target',
                run, repetition: rep, repetitions: reps, target: { kind: 'local', pool_size: 4 },
                parameters: { name: run, rate: 20, invocations: 120, duration: 0, warmup: 1, ops: 50,
                              operation: 'set', batching, parallel: 5, value_size: 64, key_space: 0,
                              max_in_flight: 50 },
                config: { redis_host: '127.0.0.1', redis_port: 6379, redis_password_set: false,
                          agent_host: '127.0.0.1', agent_port: 6380, agent_password_set: false } },
    start_time_ms: 1796278598619, duration_s: 6, requested_rate: 20, achieved_rate: 20, throughput: 19.5,
    invocations: { planned: 120, sent: 120, completed: 120, warmup: 0, measured: 120, succeeded: 117, failed: 3 },
    success_rate: 117 / 120, error_rate: 3 / 120,
    execution_time_ms: { p50: 2, p90: 2.9, p99: 3.1, min: 1.6, max: 3.2, mean: 2.1, count: 117 },
    redis: { endpoint: '127.0.0.1:6379', cpu_us_per_op: batching ? 9 + rep : 40 + rep, commands_per_op: 1.002,
             reads_per_op: batching ? 0.2 : 1, writes_per_op: batching ? 0.2 : 1, bytes_per_op: 85,
             shared: false, note: null },
    raw_results: raw,
  };
  if (batching) {
    doc.agent = { endpoint: 'http://127.0.0.1:9121/metrics', commands: 6000, batches: 1100,
                  commands_per_batch: { mean: 5.4, p50: 4, p99: 16 }, cpu_us_per_op: 11 + rep };
    doc.backend_cpu_us_per_op = doc.redis.cpu_us_per_op + doc.agent.cpu_us_per_op;
  } else {
    doc.backend_cpu_us_per_op = doc.redis.cpu_us_per_op;
  }
  return doc;
}

function sweepDoc(run, max) {
  const steps = [50, 100, 200, 400, 800, 1600].filter((r) => r <= max * 2).map((rate) => ({
    rate, documents: [`rate-${rate}/r1.json`], repetitions: 1, achieved_rate: rate * 0.99, throughput: rate * 0.98,
    p50_ms: 2 + rate / max, p99_ms: rate <= max ? 10 : 60, error_rate: 0, met_slo: rate <= max, failed: [],
    runner_limited: false }));
  return { schema_version: 1, kind: 'sweep', scenario: { name: 'sweep' }, run,
           slo: { p99_ms: 50, max_error_rate: 0.01, min_achieved_ratio: 0.95 }, steps, max_sustainable_rate: max };
}

function writeResults(dir) {
  for (const [run, batching] of [['direct', false], ['batched', true]]) {
    fs.mkdirSync(path.join(dir, run), { recursive: true });
    for (let r = 1; r <= 5; r++)
      fs.writeFileSync(path.join(dir, run, `r${r}.json`), JSON.stringify(resultsDoc(run, batching, r, 5)));
    fs.mkdirSync(path.join(dir, `sweep-${run}`), { recursive: true });
    fs.writeFileSync(path.join(dir, `sweep-${run}`, 'sweep.json'), JSON.stringify(sweepDoc(run, batching ? 800 : 400)));
  }
}

// The placements matrix (scenarios/placements.yaml): six groups with their placement params.
const placements = [
  ['direct', { placement: 'direct' }, 40],
  ['runtime-c1', { placement: 'runtime', action_concurrency: 1 }, 30],
  ['runtime-c8', { placement: 'runtime', action_concurrency: 8 }, 12],
  ['agent', { placement: 'agent', backend: 'start' }, 25],
  ['agent-coalesce', { placement: 'agent', backend: 'start', layer_args: '--coalesce' }, 22],
  ['nutcracker', { placement: 'agent', backend: 'start', layer: 'nutcracker' }, 38],
];

function writePlacements(dir) {
  for (const [run, params, cpu] of placements) {
    fs.mkdirSync(path.join(dir, run), { recursive: true });
    for (let r = 1; r <= 5; r++) {
      const doc = resultsDoc(run, params.placement === 'agent', r, 5);
      Object.assign(doc.scenario.parameters, params);
      doc.redis.cpu_us_per_op = cpu + r;
      doc.backend_cpu_us_per_op = cpu + r + (doc.agent ? doc.agent.cpu_us_per_op : 0);
      if (params.placement === 'runtime') doc.action_cpu = { cpu_s: 1.5, cpu_us_per_op: 20 + r, processes: 4 };
      fs.writeFileSync(path.join(dir, run, `r${r}.json`), JSON.stringify(doc));
    }
  }
}

async function main() {
  const results = path.join(work, 'results');
  const html = path.join(work, 'report.html');
  writeResults(results);
  const stdout = execFileSync(rbench, ['report', results, '-o', html], { encoding: 'utf8' });
  if (!/^headline: batching cut Redis CPU per operation/m.test(stdout)) throw new Error(`no headline line: ${stdout}`);
  const matrix = path.join(work, 'placements');
  const matrixHtml = path.join(work, 'placements.html');
  writePlacements(matrix);
  const out2 = execFileSync(rbench, ['report', matrix, '-o', matrixHtml], { encoding: 'utf8' });
  if (!/^headline: runtime batching \(C=8\) cut backend CPU\/op/m.test(out2)) throw new Error(`no N-way headline line: ${out2}`);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
  });
  let failed = 0;
  const pages = [
    [html, 'report', 'Batching cut Redis CPU per operation', 5],
    [matrixHtml, 'placements', 'Runtime batching (C=8) cut backend CPU/op', 4],
  ];
  try {
    for (const [file, name, headline, svgs] of pages) for (const [width, height] of [[1366, 768], [1920, 1080]]) {
      const page = await browser.newPage({ viewport: { width, height } });
      const errors = [];
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('request', (r) => { if (!r.url().startsWith('file:')) errors.push(`request beyond the file: ${r.url()}`); });
      await page.goto('file://' + file);
      const m = await page.evaluate(() => ({
        scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth,
        headline: (document.querySelector('.headline') || {}).textContent || '',
        svgs: document.querySelectorAll('svg').length,
      }));
      const problems = [];
      if (m.scroll > m.client) problems.push(`page is ${m.scroll} px wide in a ${m.client} px window`);
      if (!m.headline.startsWith(headline)) problems.push(`headline: "${m.headline}"`);
      if (m.svgs !== svgs) problems.push(`${m.svgs} plots, expected ${svgs}`);
      problems.push(...errors);
      if (process.env.RBENCH_SCREENSHOT_DIR)
        await page.screenshot({ path: path.join(process.env.RBENCH_SCREENSHOT_DIR, `${name}-${width}.png`), fullPage: true });
      console.log(`${name} ${width}x${height}: scrollWidth ${m.scroll}, clientWidth ${m.client}: ${problems.length ? 'FAIL' : 'ok'}`);
      for (const p of problems) console.log(`  ${p}`);
      failed += problems.length ? 1 : 0;
      await page.close();
    }
  } finally {
    await browser.close();
  }
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
