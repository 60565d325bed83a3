// The installable package: `npm pack`, the tarball installed into an empty
// project as a user would (npm install <tarball>), then the `mmrace` bin, a
// scenario module of the user's that imports from 'mmrace', the
// programmatic API, and the worked example's test file (examples/
// lock-two-pages.test.mjs) run by vitest with the package's matchers, all
// run from that project. The project holds a decoy
// dist/workers/cpu.js that throws: the CPU workers must come from the
// package's own files, never from the current directory.
//
// The runtime dependencies (piscina, hdr-histogram-js, uplot) come from the
// npm cache when it has them (--prefer-offline), else from the registry; with
// neither (or MMRACE_PKG_NO_REGISTRY=1) the tarball is unpacked by hand and
// they are linked from this repository's node_modules, with a warning.
// vitest (the matchers' optional peer) is linked from this repository's
// node_modules, as that fallback links the runtime dependencies.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root } from './cli_helpers.js';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const tmp = mkdtempSync(join(tmpdir(), 'mmrace-pkg-'));
const project = join(tmp, 'project');
let tarball = '';
let files: string[] = [];

function sh(cmd: string, args: string[], cwd: string, timeout = 120_000) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, CI: 'true', npm_config_update_notifier: 'false' } });
  return { code: r.status, out: r.stdout ?? '', err: r.stderr ?? '' };
}

