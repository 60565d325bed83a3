// The interleaving behind a failure, from the merged per-CPU event rings:
// every event naming the failing page, each migration of that page with
// the rmap walk it did, and what other CPUs did to page tables meanwhile.
// A data failure names the (mm, addr) the program used instead: its story
// always holds the event that installed that pte or made it writable, the
// migration and fork behind it, and the other ptes given the same page.
import { PAGE_SIZE, RING_SIZE } from '../shm/layout.js';
import {
  EV_ANON_VMA_LINK, EV_COPY_MIGRATION_ENTRY, EV_COPY_PTE_RANGE, EV_DIO, EV_DUP_MMAP, EV_DUP_MMAP_DONE, EV_EXIT_MMAP, EV_GUP, EV_MIGRATE,
  EV_MIGRATE_DONE, EV_MIGRATE_FAIL, EV_MOVE_TO_NEW, EV_MPROTECT, EV_REMOVE_PTE, EV_SLOT_SWITCH, EV_UNMAP_ONE, EV_ZAP, TracedEvent,
} from '../cpu/events.js';
import { OOPS_INVARIANT, OOPS_SHADOW, OopsRecord } from '../check/bug.js';
import { installed_pfn, names_pfn, touches_pte, write_source } from './story_events.js';

/** what a failure is about: a page, and for a data failure the pte (mm, page address) the program used */
export interface Focus { pfn: number; mm: number; addr: number }

export function focus_of(o: OopsRecord | null): Focus {
  if (!o) return { pfn: 0, mm: 0, addr: 0 };
  // user-data failures and the exit-time orphan check pass (mm, addr) as their first two arguments
  const data = (o.kind === OOPS_SHADOW || o.kind === OOPS_INVARIANT) && o.args[0] > 0;
  return { pfn: o.pfn, mm: data ? o.args[0] : 0, addr: data ? o.args[1] & -PAGE_SIZE : 0 };
}

/** events after which the pte no longer maps the page it was given */
const LEAVES = new Set([EV_UNMAP_ONE, EV_ZAP]);
const FORK_SIDE = new Set([EV_DUP_MMAP, EV_ANON_VMA_LINK, EV_COPY_PTE_RANGE, EV_COPY_MIGRATION_ENTRY, EV_DUP_MMAP_DONE, EV_EXIT_MMAP]);
/** the newest of the pte's installs after a leak shown, at most (the pages its data went through) */
const CHAIN_SHOWN = 8;
/** other ptes given the failing pte's page, at most */
const SHARERS = 16;

