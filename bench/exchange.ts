// Seed 002: exchanges/s against migrations/s of the same pages (one
// thread, E4). An exchange swaps an anonymous page with a cached file
// page in place (both isolated, locked, unmapped, frozen, swapped,
// remapped); migrating the same two pages to new pages costs two
// migrate_pages runs and two allocations. Also E4's lockless
// find_get_page against E2's under tree_lock.
import { Bench } from 'tinybench';
import { createMachineBuffer, i32 } from '../src/shm/machine.js';
import { DEFAULT_SIZES } from '../src/shm/layout.js';
import { set_current_cpu } from '../src/cpu/current.js';
import { user_access } from '../src/cpu/mmu.js';
import { E2, E4 } from '../src/shm/era.js';
import { mem_init } from '../src/mm/init.js';
import { LC_MMAP_SEM } from '../src/sync/lock_class.js';
import { down_read, up_read } from '../src/sync/rwsem.js';
import { MAP_SHARED, do_mmap_anon, do_mmap_pgoff, mm_alloc } from '../src/mm/mmap.js';
import { FIRST_FILE, file_write, find_get_page, radix_tree_lookup } from '../src/mm/filemap.js';
import { PROT_READ, PROT_WRITE, mm_mmap_sem } from '../src/mm/mm_types.js';
import { pte_offset, pte_table } from '../src/mm/pagewalk.js';
import { pte_pfn } from '../src/mm/pgtable.js';
import { isolate_lru_page, put_page } from '../src/mm/swap.js';
import { migrate_pages } from '../src/mm/migrate.js';
import { exchange_pages } from '../src/mm/exchange.js';
import { MIGRATE_MT, MIGRATE_SYNC } from '../src/mm/migrate_mode.js';

const N = 32, BASE = 0x20000, FMAP = 0x80000, PER = 100;
export interface ExchangeRow { name: string; ns_per_op: number; ops_per_s: number; rme: number }

function machine(era: number) {
  createMachineBuffer({ ...DEFAULT_SIZES, nr_pages: 4096, nr_cpus: 1 });
  mem_init({ bugs: 0, jitter: 0, seed: 1, ops_budget: 0, era });
  set_current_cpu(0, 1);
  const mm = mm_alloc();
  do_mmap_anon(mm, BASE, N * 4096, PROT_READ | PROT_WRITE);
  for (let p = 0; p < N; p++) { user_access(mm, BASE + p * 4096, 0, true, p); file_write(FIRST_FILE, p, 0, p); }
  do_mmap_pgoff(mm, FMAP, N * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, FIRST_FILE, 0);
  for (let p = 0; p < N; p++) user_access(mm, FMAP + p * 4096, 0, false, 0);
  const anon = (p: number) => pte_pfn(Atomics.load(i32, pte_offset(pte_table(mm, BASE + p * 4096), BASE + p * 4096)));
  return { mm, anon };
}

export async function exchange_bench(timeMs = 400): Promise<ExchangeRow[]> {
  const rows: ExchangeRow[] = [];
  const run = async (b: Bench, per: Record<string, number>) => {
    await b.run();
    for (const t of b.tasks) {
      const r = t.result as unknown as { latency: { mean: number; rme: number } };
      const ns = (r.latency.mean * 1e6) / (per[t.name] ?? PER);
      rows.push({ name: t.name, ns_per_op: ns, ops_per_s: 1e9 / ns, rme: r.latency.rme });
    }
  };
  {
    const { mm, anon } = machine(E4);
    const pairs = new Int32Array(2), list = new Int32Array(2);
    const b = new Bench({ time: timeMs, warmup: true });
    b.add('E4 exchange_pages: one anon page <-> one mapped file page (per exchange)', () => {
      for (let k = 0; k < PER; k++) {
        const a = anon(k % N), f = radix_tree_lookup(FIRST_FILE, (k * 7) % N);
        isolate_lru_page(a); isolate_lru_page(f);
        pairs[0] = a; pairs[1] = f;
        exchange_pages(pairs, 1, MIGRATE_SYNC | MIGRATE_MT);
      }
    });
    b.add('E4 migrate_pages of the same two pages to new pages (per pair: 2 migrations)', () => {
      down_read(mm_mmap_sem(mm), LC_MMAP_SEM);
      for (let k = 0; k < PER; k++) {
        const a = anon(k % N), f = radix_tree_lookup(FIRST_FILE, (k * 7) % N);
        isolate_lru_page(a); isolate_lru_page(f);
        list[0] = a; list[1] = f;
        migrate_pages(list, 2);
      }
      up_read(mm_mmap_sem(mm));
    });
    b.add('E4 find_get_page + put_page (lockless: speculative reference, slot re-check)', () => {
      for (let k = 0; k < PER; k++) put_page(find_get_page(FIRST_FILE, k % N));
    });
    await run(b, {});
  }
  {
    machine(E2);
    const b = new Bench({ time: timeMs, warmup: true });
    b.add('E2 find_get_page + put_page (tree_lock for read)', () => {
      for (let k = 0; k < PER; k++) put_page(find_get_page(FIRST_FILE, k % N));
    });
    await run(b, {});
  }
  return rows;
}
