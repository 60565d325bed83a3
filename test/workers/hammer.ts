// Test worker: hammer one lock from one CPU and count mutual-exclusion breaks.
import { attachMachine, i32 } from '../../src/shm/machine.js';
import { set_current_cpu, prandom_below } from '../../src/cpu/current.js';
import { spin_lock, spin_unlock } from '../../src/sync/spinlock.js';
import { lock_page, unlock_page } from '../../src/sync/page_lock.js';
import { down_read, down_write, up_read, up_write } from '../../src/sync/rwsem.js';
import { read_lock, read_unlock, write_lock, write_unlock } from '../../src/sync/rwlock.js';
import { LC_MMAP_SEM, LC_PTL, LC_TREE } from '../../src/sync/lock_class.js';

export interface HammerTask {
  sab: SharedArrayBuffer; cpu: number; kind: 'spin' | 'page' | 'rwsem' | 'rwlock';
  iters: number; lock: number; pfn: number; counter: number; owner: number; start: number; n: number;
}

function busy(n: number): number { let x = 0; for (let i = 0; i < n; i++) x = (x + i) | 0; return x; }

export default function hammer(t: HammerTask): { breaks: number; reads: number } {
  attachMachine(t.sab);
  set_current_cpu(t.cpu, 7);
  Atomics.add(i32, t.start, 1);
  while (Atomics.load(i32, t.start) < t.n) { /* start together */ }
  let breaks = 0;
  let reads = 0;
  for (let k = 0; k < t.iters; k++) {
    const rw = t.kind === 'rwsem' || t.kind === 'rwlock';
    const reader = rw && prandom_below(4) !== 0;
    // an rwlock reader sometimes takes it again inside: legal, since a spinning writer never holds up readers
    const nested = reader && t.kind === 'rwlock' && prandom_below(4) === 0;
    if (t.kind === 'spin') spin_lock(t.lock, LC_PTL);
    else if (t.kind === 'page') lock_page(t.pfn);
    else if (t.kind === 'rwlock') {
      if (reader) read_lock(t.lock, LC_TREE); else write_lock(t.lock, LC_TREE);
      if (nested) read_lock(t.lock, LC_TREE);
    } else if (reader) down_read(t.lock, LC_MMAP_SEM);
    else down_write(t.lock, LC_MMAP_SEM);
    if (reader) {
      // a reader sees no writer inside and the counter does not move under it
      const v = i32[t.counter];
      if (Atomics.load(i32, t.owner) !== 0) breaks++;
      busy(prandom_below(50));
      if (i32[t.counter] !== v) breaks++;
      reads++;
      if (nested) read_unlock(t.lock);
      if (t.kind === 'rwlock') read_unlock(t.lock); else up_read(t.lock);
      continue;
    }
    // a non-atomic read-modify-write: lost updates show a broken lock
    if (Atomics.exchange(i32, t.owner, t.cpu + 1) !== 0) breaks++;
    const v = i32[t.counter];
    busy(prandom_below(50));
    i32[t.counter] = v + 1;
    if (Atomics.exchange(i32, t.owner, 0) !== t.cpu + 1) breaks++;
    if (t.kind === 'spin') spin_unlock(t.lock);
    else if (t.kind === 'page') unlock_page(t.pfn);
    else if (t.kind === 'rwlock') write_unlock(t.lock);
    else up_write(t.lock);
  }
  return { breaks, reads };
}

export interface RendezvousTask { sab: SharedArrayBuffer; cpu: number; lock: number; inside: number; n: number; give_up_ms: number }

/**
 * Every worker takes the rwlock for read and stays inside until all n are
 * inside together (or give_up_ms passed): returns how many it saw inside at
 * most. Readers that excluded each other would each see only themselves.
 */
export function rendezvous(t: RendezvousTask): number {
  attachMachine(t.sab);
  set_current_cpu(t.cpu, 7);
  read_lock(t.lock, LC_TREE);
  let most = Atomics.add(i32, t.inside, 1) + 1;
  const end = Date.now() + t.give_up_ms;
  while (most < t.n && Date.now() < end) most = Math.max(most, Atomics.load(i32, t.inside));
  read_unlock(t.lock);
  return most;
}
