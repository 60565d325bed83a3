// The I/O agent: the disk and its completion interrupt. A submitter queues a
// bio for one page and goes on (src/mm/page_io.ts is the kernel's submit
// side); the transfer and its completion (end_page_writeback, or
// SetPageUptodate + unlock_page for a read) happen later on some CPU:
//  - at another CPU's operation boundary, where it holds no lock (the
//    model's stand-in for an interrupt arriving on any CPU);
//  - on a CPU that must wait for that very page (lock_page or
//    wait_on_page_locked on a page under read, wait_on_page_writeback),
//    which completes it itself, so a wait never depends on another CPU
//    being scheduled: nothing deadlocks with 1 CPU or under the controlled
//    executor, where one CPU runs at a time;
//  - at a CPU's exit, which drains the queue (a quiescent point has nothing
//    in flight).
// It lives in src/cpu/ with the MMU and the TLB because it is hardware, not
// a kernel path. Which bio completes where depends on shared state only,
// never on time: a controlled replay completes the same I/O at the same
// decision.
import { BIO, CPUSTAT, PAGE, PG_uptodate, REQUEST_QUEUE, WORDS_PER_PAGE } from '../shm/layout.js';
import { BASES, bio_base, i32, page_base, phys_base, sizes } from '../shm/machine.js';
import { ListDesc, list_add_tail, list_del } from '../shm/list.js';
import { BUG_ON } from '../check/bug.js';
import { LC_QUEUE } from '../sync/lock_class.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import { check_halt, cpu_relax } from '../sync/preempt.js';
import { end_page_writeback, set_io_waiter, unlock_page_io } from '../sync/page_lock.js';
import { current } from './current.js';

export const READ = 0, WRITE = 1;
export const BIO_IDLE = 0, BIO_QUEUED = 1, BIO_RUNNING = 2;
/** bios one operation boundary completes at most */
const BATCH = 4;

const QUEUE: ListDesc = { base: bio_base, next: BIO.next, prev: BIO.prev };
const queue_lock = () => BASES.queue + REQUEST_QUEUE.queue_lock;
const queue_head = () => BASES.queue + REQUEST_QUEUE.first;

export const bio_state = (pfn: number) => Atomics.load(i32, bio_base(pfn) + BIO.state);
export const bio_rw = (pfn: number) => i32[bio_base(pfn) + BIO.rw];
/** bios queued and not yet taken by a completer (a racy read, to skip an empty queue) */
export const nr_queued = () => Atomics.load(i32, BASES.queue + REQUEST_QUEUE.nr_queued);
/** the CPU (cpu + 1) that submitted the page's bio in flight, 0 if none */
export const bio_submitter = (pfn: number) => (bio_state(pfn) === BIO_IDLE ? 0 : i32[bio_base(pfn) + BIO.cpu]);

/**
 * submit_bio: queue the transfer of one page to (WRITE) or from (READ) the
 * backing words at `dev`. Caller holds the page lock: for a write it has set
 * PG_writeback, for a read the page stays locked and !PG_uptodate until the
 * bio completes. Takes queue_lock.
 */
export function submit_bio(rw: number, pfn: number, dev: number): void {
  const b = bio_base(pfn);
  BUG_ON(bio_state(pfn) !== BIO_IDLE, 'model: submit_bio on a page with I/O in flight', pfn);
  i32[b + BIO.rw] = rw;
  i32[b + BIO.dev] = dev;
  i32[b + BIO.cpu] = current.tag;
  spin_lock(queue_lock(), LC_QUEUE);
  Atomics.store(i32, b + BIO.state, BIO_QUEUED);
  list_add_tail(QUEUE, queue_head(), pfn);
  Atomics.add(i32, BASES.queue + REQUEST_QUEUE.nr_queued, 1);
  spin_unlock(queue_lock());
  i32[current.stat + CPUSTAT.io_submitted] += 1;
}

/** take a queued bio for completion (queue_lock held) */
function __dequeue(pfn: number): void {
  list_del(QUEUE, queue_head(), pfn);
  Atomics.add(i32, BASES.queue + REQUEST_QUEUE.nr_queued, -1);
  Atomics.store(i32, bio_base(pfn) + BIO.state, BIO_RUNNING);
}

