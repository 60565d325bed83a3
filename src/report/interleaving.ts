// The interleaving behind a failure, from the merged per-CPU event rings:
// every event naming the failing page, each migration of that page with
// the rmap walk it did, and what other CPUs did to page tables meanwhile.
import {
  EV_ANON_VMA_LINK, EV_BUG, EV_COPY_MIGRATION_ENTRY, EV_COPY_PTE_RANGE, EV_DUP_MMAP, EV_DUP_MMAP_DONE, EV_EXIT_MMAP, EV_MIGRATE,
  EV_MIGRATE_DONE, EV_MIGRATE_FAIL, EV_MIGRATION_WAIT, EV_MOVE_TO_NEW, EV_REMOVE_PTE, EV_UNMAP_ONE, EV_ZAP, TracedEvent,
} from '../cpu/events.js';

const PFN_ARG: Record<number, number[]> = {
  [EV_MIGRATE]: [0], [EV_MOVE_TO_NEW]: [0, 1], [EV_MIGRATE_FAIL]: [0], [EV_MIGRATE_DONE]: [0, 1],
  [EV_UNMAP_ONE]: [2], [EV_COPY_MIGRATION_ENTRY]: [2], [EV_MIGRATION_WAIT]: [2], [EV_ZAP]: [2], [EV_BUG]: [1],
};
const FORK_SIDE = new Set([EV_DUP_MMAP, EV_ANON_VMA_LINK, EV_COPY_PTE_RANGE, EV_COPY_MIGRATION_ENTRY, EV_DUP_MMAP_DONE, EV_EXIT_MMAP]);

const names_pfn = (e: TracedEvent, pfn: number) => (PFN_ARG[e.code] ?? []).some((i) => e.args[i] === pfn);

/** the events that tell the story of a failure on pfn (all events if pfn is 0), oldest first */
export function story(events: TracedEvent[], pfn: number, tail = 12, max = 80): TracedEvent[] {
  if (events.length === 0) return [];
  const keep = new Set<number>();
  if (pfn > 0) {
    // start at the migration that made the entry a copy was taken from (else the last migration of pfn)
    let from = 0;
    let lastCopy = -1;
    for (let i = events.length - 1; i >= 0 && lastCopy < 0; i--) if (events[i].code === EV_COPY_MIGRATION_ENTRY && names_pfn(events[i], pfn)) lastCopy = i;
    const before = lastCopy >= 0 ? lastCopy : events.length - 1;
    for (let i = before; i >= 0; i--) if (events[i].code === EV_MIGRATE && names_pfn(events[i], pfn)) { from = i; break; }
    for (let i = from; i < events.length; i++) {
      const e = events[i];
      if (!names_pfn(e, pfn)) continue;
      keep.add(i);
      if (e.code !== EV_MIGRATE) continue;
      // this migration's own steps on its CPU, and fork-side steps elsewhere, until it is done
      for (let j = i + 1; j < events.length; j++) {
        const f = events[j];
        if (f.cpu === e.cpu) {
          keep.add(j);
          if ((f.code === EV_MIGRATE_DONE || f.code === EV_MIGRATE_FAIL) && f.args[0] === pfn) break;
        } else if (FORK_SIDE.has(f.code)) keep.add(j);
      }
    }
  }
  // the fork of each child that was handed a migration entry of pfn (mm ids are reused: only that fork)
  for (const c of [...keep]) {
    if (events[c].code !== EV_COPY_MIGRATION_ENTRY) continue;
    const child = events[c].args[0];
    let start = c;
    while (start > 0 && !(events[start].code === EV_DUP_MMAP && events[start].args[1] === child)) start--;
    for (let i = start; i <= c; i++) {
      const e = events[i];
      if ((e.code === EV_DUP_MMAP && e.args[1] === child) || (e.code === EV_ANON_VMA_LINK && e.args[3] === child) ||
          (e.code === EV_COPY_PTE_RANGE && e.args[0] === child)) keep.add(i);
    }
  }
  for (let i = Math.max(0, events.length - tail); i < events.length; i++) keep.add(i);
  const idx = [...keep].sort((a, b) => a - b);
  return idx.slice(-max).map((i) => events[i]);
}

export function format_story(evs: TracedEvent[], pfn: number, roles: string[]): string {
  const lines = ['  seq     CPU  event'];
  let prev = -1;
  for (const e of evs) {
    if (prev >= 0 && e.seq > prev + 1) lines.push('  ...');
    const mark = pfn > 0 && (names_pfn(e, pfn) || (e.code === EV_REMOVE_PTE && e.args[3] === pfn)) ? '*' : ' ';
    lines.push(`${mark} ${String(e.seq).padStart(7)}  ${String(e.cpu).padStart(2)}  ${(roles[e.cpu] ?? '').padEnd(8)} ${e.name}: ${e.text}`);
    prev = e.seq;
  }
  return lines.join('\n');
}
