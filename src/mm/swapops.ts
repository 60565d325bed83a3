// swp_entry_t and the migration entries of swapops.h. A swp_entry_t keeps
// the type in bits 27..31 and the offset in bits 0..26; a swap pte keeps the
// type in bits 6..10 and the offset in bits 11..31. Keep the two apart:
// sys_swapon's old range check round-trips through both.
import { BUG_ON } from '../check/bug.js';
import { PageLocked } from '../sync/page_lock.js';
import { ERA, SWP_MIGRATION_READ, SWP_MIGRATION_WRITE } from '../shm/era.js';

export const MAX_SWAPFILES_SHIFT = 5;
// MAX_SWAPFILES and the special types are the era's (src/shm/era.ts): E2 (2.6.17
// CONFIG_MIGRATION) takes the upper two types for migration entries; E0/E1 have none.
export { MAX_SWAPFILES, SWP_MIGRATION_READ, SWP_MIGRATION_WRITE } from '../shm/era.js';

const SWP_TYPE_SHIFT = 27;
const SWP_OFFSET_MASK = (1 << SWP_TYPE_SHIFT) - 1;
const PTE_TYPE_SHIFT = 6;
const PTE_OFFSET_SHIFT = 11;

export const swp_entry = (type: number, offset: number) => (type << SWP_TYPE_SHIFT) | (offset & SWP_OFFSET_MASK);
export const swp_type = (e: number) => e >>> SWP_TYPE_SHIFT;
export const swp_offset = (e: number) => e & SWP_OFFSET_MASK;

/** arch encoding: what fits in a pte (5 type bits, 21 offset bits) */
export const swp_entry_to_pte = (e: number) =>
  ((swp_type(e) & 0x1f) << PTE_TYPE_SHIFT) | (swp_offset(e) << PTE_OFFSET_SHIFT);
export const pte_to_swp_entry = (pte: number) =>
  swp_entry((pte >>> PTE_TYPE_SHIFT) & 0x1f, pte >>> PTE_OFFSET_SHIFT);

/** `write` is a C int used as a boolean: any non-zero number selects WRITE */
export function make_migration_entry(pfn: number, write: number | boolean): number {
  BUG_ON(!PageLocked(pfn), 'BUG_ON(!PageLocked(page)) in make_migration_entry', pfn);
  return swp_entry(write ? SWP_MIGRATION_WRITE : SWP_MIGRATION_READ, pfn);
}

export const is_migration_entry = (e: number) =>
  swp_type(e) === SWP_MIGRATION_READ || swp_type(e) === SWP_MIGRATION_WRITE;

export const is_write_migration_entry = (e: number) => swp_type(e) === SWP_MIGRATION_WRITE;

/** any use of a migration entry may only occur while its page is locked */
export function migration_entry_to_page(e: number): number {
  const pfn = swp_offset(e);
  BUG_ON(!PageLocked(pfn), 'BUG_ON(!PageLocked(p)) in migration_entry_to_page', pfn);
  return pfn;
}

/** the kernel's make_migration_entry_read(&entry), returning the new entry */
export const make_migration_entry_read = (e: number) => swp_entry(SWP_MIGRATION_READ, swp_offset(e));

// seed 004 (E3): device-private entries (swapops.h, 4.14). A device page mapped
// into a process is a non-present pte of type SWP_DEVICE_WRITE/READ whose offset
// is the device pfn; it counts in _mapcount and _count like a present pte and
// needs no lock to decode (kernel-notes 1.8, 2.2 rule 5).

/** non_swap_entry (E3/E4): a special type, not a swap device's slot */
export const non_swap_entry = (e: number) => swp_type(e) >= ERA.max_swapfiles;

/** make_device_private_entry: `write` is a C int used as a boolean */
export const make_device_private_entry = (pfn: number, write: number | boolean) =>
  swp_entry(write ? ERA.swp_device_write : ERA.swp_device_read, pfn);

export const make_device_private_entry_read = (e: number) => swp_entry(ERA.swp_device_read, swp_offset(e));

export const is_device_private_entry = (e: number) =>
  ERA.swp_device_read >= 0 && (swp_type(e) === ERA.swp_device_read || swp_type(e) === ERA.swp_device_write);

export const is_write_device_private_entry = (e: number) => ERA.swp_device_write >= 0 && swp_type(e) === ERA.swp_device_write;

/** device_private_entry_to_page: no lock requirement (unlike a migration entry) */
export const device_private_entry_to_page = (e: number) => swp_offset(e);