/**
 * bio_endio: the transfer, then the page's completion. The caller dequeued
 * the bio and holds no lock; there is no preemption point until the bio is
 * idle again (end_page_writeback and unlock_page_io are the first).
 */
function bio_endio(pfn: number): void {
  const b = bio_base(pfn);
  const ph = phys_base(pfn), dev = i32[b + BIO.dev];
  const write = i32[b + BIO.rw] === WRITE;
  // the device reads (writes) the page word by word, racing nothing the page lock or PG_writeback allows
  if (write) for (let w = 0; w < WORDS_PER_PAGE; w++) Atomics.store(i32, dev + w, Atomics.load(i32, ph + w));
  else for (let w = 0; w < WORDS_PER_PAGE; w++) Atomics.store(i32, ph + w, Atomics.load(i32, dev + w));
  Atomics.store(i32, b + BIO.state, BIO_IDLE);
  i32[current.stat + CPUSTAT.io_completed] += 1;
  if (write) end_page_writeback(pfn); // end_swap_bio_write
  else {
    Atomics.or(i32, page_base(pfn) + PAGE.flags, PG_uptodate); // end_swap_bio_read: SetPageUptodate
    unlock_page_io(pfn);
  }
}

/** a kernel path met a page under writeback: count it when another CPU started that write (the window is real) */
export function writeback_met(pfn: number): void {
  const by = bio_submitter(pfn);
  if (by !== 0 && by !== current.tag) i32[current.stat + CPUSTAT.writeback_seen] += 1;
}

/** take the page's bio off the queue if it is still queued; true if this CPU now completes it */
function claim(pfn: number): boolean {
  spin_lock(queue_lock(), LC_QUEUE);
  const queued = bio_state(pfn) === BIO_QUEUED;
  if (queued) __dequeue(pfn);
  spin_unlock(queue_lock());
  return queued;
}

/**
 * wait_on_bio: a CPU that must wait for this page's I/O completes it itself
 * if it is still queued; if another CPU is completing it, that CPU holds no
 * lock and cannot sleep, so a short wait (yielding under the controlled
 * executor) is enough. Called from the page-lock and writeback waits.
 */
export function wait_on_bio(pfn: number): void {
  for (;;) {
    const st = bio_state(pfn);
    if (st === BIO_IDLE) return;
    if (st === BIO_QUEUED) {
      if (claim(pfn)) { bio_endio(pfn); return; }
      continue;
    }
    cpu_relax();
    check_halt();
  }
}

/**
 * blk_run_queue: at an operation boundary (this CPU holds no lock),
 * complete up to BATCH bios that other CPUs submitted, oldest first. With
 * one CPU there is no other: it completes its own. Allocation-free, and
 * without a preemption point when the queue is empty.
 */
export function blk_run_queue(): void {
  if (nr_queued() === 0) return;
  const solo = sizes.nr_cpus === 1;
  for (let done = 0; done < BATCH; done++) {
    spin_lock(queue_lock(), LC_QUEUE);
    let pfn = i32[queue_head()];
    while (pfn !== 0 && !solo && i32[bio_base(pfn) + BIO.cpu] === current.tag) pfn = i32[bio_base(pfn) + BIO.next];
    if (pfn !== 0) __dequeue(pfn);
    spin_unlock(queue_lock());
    if (pfn === 0) return;
    bio_endio(pfn);
  }
}

/** blk_drain: complete every queued bio (a CPU's exit, a test's quiescent point) */
export function blk_drain(): void {
  while (nr_queued() !== 0) {
    spin_lock(queue_lock(), LC_QUEUE);
    const pfn = i32[queue_head()];
    if (pfn !== 0) __dequeue(pfn);
    spin_unlock(queue_lock());
    if (pfn !== 0) bio_endio(pfn);
  }
}

// the page-lock and writeback waits finish a page's I/O through this
set_io_waiter(wait_on_bio);