beforeAll(() => {
  if (!existsSync(join(root, 'dist/src/index.d.ts'))) throw new Error('dist/ is missing: run npm run build (npm test does)');
  // --ignore-scripts: prepack would build again; npm test has just built
  const pack = sh(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], root);
  if (pack.code !== 0) throw new Error(`npm pack failed:\n${pack.err}`);
  const info = JSON.parse(pack.out)[0] as { filename: string; files: { path: string }[] };
  tarball = join(tmp, info.filename);
  files = info.files.map((f) => f.path);
  mkdirSync(join(project, 'dist/workers'), { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-mmrace', version: '1.0.0', private: true, type: 'module' }));
  writeFileSync(join(project, 'dist/workers/cpu.js'), "throw new Error('decoy worker: resolved from the current directory');\n");
  const inst = process.env.MMRACE_PKG_NO_REGISTRY ? { code: -1, err: 'MMRACE_PKG_NO_REGISTRY set' } : sh(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund',
    '--fetch-retries=0', '--fetch-timeout=30000', tarball], project); // no network: fail at once, not after npm's minutes of retries
  if (inst.code !== 0) {
    // no registry and a cold npm cache: install by hand what npm would have, the tarball unpacked and
    // the runtime dependencies linked from this repository's node_modules (said, not silent)
    console.warn(`package.test: npm install of the tarball failed, so it is unpacked by hand:\n${inst.err.slice(-600)}`);
    mkdirSync(join(project, 'node_modules/.bin'), { recursive: true });
    const tar = sh('tar', ['xzf', tarball, '-C', join(project, 'node_modules')], project);
    if (tar.code !== 0) throw new Error(`tar failed: ${tar.err}`);
    renameSync(join(project, 'node_modules/package'), join(project, 'node_modules/mmrace'));
    const deps = JSON.parse(readFileSync(join(project, 'node_modules/mmrace/package.json'), 'utf8')).dependencies as Record<string, string>;
    for (const d of Object.keys(deps)) symlinkSync(join(root, 'node_modules', d), join(project, 'node_modules', d), 'dir');
    symlinkSync('../mmrace/dist/src/cli.js', join(project, 'node_modules/.bin/mmrace'));
    chmodSync(join(project, 'node_modules/mmrace/dist/src/cli.js'), 0o755); // as npm makes a bin executable
  }
  // a user's protocol: mutual exclusion under mm->page_table_lock. The holder marks a
  // scratch word (the mm's anon_rss, back to 0 before it unlocks: I-RSS holds at the end)
  writeFileSync(join(project, 'counter.mjs'), `import { defineScenario, mm_alloc, mm_base, MM, spin_lock, spin_unlock, LC_PAGE_TABLE_LOCK, i32, BUG_ON } from 'mmrace';
export default defineScenario({
  name: 'locked-counter', title: 'one holder at a time under page_table_lock',
  roles: ['holder'],
  setup: () => ({ mm: mm_alloc() }),
  run(ctx) {
    const lock = mm_base(ctx.setup.mm) + MM.page_table_lock, word = mm_base(ctx.setup.mm) + MM.anon_rss;
    while (!ctx.should_stop()) {
      spin_lock(lock, LC_PAGE_TABLE_LOCK);
      BUG_ON(Atomics.exchange(i32, word, 1) !== 0);
      BUG_ON(Atomics.exchange(i32, word, 0) !== 1);
      spin_unlock(lock);
      ctx.op_done();
    }
  },
});
`);
}, 180_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const npx = (...args: string[]) => sh('npx', ['--no-install', ...args], project);

describe('the package, installed from its tarball into an empty project', () => {
  it('ships dist/ (code, types, workers), not the tests, the benches or the sources', () => {
    for (const f of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/api.d.ts', 'dist/src/scenarios/define.d.ts', 'dist/src/cli.js', 'dist/workers/cpu.js', 'package.json', 'README.md']) expect(files).toContain(f);
    expect(files.filter((f) => /^(test|src|bench|workers)\//.test(f) || /^dist\/(test|bench)\//.test(f))).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(project, 'node_modules/mmrace/package.json'), 'utf8'));
    expect(pkg.exports['.']).toEqual({ types: './dist/src/index.d.ts', default: './dist/src/index.js' });
    expect(pkg.exports['./vitest']).toEqual({ types: './dist/src/vitest.d.ts', default: './dist/src/vitest.js' });
    expect(files).toContain('dist/src/vitest.js');
    // vitest is an optional peer (for the matchers): installing mmrace does not pull it in
    expect(existsSync(join(project, 'node_modules/vitest'))).toBe(false);
    expect(existsSync(join(project, 'node_modules/.bin/mmrace'))).toBe(true);
  });

  it('npx mmrace list, and a built-in scenario run from there', () => {
    const list = npx('mmrace', 'list');
    expect(list.code, list.err).toBe(0);
    expect(list.out).toMatch(/^scenarios:\n {2}orphaned-migration-entry /);
    const r = npx('mmrace', 'run', 'orphaned-migration-entry', '--protocol', 'fixed', '--ops', '1000');
    expect(r.code, r.err + r.out).toBe(0);
    expect(r.out).toMatch(/outcome: clean/);
    expect(r.out + r.err).not.toMatch(/decoy/);
  }, 60_000);

  it("explore there: the BUG's splat names the package's own TypeScript lines (its frames are not another package's)", () => {
    const r = npx('mmrace', 'explore', 'orphaned-migration-entry', '--stop-at-first', '--out', 'orphan.json');
    expect(r.code, r.err + r.out).toBe(1);
    expect(r.out).toMatch(/kernel BUG at src\/mm\/swapops\.ts:\d+!/);
    expect(r.out).toMatch(/Call Trace:\n migration_entry_to_page\+src\/mm\/swapops\.ts:\d+\n \w+\+src\/mm\/\w+\.ts:\d+\n/);
    expect(existsSync(join(project, 'orphan.json'))).toBe(true);
  }, 60_000);

  it("a scenario module of the user's that imports from 'mmrace'", () => {
    const r = npx('mmrace', 'run', './counter.mjs', '--ops', '2000', '--cpus', '2');
    expect(r.code, r.err + r.out).toBe(0);
    expect(r.out).toMatch(/outcome: clean/);
    expect(r.out).toMatch(/replay: mmrace run \.\/counter\.mjs /);
  }, 60_000);

  it('a misused defineScenario stops the module at load time with its one message (exit 2)', () => {
    writeFileSync(join(project, 'bad.mjs'), "import { defineScenario } from 'mmrace';\nexport default defineScenario({ name: 'bad', roles: ['a'], run: { b() {} } });\n");
    const r = npx('mmrace', 'run', './bad.mjs', '--ops', '10');
    expect(r.code, r.out).toBe(2);
    expect(r.err).toContain("defineScenario('bad'): role 'a' has no run.a");
  }, 60_000);

  it("types: a TypeScript file of the user's type-checks against the package's declarations", () => {
    writeFileSync(join(project, 'use.ts'), `import { run, defineScenario, defineSwitches, defineWindows, buggy, window_open, type RunReport, mm_alloc } from 'mmrace';
const own = defineSwitches({ SW_MINE: { name: 'mine', what: 'the buggy line' } });
const wins = defineWindows({ WIN_MINE: 'my window opened' });
export const s = defineScenario({ name: 'x', roles: ['a', 'b'], setup: () => ({ mm: mm_alloc() }), own_switches: own, own_windows: wins, switches: ['mine'],
  run: { a: (ctx) => { if (buggy(own.SW_MINE)) window_open(wins.WIN_MINE); ctx.op_done(); }, b: (ctx) => ctx.op_done() } });
// @ts-expect-error: a switch of another declaration's key
export const t: number = own.SW_OTHER;
export async function f(): Promise<number> {
  const r: RunReport = await run('orphaned-migration-entry', { protocol: 'fixed', ops: 10 });
  // @ts-expect-error: not a protocol (were the types any, this line would be an unused directive)
  await run('x', { protocol: 'broken' });
  // @ts-expect-error: run by role lacks role b
  defineScenario({ name: 'y', roles: ['a', 'b'], run: { a: () => {} } });
  return r.ops;
}
`);
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022',
      strict: true, noEmit: true, types: [] }, files: ['use.ts'] }));
    const r = sh(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', '.'], project);
    expect(r.code, r.out + r.err).toBe(0);
  }, 60_000);

  it('the programmatic API: run() of the same module returns its report', () => {
    writeFileSync(join(project, 'api.mjs'), `import { run } from 'mmrace';
const r = await run(new URL('./counter.mjs', import.meta.url), { ops: 500, protocol: 'fixed', expect: 'clean' });
console.log(JSON.stringify({ outcome: r.outcome, ops: r.ops, met: r.expectation_met, scenario: r.scenario }));
`);
    const r = sh(process.execPath, ['api.mjs'], project);
    expect(r.code, r.err).toBe(0);
    const got = JSON.parse(r.out.trim().split('\n').pop()!);
    expect(got).toMatchObject({ outcome: 'clean', met: true, scenario: 'locked-counter' });
    expect(got.ops).toBeGreaterThanOrEqual(500);
  }, 60_000);

  it("the worked example's test file, run by vitest in that project: the matchers against the installed package; buggy reproduced, fixed held", () => {
    for (const f of ['lock-two-pages.mjs', 'lock-two-pages.test.mjs']) copyFileSync(join(root, 'examples', f), join(project, f));
    if (!existsSync(join(project, 'node_modules/vitest'))) symlinkSync(join(root, 'node_modules/vitest'), join(project, 'node_modules/vitest'), 'dir');
    const report = join(project, 'vitest.json');
    const r = sh(process.execPath, [join(root, 'node_modules/vitest/vitest.mjs'), 'run', 'lock-two-pages.test.mjs', '--reporter=json', `--outputFile=${report}`], project, 150_000);
    expect(existsSync(report), r.out + r.err).toBe(true);
    const j = JSON.parse(readFileSync(report, 'utf8')) as { testResults: { assertionResults: { title: string; status: string; failureMessages: string[] }[] }[] };
    const results = j.testResults.flatMap((f) => f.assertionResults).map((a) => [a.title, a.status, a.failureMessages.join('\n').slice(0, 2000)]);
    expect(results).toEqual([
      ['buggy (argument order): two exchangers deadlock, ABBA', 'passed', ''],
      ['fixed (lower pfn first): holds free-running, the race window open', 'passed', ''],
      ['fixed: holds in every schedule with at most 2 preemptions', 'passed', ''],
    ]);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out + r.err).not.toMatch(/decoy/);
  }, 180_000);
});
