// User-data shadow: a simulated program remembers what it stored and checks
// what it loads back, so a lost write, a COW leak between parent and child,
// or a stale read is caught as data, the way a user would see it. The shadow
// is private to the CPU that owns the words (one writer per word).
import { PAGE_SIZE, WORDS_PER_PAGE } from '../shm/layout.js';
import { ACCESS_OK, mmu, user_access } from '../cpu/mmu.js';
import { OOPS_SHADOW, fail } from './bug.js';

/** a value is (tag << 24) | counter: the tag says who stored it */
export const TAG_SETUP = 0x7e;
export const TAG_CHILD = 0x7f;
export const tag_of = (v: number) => (v >>> 24) & 0xff;
export const initial_value = (page: number, word: number) => (TAG_SETUP << 24) | (page << 8) | word;

export class Shadow {
  private readonly want: Int32Array;
  private counter = 1;
  constructor(public mm: number, public base: number, readonly npages: number, readonly tag: number, readonly what: string) {
    this.want = new Int32Array(npages * WORDS_PER_PAGE);
    this.reset(mm);
  }

  /** start over for another process (no allocation: one Shadow serves every child) */
  reset(mm: number): void {
    this.mm = mm;
    for (let p = 0; p < this.npages; p++) for (let w = 0; w < WORDS_PER_PAGE; w++) this.want[p * WORDS_PER_PAGE + w] = initial_value(p, w);
  }

  /** mremap moved the program's region (seed 003): its words are now at base */
  rebase(base: number): void {
    this.base = base;
  }

  /** store a fresh value through the MMU and remember it; false if the access failed */
  store(page: number, word: number): boolean {
    const v = this.next_value();
    user_access(this.mm, this.base + page * PAGE_SIZE, word, true, v);
    if (mmu.status !== ACCESS_OK) return false;
    this.want[page * WORDS_PER_PAGE + word] = v;
    return true;
  }

  /** a fresh value for a store the kernel makes on this program's behalf (a direct-I/O read into its buffer) */
  next_value(): number {
    return (this.tag << 24) | (this.counter++ & 0xffffff);
  }

  /**
   * the kernel stored v at (page, word) for this program, not through its
   * ptes (get_user_pages, then a store into the pinned page): a later load
   * through the MMU must see it
   */
  expect(page: number, word: number, v: number): void {
    this.want[page * WORDS_PER_PAGE + word] = v;
  }

  /** load through the MMU and compare with what this program last stored */
  check(page: number, word: number): boolean {
    const v = user_access(this.mm, this.base + page * PAGE_SIZE, word, false, 0);
    if (mmu.status !== ACCESS_OK) return false;
    const want = this.want[page * WORDS_PER_PAGE + word];
    if (v !== want) {
      const addr = this.base + page * PAGE_SIZE;
      // an older value of this program's, or the setup's value after this program stored: the store was lost
      const older = (tag_of(v) === tag_of(want) && (v & 0xffffff) < (want & 0xffffff)) || (v === initial_value(page, word) && tag_of(want) === this.tag);
      const kind = tag_of(v) === TAG_CHILD && this.tag !== TAG_CHILD ? 'COW leak: a child\'s store is visible in' : older ? 'lost write in' : 'wrong data in';
      fail(OOPS_SHADOW, `user data: ${kind} ${this.what} mm#${this.mm} at 0x${addr.toString(16)} word ${word}: read 0x${(v >>> 0).toString(16)}, expected 0x${(want >>> 0).toString(16)}`, 0, this.mm, addr);
    }
    return true;
  }
}
