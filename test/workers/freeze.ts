// Test worker (seed 002): the refcount freeze against E4's lockless
// find_get_page, from several real threads. Movers switch one page-cache
// slot between two pages under xa_lock; lookers take the page in the slot
// with find_get_page and, while they hold their reference, the slot must
// not move away from it. `freeze`: the movers freeze the count they
// checked (page_ref_freeze, the E3/E4 protocol); `check`: they only read
// it (the 2.6 test, which needed the lookups to take tree_lock): a lookup
// can slip in between, and the test sees it.
import { attachMachine, i32, page_base } from '../../src/shm/machine.js';
import { era_attach } from '../../src/shm/era.js';
import { set_current_cpu } from '../../src/cpu/current.js';
import { PAGE } from '../../src/shm/layout.js';
import { spin_lock, spin_unlock } from '../../src/sync/spinlock.js';
import { LC_TREE } from '../../src/sync/lock_class.js';
import { find_get_page, mapping_tree_lock, radix_tree_slot } from '../../src/mm/filemap.js';
import { page_ref_freeze, page_ref_unfreeze } from '../../src/mm/page_ref.js';
import { put_page } from '../../src/mm/swap.js';

export interface FreezeTask {
  sab: SharedArrayBuffer; cpu: number; role: 'mover' | 'looker'; protocol: 'freeze' | 'check';
  as: number; index: number; pages: [number, number]; iters: number; start: number; n: number;
}

function busy(n: number): number { let x = 0; for (let i = 0; i < n; i++) x = (x + i) | 0; return x; }

export default function freeze_worker(t: FreezeTask): { moves: number; lookups: number; broken: number } {
  attachMachine(t.sab);
  era_attach();
  set_current_cpu(t.cpu, 11);
  const slot = radix_tree_slot(t.as, t.index);
  const lock = mapping_tree_lock(t.as);
  Atomics.add(i32, t.start, 1);
  while (Atomics.load(i32, t.start) < t.n) { /* start together */ }
  let moves = 0, lookups = 0, broken = 0;
  for (let k = 0; k < t.iters; k++) {
    if (t.role === 'mover') {
      spin_lock(lock, LC_TREE);
      const p = Atomics.load(i32, slot);
      const q = p === t.pages[0] ? t.pages[1] : t.pages[0];
      // 2: our own reference (the test's) and the cache's; anyone else's makes the move back out
      const ok = t.protocol === 'freeze' ? page_ref_freeze(p, 2) : Atomics.load(i32, page_base(p) + PAGE._count) === 2;
      if (ok) {
        busy(500); // the test widens the window between the count proof and the move (harmless once frozen)
        Atomics.store(i32, slot, q);
        Atomics.add(i32, page_base(q) + PAGE._count, 1); // the cache's reference moves to q
        if (t.protocol === 'freeze') page_ref_unfreeze(p, 1); else Atomics.sub(i32, page_base(p) + PAGE._count, 1);
        moves++;
      }
      spin_unlock(lock);
    } else {
      const p = find_get_page(t.as, t.index);
      if (p === 0) { broken++; continue; }
      lookups++;
      // while we hold p, nobody may move it out of its slot
      for (let r = 0; r < 64; r++) if (Atomics.load(i32, slot) !== p) { broken++; break; }
      put_page(p);
      if (t.protocol === 'check' && broken >= 8) break; // the control has shown what it must: stop early
    }
  }
  return { moves, lookups, broken };
}
