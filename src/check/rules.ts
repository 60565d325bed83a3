// The rule ids of kernel-notes 5 (I- for the quiescent sweep, C- for the
// continuous checks) and how a broken one prints. The kernel had none of
// these checkers, so every message speaks as mmrace's. Apart from the sweep
// so that kernel paths with a continuous check can use it without importing
// the sweep (which imports them).
export type Rule = 'I-REF' | 'I-MAP' | 'I-PTE' | 'I-MIGENT' | 'I-SWAPCNT' | 'I-CACHE' | 'I-LRU' | 'I-COW' | 'I-RO' | 'I-RSS' | 'I-ANONVMA' | 'I-LOCKED' | 'I-ZONE' | 'I-SWAPINFO' | 'I-IO'
  | 'C-MIGENT' | 'C-NOPAGE'
  // seed 003 (E0)
  | 'I-ANONMM' | 'I-HUGE' | 'C-ANONMM'
  // seed 004 (E3)
  | 'I-DEV' | 'C-DEVLRU' | 'C-DEVMEM';

/** how a broken rule is printed, everywhere a finding is shown */
export const invariant_message = (rule: Rule, text: string) => `mmrace: invariant ${rule}: ${text}`;
