// hmm-fault-livelock (seed 004, E3) with a fast device: the DMA of a page
// takes no longer than the driver's word copy on the CPU (copy_delay_us 0,
// where the built-in scenario spins 200 µs, kernel-notes 6.15's slow DMA
// that widens the window). Everything else is the built-in scenario's: two
// threads faulting on one device page, the driver moving it back, a woken
// waiter running 50 µs late. The buggy protocol livelocks here too; the
// fixed one makes round trips fast enough for the 1e5 soak of
// test/seed004.test.ts.
//   mmrace run examples/hmm-fault-fast-dma.mjs --protocol fixed --cpus 2 --duration 10
import { HMM_FAULT_KNOBS, hmm_fault_livelock_with } from '../dist/src/scenarios/hmm_fault_livelock.js';

export default hmm_fault_livelock_with({ ...HMM_FAULT_KNOBS, copy_delay_us: 0 }, 'hmm-fault-fast-dma');
