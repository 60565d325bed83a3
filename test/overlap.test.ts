// Issue 16 item 5: the CPUs' measured overlap in a free run and adaptive
// jitter (src/worker/overlap.ts). No timing assertions: the controller is
// tested as a function of its samples; the measure only for what holds on
// any machine (one CPU sees nobody; two CPUs running see each other at least
// after each switch); adaptive jitter forced on (JITTER_ADAPTIVE_ALWAYS)
// yields on any machine, and the fixed protocol stays clean with it.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { run_free } from '../src/exec/free_run.js';
import { find_builtin } from '../src/scenarios/registry.js';
import { JITTER_ADAPTIVE, JITTER_ADAPTIVE_ALWAYS, JITTER_NAMES } from '../src/worker/jitter.js';
import { OV_LOW, OV_ONE, OV_SHIFT, ov_low, ov_update } from '../src/worker/overlap.js';
import { build_report } from '../src/report/json.js';
import { overlap_line, text_report } from '../src/report/text.js';

const scenario = (name: string) => find_builtin(name)!;

describe('adaptive jitter: the controller', () => {
  it('starts disengaged, engages after a run of samples in which no other CPU progressed, and lets go when they overlap again', () => {
    let e = OV_ONE;
    expect(ov_low(e)).toBe(false);
    let n = 0;
    while (!ov_low(e)) { e = ov_update(e, false); n++; }
    // about 2^OV_SHIFT samples (ln 4 * 16 ~ 22), and never at the first lonely one
    expect(n).toBeGreaterThan(1);
    expect(n).toBeLessThanOrEqual(4 << OV_SHIFT);
    for (let k = 0; k < 8 << OV_SHIFT; k++) e = ov_update(e, false);
    expect(e).toBeGreaterThanOrEqual(0);
    expect(ov_low(e)).toBe(true);
    let m = 0;
    while (ov_low(e)) { e = ov_update(e, true); m++; }
    expect(m).toBeLessThanOrEqual(4 << OV_SHIFT);
    expect(e).toBeLessThanOrEqual(OV_ONE);
  });

  it('stays in [0, OV_ONE] and engages when the recent samples rarely overlap, whatever came before', () => {
    fc.assert(fc.property(fc.array(fc.boolean(), { maxLength: 200 }), fc.integer({ min: 0, max: 3 }), (history, everyK) => {
      let e = OV_ONE;
      for (const s of history) { e = ov_update(e, s); expect(e).toBeGreaterThanOrEqual(0); expect(e).toBeLessThanOrEqual(OV_ONE); }
      // then 128 samples of which at most one in 8 (everyK 0: none) saw another CPU: the CPUs time-slice one core
      for (let k = 0; k < 128; k++) e = ov_update(e, everyK > 0 && k % (8 * everyK) === 0);
      expect(e).toBeLessThan(OV_LOW);
      expect(ov_low(e)).toBe(true);
      // then 128 samples that all saw another CPU: disengaged
      for (let k = 0; k < 128; k++) e = ov_update(e, true);
      expect(ov_low(e)).toBe(false);
    }));
  });
});

describe('overlap measure', () => {
  it('reads 0 with one CPU: nobody else progresses', async () => {
    const r = await run_free({ scenario: scenario('scale'), scenarioImport: 'scale', protocol: 'fixed', cpus: 1, ops: 300, duration_ms: 0, seed: 1, jitter: 0, watchdog_ms: 30_000 });
    expect(r.outcome).toBe('clean');
    expect(r.overlap).not.toBeNull();
    expect(r.overlap!.samples).toBe(r.ops); // one sample per op
    expect(r.overlap!.fraction).toBe(0);
    expect(r.overlap!.yields).toBe(0);
    expect(overlap_line({ overlap: r.overlap!, cpus: 1 })).toBeNull();
  }, 60_000);

  it('reads > 0 with two busy CPUs, and the reports print it', async () => {
    const r = await run_free({ scenario: scenario('scale'), scenarioImport: 'scale', protocol: 'fixed', cpus: 2, ops: 2000, duration_ms: 0, seed: 1, jitter: 0, watchdog_ms: 30_000 });
    expect(r.outcome).toBe('clean');
    const o = r.overlap!;
    expect(o.samples).toBe(r.ops);
    // whether or not the two ran on two cores, each saw the other's progress at least after each switch
    expect(o.fraction).toBeGreaterThan(0);
    expect(o.fraction).toBeLessThanOrEqual(1);
    expect(o.yields).toBe(0); // no adaptive jitter asked for
    const rep = build_report(r, { ops: 2000 }, null, null, 'test');
    expect(rep.overlap).toEqual(o);
    expect(text_report(rep)).toMatch(/^overlap: another CPU progressed in \d+ % of [\d.k]+ samples \(one per op\)$/m);
  }, 60_000);
});

describe('adaptive jitter in free runs', () => {
  it('forced on, it yields, and the fixed protocol stays clean', async () => {
    for (const name of ['orphaned-migration-entry', 'exchange-writeback']) {
      const s = scenario(name);
      const r = await run_free({ scenario: s, scenarioImport: name, protocol: 'fixed', cpus: 2, ops: 0, duration_ms: 1500, seed: 7, jitter: JITTER_ADAPTIVE | JITTER_ADAPTIVE_ALWAYS, watchdog_ms: 30_000 });
      expect(r.outcome, `${name}: ${r.reason ?? ''}${r.oops?.text ?? ''}`).toBe('clean');
      expect(r.jitter).toBe('adaptive');
      expect(r.overlap!.yields).toBeGreaterThan(0);
      expect(text_report(build_report(r, { duration_ms: 1500 }, null, null, 'test'))).toMatch(/adaptive jitter gave up the core [\d.k]+ times/);
    }
  }, 60_000);

  it('is a jitter level by name', () => {
    expect(JITTER_NAMES[JITTER_ADAPTIVE]).toBe('adaptive');
  });
});