/** the story of pfn up to event `end`: the migration that made the entry fork copied (else its last migration) */
function page_story(events: TracedEvent[], pfn: number, end: number, keep: Set<number>): void {
  let from = 0;
  let lastCopy = -1;
  for (let i = end - 1; i >= 0 && lastCopy < 0; i--) if (events[i].code === EV_COPY_MIGRATION_ENTRY && names_pfn(events[i], pfn)) lastCopy = i;
  const before = lastCopy >= 0 ? lastCopy : end - 1;
  for (let i = before; i >= 0; i--) if (events[i].code === EV_MIGRATE && names_pfn(events[i], pfn)) { from = i; break; }
  for (let i = from; i < end; i++) {
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

/** the fork that created child mm `child` before event `at` (mm ids are reused: only that fork), with its steps for the child */
function fork_of(events: TracedEvent[], child: number, at: number, keep: Set<number>): void {
  let start = at;
  while (start >= 0 && !(events[start].code === EV_DUP_MMAP && events[start].args[1] === child)) start--;
  if (start < 0) return; // not a child, or its fork left the rings
  for (let i = start; i <= at; i++) {
    const e = events[i];
    if ((e.code === EV_DUP_MMAP && e.args[1] === child) || (e.code === EV_ANON_VMA_LINK && e.args[3] === child) ||
        (e.code === EV_COPY_PTE_RANGE && e.args[0] === child) || (e.code === EV_DUP_MMAP_DONE && e.args[1] === child)) keep.add(i);
    if (e.code === EV_DUP_MMAP_DONE && e.args[1] === child) break;
  }
}

/** the first event from which every CPU's ring is whole: before it, a wrapped ring has lost events */
function horizon(events: TracedEvent[]): number {
  const held = new Map<number, { n: number; first: number }>();
  for (const e of events) {
    const h = held.get(e.cpu);
    if (h) h.n++; else held.set(e.cpu, { n: 1, first: e.seq });
  }
  let seq = 0;
  for (const h of held.values()) if (h.n >= RING_SIZE) seq = Math.max(seq, h.first);
  let i = 0;
  while (i < events.length && events[i].seq < seq) i++;
  return i;
}

/** index of the move_to_new_page that filled pfn for the restore at `at`, or -1 */
function migration_into(events: TracedEvent[], pfn: number, at: number): number {
  for (let j = at; j >= 0; j--) if (events[j].code === EV_MOVE_TO_NEW && events[j].args[1] === pfn) return j;
  return -1;
}

/**
 * The story of the pte at (mm, addr). The data a program sees travels with
 * its pte from page to page (each migration copies it), so a store leaked
 * into it may have landed in an earlier page: walk the pte's installs back,
 * newest first, to the last one where its page (or the page it was migrated
 * from) was shared with another process and one of them was given write access,
 * and tell that step whole. Returns the ptes, as (mm, event index), whose
 * forks tell how they came to be.
 */
function pte_story(events: TracedEvent[], mm: number, addr: number, must: Set<number>, chain: Set<number>, extra: Set<number>, vital: Set<number>): [number, number][] {
  const ptes: [number, number][] = [[mm, events.length - 1]];
  const installs: number[] = [];
  const first = horizon(events);
  let prot = -1;
  // a protection change is looked for in the whole rings (its CPU's ring may hold it after others wrapped)
  for (let i = events.length - 1; i >= 0 && (i >= first || prot < 0); i--) {
    const e = events[i];
    if ((e.code === EV_DUP_MMAP && e.args[1] === mm) || (e.code === EV_EXIT_MMAP && e.args[0] === mm)) break; // this mm's life starts here
    if (!touches_pte(e, mm, addr)) continue;
    const p = installed_pfn(events[i]);
    if (p === 0 && prot < 0) prot = i;
    if (i < first) continue;
    if (p > 0) installs.push(i);
    else if (p < 0 && installs.length === 0) extra.add(i); // what the pte went through since (faults, waits)
  }
  if (prot >= 0) {
    // the last protection change (mprotect's change_pte_range, fork's copy), the call that made it, and the
    // first page put there after it with its write access: what undid the change, if anything did
    // (vital: kept even when the pages' own stories are longer than the splat can show)
    vital.add(prot);
    let call = prot - 1;
    while (call >= 0 && events[call].cpu !== events[prot].cpu) call--;
    if (call >= 0 && events[call].code === EV_MPROTECT && touches_pte(events[call], mm, addr)) vital.add(call);
    const after = installs.filter((i) => i > prot).pop();
    if (after !== undefined) { vital.add(after); const w = write_source(events, after, 0); if (w >= 0) vital.add(w); }
    for (const i of vital) must.add(i);
  }
  let hi = events.length;
  let from = installs.length ? installs[0] : events.length;
  for (const [k, i] of installs.entries()) {
    const pfn = installed_pfn(events[i]);
    const mig = events[i].code === EV_REMOVE_PTE ? migration_into(events, pfn, i) : -1;
    const old = mig >= 0 ? events[mig].args[0] : 0;
    // the migration's start, if the rings still hold it (never before this pte's previous install)
    const floor = installs[k + 1] ?? 0;
    let lo = mig >= 0 ? mig : i;
    while (mig >= 0 && lo > floor && !(events[lo].code === EV_MIGRATE && events[lo].args[0] === old)) lo--;
    if (mig >= 0 && !(events[lo].code === EV_MIGRATE && events[lo].args[0] === old)) lo = mig;
    // the page is this pte's until the pte is unmapped again; the old page was shared only until this restore
    let until = i + 1;
    while (until < hi && !(touches_pte(events[until], mm, addr) && LEAVES.has(events[until].code))) until++;
    const sharers: number[] = [];
    for (let j = lo; j < until && sharers.length < SHARERS; j++) {
      // an anon page is shared between processes only (one mm never maps it twice)
      const q = events[j].args[0] === mm ? -1 : installed_pfn(events[j]);
      if (q > 0 && (q === pfn || (q === old && j < i))) sharers.push(j);
    }
    const sources = [i, ...sharers].map((j) => write_source(events, j, lo)).filter((j) => j >= 0);
    const leaky = sharers.length > 0 && sources.length > 0;
    if (k === 0 || leaky) {
      if (old > 0) page_story(events, old, i + 1, must);
      for (const j of sharers) { must.add(j); ptes.push([events[j].args[0], j]); }
      for (const j of sources) must.add(j);
      from = Math.min(from, lo);
    }
    if (leaky) { must.add(i); for (const j of installs.slice(0, Math.min(k, CHAIN_SHOWN))) chain.add(j); break; }
    hi = lo;
  }
  if (installs.length) must.add(installs[0]);
  // protection changes of this pte while the story runs (mprotect's change_pte_range)
  for (let i = from; i < events.length; i++) if (touches_pte(events[i], mm, addr) && installed_pfn(events[i]) === 0) must.add(i);
  return ptes;
}

/**
 * A store made through a pin (get_user_pages, then the direct I/O's store)
 * into the pte (mm, addr)'s page: the newest such store, its pin, and what
 * migration did to the pinned page in between: its start, the unmap of this
 * pte, the cache slot switched to the new page, and the new page put in
 * the pte. A lost write's whole race, kept whatever else the story shows.
 */
function pin_story(events: TracedEvent[], mm: number, addr: number, vital: Set<number>): void {
  let store = events.length - 1;
  while (store >= 0 && !(events[store].code === EV_DIO && touches_pte(events[store], mm, addr))) store--;
  if (store < 0) return;
  const cpu = events[store].cpu, pfn = events[store].args[2];
  let pin = store - 1;
  while (pin >= 0 && !(events[pin].cpu === cpu && events[pin].code === EV_GUP && events[pin].args[2] === pfn)) pin--;
  if (pin < 0) return; // the pin left the rings
  vital.add(store);
  vital.add(pin);
  // the switch that gave the pinned page's slot away, before the store
  let sw = store - 1;
  while (sw > pin && !(events[sw].code === EV_SLOT_SWITCH && events[sw].args[0] === pfn && events[sw].args[1] !== 0)) sw--;
  if (sw <= pin) return; // no migration moved it while pinned: some other story
  vital.add(sw);
  const mig = events[sw].cpu, newpage = events[sw].args[1];
  // the migration's start and its unmap of this pte (E1: between the unlocked test and the unmap, maybe before the pin)
  for (let i = sw - 1; i >= 0; i--) {
    const e = events[i];
    if (e.cpu !== mig) continue;
    if (e.code === EV_UNMAP_ONE && e.args[2] === pfn && touches_pte(e, mm, addr)) vital.add(i);
    if (e.code === EV_MIGRATE && e.args[0] === pfn) { vital.add(i); break; }
  }
  // the new page put in the pte (E1: remove_from_swap; E2: a later swap-in of the new cache page)
  for (let i = sw + 1; i < events.length; i++) {
    if (touches_pte(events[i], mm, addr) && installed_pfn(events[i]) === newpage) { vital.add(i); break; }
  }
}

/** the events that tell the story of a failure (the last `tail` events if it names no page or pte), oldest first */
export function story(events: TracedEvent[], f: Focus, tail = 12, max = 80): TracedEvent[] {
  if (events.length === 0) return [];
  // what the failure needs, then the pages its data went through, then context
  const must = new Set<number>();
  const chain = new Set<number>();
  const extra = new Set<number>();
  const vital = new Set<number>();
  if (f.pfn > 0) page_story(events, f.pfn, events.length, must);
  const ptes = f.mm > 0 ? pte_story(events, f.mm, f.addr, must, chain, extra, vital) : [];
  if (f.mm > 0) pin_story(events, f.mm, f.addr, vital);
  // the fork of each child that was handed a migration entry, or holds a pte of the story; the newest
  // such copy and its fork are the orphan's race itself, kept whatever else the story must show
  const handed: number[] = [];
  for (const c of must) if (events[c].code === EV_COPY_MIGRATION_ENTRY) { ptes.push([events[c].args[0], c]); handed.push(c); }
  const race = handed.length ? Math.max(...handed) : -1;
  const forked = new Set<number>();
  for (const [child, at] of ptes.sort((a, b) => a[1] - b[1])) {
    if (forked.has(child)) continue;
    forked.add(child);
    if (at === race) { vital.add(at); fork_of(events, child, at, vital); } else fork_of(events, child, at, must);
  }
  for (const i of vital) must.add(i);
  for (let i = Math.max(0, events.length - tail); i < events.length; i++) extra.add(i);
  // the vital events, then the newest of the rest of what the failure needs
  const rest = [...must].filter((i) => !vital.has(i)).sort((a, b) => a - b);
  const kept = [...vital, ...rest.slice(-Math.max(0, max - vital.size))];
  const have = new Set(kept);
  for (const tier of [chain, extra]) {
    for (const i of [...tier].sort((a, b) => b - a)) { // the newest while there is room
      if (kept.length >= max) break;
      if (!have.has(i)) { have.add(i); kept.push(i); }
    }
  }
  return kept.sort((a, b) => a - b).map((i) => events[i]);
}

/** the events a reader should look at: they name the failing page, or touch the failing pte or a page it held */
export function story_marker(evs: TracedEvent[], f: Focus): (e: TracedEvent) => boolean {
  const pages = new Set<number>();
  if (f.mm > 0) for (const e of evs) if (touches_pte(e, f.mm, f.addr) && installed_pfn(e) > 0) pages.add(installed_pfn(e));
  return (e) => (f.pfn > 0 && (names_pfn(e, f.pfn) || (e.code === EV_REMOVE_PTE && e.args[3] === f.pfn))) ||
    (f.mm > 0 && (touches_pte(e, f.mm, f.addr) || pages.has(installed_pfn(e))));
}

/** how the interleaving's header says what * marks */
export function focus_name(f: Focus): string {
  const pte = f.mm > 0 ? `mm#${f.mm} 0x${f.addr.toString(16)} and its pages` : '';
  return f.pfn > 0 ? `pfn ${f.pfn}${pte ? ` or ${pte}` : ''}` : pte || '-';
}

export function format_story(evs: TracedEvent[], f: Focus, roles: string[]): string {
  const marked = story_marker(evs, f);
  const lines = ['  seq     CPU  event'];
  let prev = -1;
  for (const e of evs) {
    if (prev >= 0 && e.seq > prev + 1) lines.push('  ...');
    lines.push(`${marked(e) ? '*' : ' '} ${String(e.seq).padStart(7)}  ${String(e.cpu).padStart(2)}  ${(roles[e.cpu] ?? '').padEnd(8)} ${e.name}: ${e.text}`);
    prev = e.seq;
  }
  return lines.join('\n');
}
