// The pte word (asm/pgtable.h): present bit, write, accessed (young),
// dirty, PROTNONE (present to the kernel, not to the MMU) and the pfn. A
// non-present, non-zero pte is a swap pte (see swapops.ts).
export const _PAGE_PRESENT = 1 << 0;
export const _PAGE_RW = 1 << 1;
export const _PAGE_ACCESSED = 1 << 2;
export const _PAGE_DIRTY = 1 << 3;
export const _PAGE_SPECIAL = 1 << 4;
export const _PAGE_PROTNONE = 1 << 5;
export const _PAGE_FILE = 1 << 1; // only meaningful when not present
export const PTE_PFN_SHIFT = 8;
const PFN_MASK = ~0xff;

export const pte_none = (pte: number) => pte === 0;
export const pte_present = (pte: number) => (pte & (_PAGE_PRESENT | _PAGE_PROTNONE)) !== 0;
/** what the MMU walker tests: a PROTNONE pte is not present to hardware */
export const pte_hw_present = (pte: number) => (pte & _PAGE_PRESENT) !== 0;
export const pte_file = (pte: number) => !pte_present(pte) && (pte & _PAGE_FILE) !== 0;
export const is_swap_pte = (pte: number) => !pte_none(pte) && !pte_present(pte) && !pte_file(pte);
export const pte_write = (pte: number) => (pte & _PAGE_RW) !== 0;
export const pte_dirty = (pte: number) => (pte & _PAGE_DIRTY) !== 0;
export const pte_young = (pte: number) => (pte & _PAGE_ACCESSED) !== 0;
export const pte_pfn = (pte: number) => pte >>> PTE_PFN_SHIFT;
export const pte_mkwrite = (pte: number) => pte | _PAGE_RW;
export const pte_wrprotect = (pte: number) => pte & ~_PAGE_RW;
export const pte_mkdirty = (pte: number) => pte | _PAGE_DIRTY;
export const pte_mkclean = (pte: number) => pte & ~_PAGE_DIRTY;
export const pte_mkold = (pte: number) => pte & ~_PAGE_ACCESSED;
export const pte_mkyoung = (pte: number) => pte | _PAGE_ACCESSED;
/** mk_pte(page, prot): the pfn with the protection bits; A and D clear */
export const mk_pte = (pfn: number, prot: number) => (pfn << PTE_PFN_SHIFT) | prot;
/** pte_modify: keep pfn, A and D; take the protection from newprot */
export const pte_modify = (pte: number, newprot: number) =>
  (pte & (PFN_MASK | _PAGE_ACCESSED | _PAGE_DIRTY)) | newprot;

/** the pgprot values protection_map gives (vm_get_page_prot) */
export const PAGE_NONE = _PAGE_PROTNONE;
export const PAGE_READONLY = _PAGE_PRESENT;
export const PAGE_SHARED = _PAGE_PRESENT | _PAGE_RW;
