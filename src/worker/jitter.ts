// Seeded jitter at preemption points: short random delays that widen race
// windows (as KCSAN's delays do) without changing what the code does.
import { prandom_u32 } from '../cpu/current.js';
import { set_preempt_hooks } from '../sync/preempt.js';
import { recording_hooks } from './sched_record.js';
import { adaptive_point, delay } from './overlap.js';

export const JITTER_NONE = 0, JITTER_LIGHT = 1, JITTER_HEAVY = 2;
/** load: give up the core at preemption points while the CPUs are seen not to run at once (src/worker/overlap.ts) */
export const JITTER_ADAPTIVE = 3;
export const JITTER_NAMES = ['none', 'light', 'heavy', 'adaptive'] as const;
/** a flag on the level: also number every step and lock hand-off (mmrace capture, src/worker/sched_record.ts) */
export const JITTER_RECORD = 4;
/** load: a flag on JITTER_ADAPTIVE: engaged whatever the overlap (tests exercise its yields on any machine) */
export const JITTER_ADAPTIVE_ALWAYS = 8;


function light(): void {
  const r = prandom_u32();
  if ((r & 63) === 0) delay((r >>> 8) & 255);
}

function heavy(): void {
  const r = prandom_u32();
  if ((r & 7) === 0) delay((r >>> 8) & 2047);
}

export function install_jitter(level: number): void {
  const lv = level & ~(JITTER_RECORD | JITTER_ADAPTIVE_ALWAYS);
  const delay = lv === JITTER_HEAVY ? heavy : lv === JITTER_LIGHT ? light : lv === JITTER_ADAPTIVE ? adaptive_point : null;
  if ((level & JITTER_RECORD) === 0) { set_preempt_hooks(delay, null); return; }
  const rec = recording_hooks(delay);
  set_preempt_hooks(rec.point, null, { record: rec.record });
}
