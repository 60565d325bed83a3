// Doubly linked lists of ids (list.h). A head is two consecutive words,
// first then last; a node has next/prev id fields in its own record. Id 0
// ends the list. list_add inserts right after the head, list_add_tail right
// before it: the difference the anon-vma-list-head bug is about.
import { i32 } from './machine.js';

export interface ListDesc {
  /** word index of the record of id */
  base: (id: number) => number;
  next: number; // offset of the next field in the record
  prev: number; // offset of the prev field
}

export function list_add(d: ListDesc, head: number, id: number): void {
  const first = i32[head];
  const n = d.base(id);
  i32[n + d.next] = first;
  i32[n + d.prev] = 0;
  if (first !== 0) i32[d.base(first) + d.prev] = id;
  else i32[head + 1] = id;
  i32[head] = id;
}

export function list_add_tail(d: ListDesc, head: number, id: number): void {
  const last = i32[head + 1];
  const n = d.base(id);
  i32[n + d.prev] = last;
  i32[n + d.next] = 0;
  if (last !== 0) i32[d.base(last) + d.next] = id;
  else i32[head] = id;
  i32[head + 1] = id;
}

/** list_add(&new, &prev->node): insert id right after prev, which is on the list */
export function list_add_after(d: ListDesc, head: number, prev: number, id: number): void {
  const p = d.base(prev);
  const next = i32[p + d.next];
  const n = d.base(id);
  i32[n + d.prev] = prev;
  i32[n + d.next] = next;
  if (next !== 0) i32[d.base(next) + d.prev] = id;
  else i32[head + 1] = id;
  i32[p + d.next] = id;
}

export function list_del(d: ListDesc, head: number, id: number): void {
  const n = d.base(id);
  const next = i32[n + d.next];
  const prev = i32[n + d.prev];
  if (prev !== 0) i32[d.base(prev) + d.next] = next;
  else i32[head] = next;
  if (next !== 0) i32[d.base(next) + d.prev] = prev;
  else i32[head + 1] = prev;
  i32[n + d.next] = 0;
  i32[n + d.prev] = 0;
}

export const list_empty = (head: number) => i32[head] === 0;
export const list_first = (head: number) => i32[head];
export const list_next = (d: ListDesc, id: number) => i32[d.base(id) + d.next];

/** ids on the list, head to tail (for checkers and reports, not hot paths) */
export function list_ids(d: ListDesc, head: number, limit = 1 << 16): number[] {
  const out: number[] = [];
  for (let id = i32[head]; id !== 0 && out.length < limit; id = i32[d.base(id) + d.next]) out.push(id);
  return out;
}
