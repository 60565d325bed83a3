// The tree's layering, read from the TypeScript sources: what a CPU worker
// loads, and that no module imports from a layer above its own.
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..');

/** lowest first: a module may import from its own layer and those before it (drivers: seed 004's device driver, src/drivers) */
const LAYERS = ['shm', 'cpu', 'sync', 'mm', 'check', 'drivers', 'scenarios', 'worker', 'exec', 'search', 'report', 'cli'];

/**
 * Kernel-side edges that go up a layer today. Each is a call the kernel makes
 * the same way (BUG_ON from every layer, the MMU entering handle_mm_fault,
 * lock class ids sized into the Machine); none is reached from above the
 * scenarios. The list is exact: a new edge fails, and so does a fixed one
 * left here.
 */
const KNOWN = [
  'shm/machine -> sync/lock_class',
  'cpu/current -> sync/lock_class',
  'cpu/events -> sync/preempt', // clock: a controlled CPU numbers its events without an atomic RMW
  'cpu/io -> check/bug', 'cpu/io -> sync/lock_class', 'cpu/io -> sync/page_lock', 'cpu/io -> sync/preempt', 'cpu/io -> sync/spinlock',
  'cpu/mmu -> mm/memory', 'cpu/mmu -> mm/mm_types', 'cpu/mmu -> mm/mmap', 'cpu/mmu -> mm/pagewalk', 'cpu/mmu -> mm/pgtable',
  'cpu/mmu -> sync/lock_class', 'cpu/mmu -> sync/preempt', 'cpu/mmu -> sync/rwsem',
  'cpu/tlb -> sync/preempt',
  'sync/lockdep -> check/stack', 'sync/page_lock -> check/bug',
  'mm/filemap -> check/bug', 'mm/memory -> check/bug', 'mm/memory -> check/rules', 'mm/migrate -> check/bug',
  'mm/page_alloc -> check/bug', 'mm/page_alloc -> report/format', 'mm/page_io -> check/bug', 'mm/rmap -> check/bug',
  'mm/swap -> check/bug', 'mm/swap_state -> check/bug', 'mm/swapfile -> check/bounds', 'mm/swapfile -> check/bug',
  'mm/swapops -> check/bug',
  'mm/vmscan_migrate -> check/bug',
  // main's page_ref.ts (6e98eee), and seed 002's exchange.ts: a BUG_ON, as every mm/ file has
  'mm/page_ref -> check/bug', 'mm/exchange -> check/bug',
  // seed 003 (E0)
  'mm/mremap -> check/bug', 'mm/rmap_anonmm -> check/bug', 'mm/rmap_anonmm -> check/warn',
  // seed 004 (E3): the MMU's C-DEVMEM check on a device pfn and its fault-retry streak (C-LIVELOCK, kernel-notes 5.2);
  // memremap's paging-request oops; C-DEVLRU's message in add_page_to_lru
  'cpu/mmu -> check/bug', 'cpu/mmu -> check/rules', 'cpu/mmu -> check/livelock',
  'mm/memremap -> check/bug', 'mm/swap -> check/rules',
  // the package (issue 17): src/index.ts, what a scenario module imports as 'mmrace', re-exports the programmatic
  // API, which sits with the cli; api.ts imports only types statically and loads the executors when called
  'index -> api',
].sort();

interface Import { spec: string; typeOnly: boolean }

function imports(file: string): Import[] {
  const src = readFileSync(file, 'utf8');
  const re = /^\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;
  return [...src.matchAll(re)].map((m) => ({ spec: m[2], typeOnly: m[1] !== undefined }));
}

/** a relative import, as a path under ROOT without extension */
const target = (from: string, spec: string) => relative(ROOT, resolve(dirname(join(ROOT, from)), spec)).replace(/\.js$/, '');

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((n) => {
    const p = join(dir, n);
    return statSync(join(ROOT, p)).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** src/<layer>/... ; src/index.ts (a scenario module's API) sits with the scenarios; src/cli.ts, and the package's API and vitest matchers (the cli's commands as functions), with the cli */
function layer(mod: string): number {
  const m = /^src\/([^/]+)\//.exec(mod);
  if (m) return LAYERS.indexOf(m[1]);
  return mod === 'src/index' ? LAYERS.indexOf('scenarios') : ['src/cli', 'src/api', 'src/vitest'].includes(mod) ? LAYERS.indexOf('cli') : -1;
}

/** the modules a CPU worker loads (type-only imports load nothing), and the packages */
function worker_graph(): { modules: Set<string>; packages: Set<string> } {
  const modules = new Set<string>(), packages = new Set<string>();
  const walk = (mod: string) => {
    if (modules.has(mod)) return;
    modules.add(mod);
    for (const { spec, typeOnly } of imports(join(ROOT, `${mod}.ts`))) {
      if (typeOnly) continue;
      if (spec.startsWith('.')) walk(target(`${mod}.ts`, spec));
      else packages.add(spec);
    }
  };
  walk('workers/cpu');
  return { modules, packages };
}

describe('layers', () => {
  it('a CPU worker loads neither piscina nor the executors nor the search', () => {
    const { modules, packages } = worker_graph();
    expect([...packages].filter((p) => !p.startsWith('node:'))).toEqual([]);
    // report/format comes in through mm/page_alloc's dump_page (hex8), a KNOWN edge
    const bad = [...modules].filter((m) => /^src\/(exec|search|report\/(?!format$)|cli)/.test(m) || m === 'src/cli');
    expect(bad).toEqual([]);
    expect(modules.has('src/check/invariants')).toBe(false);
    expect(modules.has('src/worker/cpu_main')).toBe(true);
  });

  it('no module imports from a layer above its own', () => {
    const up: string[] = [];
    for (const file of sources('src')) {
      const mod = file.replace(/\.ts$/, '');
      expect(layer(mod), `${file} is in no layer`).toBeGreaterThanOrEqual(0);
      for (const { spec } of imports(join(ROOT, file))) {
        if (!spec.startsWith('.')) continue;
        const to = target(file, spec);
        if (layer(to) > layer(mod)) up.push(`${mod.slice(4)} -> ${to.slice(4)}`);
      }
    }
    expect([...new Set(up)].sort()).toEqual(KNOWN);
  });
});
