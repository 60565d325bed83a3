// bench/perf_sites.ts's reading of `perf script`: a sample on an Atomics
// builtin is charged to the JS function that called it, every JS function on
// a stack counts once per sample (inclusive), other commands' samples are
// left out, and the comparison orders sites by their growth per operation.
import { describe, expect, it } from 'vitest';
import { compare, parse_perf_script } from '../bench/perf_sites.js';

const sample = (comm: string, frames: string[]) =>
  `${comm} 24008 [000]  5100.033162:     500250 cpu-clock:ppp: \n${frames.map((f) => `\t    7f8ab40905c7 ${f}`).join('\n')}\n`;
const js = (name: string, file: string) => `JS:*${name} file:///work/main/dist/src/${file}:151:28+0x207 (/tmp/perf-23995.map)`;

const text = [
  sample('node', ['Builtins_AtomicsAdd+0x648 (/usr/bin/node)', js('trace_event', 'cpu/events.js'), js('do_wp_page', 'mm/memory.js'), js('user_access', 'cpu/mmu.js')]),
  sample('node', ['Builtins_AtomicsAdd+0x654 (/usr/bin/node)', js('trace_event', 'cpu/events.js'), js('user_access', 'cpu/mmu.js')]),
  sample('node', ['Builtins_AtomicsStore+0x614 (/usr/bin/node)', js('alloc_page', 'mm/page_alloc.js'), js('user_access', 'cpu/mmu.js')]),
  sample('node', [js('user_access', 'cpu/mmu.js'), 'Builtins_InterpreterEntryTrampoline+0xdc (/usr/bin/node)', js('user_access', 'cpu/mmu.js')]),
  sample('perf', ['Builtins_AtomicsAdd+0x648 (/usr/bin/node)', js('trace_event', 'cpu/events.js')]),
].join('\n');

describe('perf_sites: perf script, charged to kernel paths', () => {
  it('charges each Atomics sample to its JS caller, counts stacks inclusively once, and keeps only the command asked for', () => {
    const p = parse_perf_script(text);
    expect(p.samples).toBe(4);
    expect(Object.fromEntries(p.sites)).toEqual({
      'Atomics.add in trace_event (src/cpu/events.js)': 2,
      'Atomics.store in alloc_page (src/mm/page_alloc.js)': 1,
    });
    expect(p.inclusive.get('user_access (src/cpu/mmu.js)')).toBe(4); // twice on one stack, counted once
    expect(p.inclusive.get('trace_event (src/cpu/events.js)')).toBe(2);
    expect(p.inclusive.get('do_wp_page (src/mm/memory.js)')).toBe(1);
  });

  it('compares per 1000 operations, the largest growth first', () => {
    const one = parse_perf_script(text);
    const two = parse_perf_script(text + '\n' + text.split('\n\n')[0] + '\n'); // one more trace_event sample
    const rows = compare(one, 1000, two, 1000, 'sites', 2);
    expect(rows[0]).toMatch(/^\s+2\.00\s+3\.00\s+Atomics\.add in trace_event/);
    expect(rows).toHaveLength(2);
    // at twice the operations, the same samples are half as many per operation: growth turns negative
    expect(compare(one, 1000, one, 2000, 'sites', 1)[0]).toMatch(/^\s+1\.00\s+0\.50\s+Atomics\.store in alloc_page/);
  });
});
