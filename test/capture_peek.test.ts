// Exact capture's peeks (issue 14 item 3): a step that reads or writes a word
// another CPU changes without a lock this step holds (a page's count,
// mapcount or mapping, a pgd entry, a pte the MMU reads without the PTL) is
// numbered there too (REC_PEEK_FIRST/LAST of its record), and capture replays
// an order by those numbers. Deterministic: one CPU on this thread, the
// recording hooks called as a free-running recording CPU calls them.
import { afterEach, describe, expect, it } from 'vitest';
import { BASE, boot, parent } from './helpers.js';
import { PP_LOCK_ACQUIRE, PP_RESCHED, set_preempt_hooks } from '../src/sync/preempt.js';
import {
  REC_FIELDS, REC_FIRST, REC_KIND, REC_LAST, REC_OBJECT, REC_PEEK_FIRST, REC_PEEK_LAST, recorded_steps, recording_hooks,
} from '../src/worker/sched_record.js';
import { record_keys } from '../src/search/capture_repair.js';
import { page_count, page_mapcount } from '../src/mm/mm_types.js';
import { get_page, put_page } from '../src/mm/swap.js';
import { do_mmap_anon } from '../src/mm/mmap.js';
import { PROT_READ, PROT_WRITE } from '../src/mm/mm_types.js';
import { user_access } from '../src/cpu/mmu.js';

afterEach(() => set_preempt_hooks(null, null));

/** field f of step k of this CPU's record */
const at = (rec: Int32Array, k: number, f: number) => rec[k * REC_FIELDS + f];

describe('peeks in the record', () => {
  it('a page\'s count and mapcount read or changed in a step number it; a step with none keeps -1 and is keyed by its first number', () => {
    boot();
    const p = parent(2);
    const pfn = p.pfn(0);
    const rec = recording_hooks(null);
    set_preempt_hooks(rec.point, null, { record: rec.record });
    rec.point(PP_LOCK_ACQUIRE, 77); // step 1: one peek
    page_count(pfn);
    rec.point(PP_RESCHED, -1); // step 2: no peek
    rec.point(PP_RESCHED, -1); // step 3: three peeks (a reference taken and dropped, a mapcount read)
    get_page(pfn);
    put_page(pfn);
    page_mapcount(pfn);
    const r = recorded_steps();
    expect(r.length / REC_FIELDS).toBe(4);
    expect([at(r, 1, REC_KIND), at(r, 1, REC_OBJECT)]).toEqual([PP_LOCK_ACQUIRE, 77]);
    // a peek's number comes after its step's point's, and is not its first or last (those are locks and pte reads)
    expect(at(r, 1, REC_PEEK_FIRST)).toBeGreaterThan(at(r, 1, REC_FIRST));
    expect(at(r, 1, REC_PEEK_LAST)).toBe(at(r, 1, REC_PEEK_FIRST));
    expect(at(r, 1, REC_LAST)).toBe(at(r, 1, REC_FIRST));
    expect([at(r, 2, REC_PEEK_FIRST), at(r, 2, REC_PEEK_LAST)]).toEqual([-1, -1]);
    expect(at(r, 3, REC_PEEK_LAST) - at(r, 3, REC_PEEK_FIRST)).toBe(2); // three numbers in a row: first and last apart
    expect(at(r, 3, REC_PEEK_FIRST)).toBeGreaterThan(at(r, 1, REC_PEEK_LAST));
    const keys = record_keys(r, REC_PEEK_LAST, REC_FIRST);
    expect(Array.from(keys)).toEqual([-1, at(r, 1, REC_PEEK_LAST), at(r, 2, REC_FIRST), at(r, 3, REC_PEEK_LAST)]);
    for (let k = 1; k < keys.length; k++) expect(keys[k]).toBeGreaterThan(keys[k - 1]); // still in the CPU's own order
  });

  it('a fault that maps a new page numbers the step that maps it (its rmap and pte writes); nothing is numbered when not recording', () => {
    boot();
    const p = parent(1);
    const addr = BASE + 2 * 4096;
    expect(do_mmap_anon(p.mm, addr, 4096, PROT_READ | PROT_WRITE)).toBeGreaterThan(0);
    const rec = recording_hooks(null);
    set_preempt_hooks(rec.point, null, { record: rec.record });
    rec.point(PP_RESCHED, -1);
    user_access(p.mm, addr, 0, true, 5); // pte read (none), the fault's pte write, the pte read again
    const r = recorded_steps();
    const peeks = (k: number) => [at(r, k, REC_PEEK_FIRST), at(r, k, REC_PEEK_LAST)];
    // the fault's steps (its mmap_sem, its PTL): one of them peeked
    const peeked = Array.from({ length: r.length / REC_FIELDS }, (_, k) => k).filter((k) => peeks(k)[0] >= 0);
    expect(peeked.length).toBeGreaterThan(0);
    set_preempt_hooks(null, null);
    const before = recorded_steps().slice();
    page_count(p.pfn(0));
    expect(Array.from(recorded_steps())).toEqual(Array.from(before));
  });
});
