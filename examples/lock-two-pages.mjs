// A protocol of our own, not one of the kernel's seeds: a helper that takes
// two page locks at once, as anything that works on a pair of pages must
// (an exchange, a dedupe, a defragmenter). Two CPUs that each hold one page
// lock and sleep waiting for the other's deadlock (ABBA), so every caller
// must take the pair in one agreed order: the kernel's multi-page rule is
// the lower address first. The bug is the helper that locks its pages in
// argument order, met by a caller that passes the same pair the other way
// round.
//
// The model reports the deadlock as it happens: the controlled executor
// finds every CPU parked with none able to go on, and prints the hung task
// and the wait-for cycle (CPU 0 waits for pfn 2's page lock, held by CPU 1,
// which waits for pfn 1's, held by CPU 0).
//
//   mmrace run ./lock-two-pages.mjs --protocol fixed --ops 20000
//   mmrace explore ./lock-two-pages.mjs --stop-at-first --out abba.json
//   mmrace shrink abba.json
//   mmrace explore ./lock-two-pages.mjs --strategy exhaustive --preemptions 2 --protocol fixed
import {
  defineScenario, defineSwitches, defineWindows, buggy, window_open,
  lock_page, unlock_page, PageLocked, find_get_page, put_page, file_write, FIRST_FILE,
  phys_base, i32, BUG_ON, set_path, EV_USER,
} from 'mmrace';

// the bug, as one switch of our own, read at the line it changes with buggy(SW_ARG_ORDER)
const own_switches = defineSwitches({
  SW_ARG_ORDER: { name: 'lock-two-pages-arg-order', what: 'lock_two_pages takes its page locks in argument order, not lower pfn first' },
});
const { SW_ARG_ORDER } = own_switches;
// the race's precondition, marked with window_open(WIN_PAIR_CONTENDED): two calls of lock_two_pages
// overlap. Without it neither protocol can deadlock, and a clean run in which it never opened proved nothing
const own_windows = defineWindows({
  WIN_PAIR_CONTENDED: 'lock_two_pages found a page of its pair locked',
});
const { WIN_PAIR_CONTENDED } = own_windows;

/** lock_two_pages: takes both page locks, the lower pfn first; the caller holds neither and has a reference on each */
function lock_two_pages(a, b) {
  if (!buggy(SW_ARG_ORDER) && a > b) { const t = a; a = b; b = t; }
  if (PageLocked(a)) window_open(WIN_PAIR_CONTENDED);
  lock_page(a);
  if (PageLocked(b)) window_open(WIN_PAIR_CONTENDED);
  lock_page(b); // sleeps holding a's lock: safe only if every holder of b takes a after it, never before
}

/** unlock_two_pages: drops both page locks (held by the caller) */
function unlock_two_pages(a, b) {
  unlock_page(b);
  unlock_page(a);
}

/**
 * exchange_file_words: swaps word 0 of the file's pages i and j, as one
 * step under both page locks (the page lock is what serialises writers of
 * a page-cache page's contents here); takes references and both locks
 */
function exchange_file_words(as, i, j) {
  const a = find_get_page(as, i), b = find_get_page(as, j);
  BUG_ON(a === 0 || b === 0, 'exchange_file_words: a page left the page cache');
  lock_two_pages(a, b);
  const x = i32[phys_base(a)], y = i32[phys_base(b)];
  // the user's data check: under both locks the pair holds the two values it started with
  BUG_ON(x + y !== 3 || x * y !== 2, `exchange_file_words: pages hold ${x} and ${y}, not 1 and 2`);
  i32[phys_base(a)] = y;
  i32[phys_base(b)] = x;
  unlock_two_pages(a, b);
  put_page(b);
  put_page(a);
}

export default defineScenario({
  name: 'lock-two-pages',
  title: 'two page locks in pfn order, or an ABBA deadlock',
  description: 'two CPUs exchange the first words of a file\'s pages 0 and 1 under both page locks, naming the pair in opposite orders',
  expect_buggy: 'a deadlock: each CPU holds one page lock and sleeps on the other\'s',
  signature: /wait-for cycle: CPU \d \(\w+\) waits for PG_locked/,
  own_switches,
  own_windows,
  switches: ['lock-two-pages-arg-order'],
  roles: ['exchanger'],
  setup() {
    // a file of two pages in the page cache, holding 1 and 2
    file_write(FIRST_FILE, 0, 0, 1);
    file_write(FIRST_FILE, 1, 0, 2);
    return { file: FIRST_FILE };
  },
  run(ctx) {
    // even CPUs name the pair (0, 1), odd ones (1, 0): both orders are legal for a caller
    const [i, j] = ctx.cpu % 2 === 0 ? [0, 1] : [1, 0];
    const as = Number(ctx.setup.file);
    while (!ctx.should_stop()) {
      set_path(EV_USER);
      exchange_file_words(as, i, j);
      ctx.op_done();
    }
  },
});
