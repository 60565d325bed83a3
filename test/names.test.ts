// Names that say what they hold (issue 18, item 5): a scenario's patch id is
// `patch` (a module's old `seed` is still read), and a typed view of the
// Machine read before a machine is attached fails loudly, naming the view.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SCENARIOS, loadScenario } from '../src/scenarios/registry.js';
import { SWITCHES } from '../src/shm/switches.js';
import { BASES, createMachineBuffer, f64, i32, u8 } from '../src/shm/machine.js';
import { BOOT_CPU, current, enter_boot_context, set_current_cpu } from '../src/cpu/current.js';

const tmp = mkdtempSync(join(tmpdir(), 'mmrace-names-'));
const mod = (file: string, fields: string) => {
  const p = join(tmp, file);
  writeFileSync(p, `export default { name: 'n', ${fields} roles: (n) => Array(n).fill('r'), setup: () => ({}), run: () => {} };\n`);
  return p;
};

describe('Scenario.patch', () => {
  it('every built-in scenario and switch names its seed patch in `patch`', () => {
    for (const s of SCENARIOS) expect(s.patch, s.name).toMatch(/^\d{3}_[0-9a-f]{16}$|^2\.6\.32 /);
    for (const w of SWITCHES) expect(w.patch, w.name).toMatch(/^\d{3}_[0-9a-f]{16}$|^2\.6\.32 |^5\.14 /); // or the later kernel whose fix it is
  });
  it('a module\'s `patch` is read; its deprecated `seed` still is; neither gives -', async () => {
    expect((await loadScenario(mod('a.mjs', "patch: '001_390dd438745448cc',"))).patch).toBe('001_390dd438745448cc');
    expect((await loadScenario(mod('b.mjs', "seed: '000_f600569768ae13bb',"))).patch).toBe('000_f600569768ae13bb');
    expect((await loadScenario(mod('c.mjs', "patch: '001_390dd438745448cc', seed: '000_f600569768ae13bb',"))).patch).toBe('001_390dd438745448cc');
    expect((await loadScenario(mod('d.mjs', ''))).patch).toBe('-');
  });
});

describe('typed views before attach', () => {
  it('reading or writing i32, f64 or u8 before a Machine is attached throws an Error naming the view', () => {
    // nothing in this file attaches a Machine before this point
    expect(() => i32[0]).toThrow(/mmrace: i32 .*before a Machine is attached/);
    expect(() => { f64[3] = 1; }).toThrow(/mmrace: f64 .*before a Machine is attached/);
    expect(() => u8.length).toThrow(/mmrace: u8 .*before a Machine is attached/);
    createMachineBuffer({ nr_pages: 64, nr_mm: 2, nr_vma: 2, nr_anon_vma: 2, nr_cpus: 1 });
    expect(i32[BASES.pages]).toBe(0);
    expect(f64.length).toBeGreaterThan(0);
  });
});

describe('the boot context', () => {
  it('the main thread boots as the boot context, not as a simulated CPU', () => {
    createMachineBuffer({ nr_pages: 64, nr_mm: 2, nr_vma: 2, nr_anon_vma: 2, nr_cpus: 2 });
    enter_boot_context(7);
    expect([current.boot, current.cpu]).toEqual([true, BOOT_CPU]);
    const rng = current.rng;
    set_current_cpu(BOOT_CPU, 7); // the same records and RNG stream as before, so boot and setup behave as they did
    expect([current.boot, current.cpu, current.rng]).toEqual([false, BOOT_CPU, rng]);
  });
});
