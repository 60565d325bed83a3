// A system call that fails with -ENOMEM reports the kernel's memory summary
// and where the fault gave up: real exhaustion (every page in use) reads
// differently from a fault that backed out with memory to spare.
import { describe, expect, it } from 'vitest';
import { KernelBug } from '../src/check/bug.js';
import { must, must_syscall } from '../src/scenarios/family.js';
import { get_user_pages } from '../src/mm/memory.js';
import { alloc_page } from '../src/mm/page_alloc.js';
import { down_read, up_read } from '../src/sync/rwsem.js';
import { LC_MMAP_SEM } from '../src/sync/lock_class.js';
import { PROT_READ, PROT_WRITE, mm_mmap_sem } from '../src/mm/mm_types.js';
import { do_mmap_anon, mm_alloc } from '../src/mm/mmap.js';
import { Shadow } from '../src/check/shadow.js';
import { BASE, boot, parent } from './helpers.js';

/** get_user_pages of one page for writing at addr, as a direct I/O would, its failure reported by must_syscall */
function gup_report(mm: number, addr: number): string {
  const sem = mm_mmap_sem(mm);
  down_read(sem, LC_MMAP_SEM);
  const n = get_user_pages(mm, addr, 1, true, new Int32Array(1));
  up_read(sem);
  try {
    must_syscall(n, 1, 'direct I/O: get_user_pages');
  } catch (e) {
    expect(e).toBeInstanceOf(KernelBug);
    return (e as Error).message;
  }
  return '';
}

/** a 64-page machine, a process of 8 pages with pages 0-3 faulted in (their page table too), then every free page taken */
function exhausted() {
  boot({ nr_pages: 64 });
  const mm = mm_alloc();
  do_mmap_anon(mm, BASE, 8 * 4096, PROT_READ | PROT_WRITE);
  const sh = new Shadow(mm, BASE, 8, 1, 'parent');
  for (let p = 0; p < 4; p++) sh.store(p, 0);
  while (alloc_page() !== 0) { /* take every free page */ }
  return { mm, sh };
}

describe('show_mem under -ENOMEM', () => {
  it('memory exhausted: the anonymous fault found no page, and the summary shows none free', () => {
    const { mm } = exhausted();
    const text = gup_report(mm, BASE + 4 * 4096);
    expect(text).toMatch(/^user program: direct I\/O: get_user_pages returned -ENOMEM \(wanted 1\)\n/);
    expect(text).toContain('mmrace: the fault returned VM_FAULT_OOM from do_anonymous_page: alloc_page');
    expect(text).toContain('Mem-info:');
    expect(text).toMatch(/^cpu 0 hot: high \d+, batch \d+ used:0$/m);
    expect(text).toMatch(/ free:0 /);
    expect(text).toMatch(/^Free swap  = 0kB$/m);
    expect(text).toContain('63 pages of RAM');
  });

  it('a failure other than -ENOMEM carries no summary', () => {
    boot({ nr_pages: 64 });
    const { mm } = parent(1);
    const text = gup_report(mm, BASE + 64 * 4096); // no vma there: -EFAULT
    expect(text).toBe('user program: direct I/O: get_user_pages returned -EFAULT (wanted 1)');
  });
});

describe('show_mem under an OOM kill', () => {
  it('a user access whose fault found no page reports the summary too', () => {
    const { sh } = exhausted();
    let text = '';
    try { must(sh.store(5, 0), 'store'); } catch (e) { text = (e as Error).message; }
    expect(text).toMatch(/^user program: unexpected OOM kill in store\nmmrace: the fault returned VM_FAULT_OOM from do_anonymous_page: alloc_page\nMem-info:/);
  });
});
