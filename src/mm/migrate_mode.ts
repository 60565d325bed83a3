// Migration modes (include/linux/migrate_mode.h, 5.1 with the exchange-pages
// series, kernel-notes 3.3.2). The low bits are the mode proper; the series
// adds flag bits above them, so a test of the mode must mask them off
// (mode & MIGRATE_MODE_MASK): switch exchange-async-mode-mask is the test
// that forgets to.
/** never block: trylock only, no waiting for writeback (compaction from an allocation) */
export const MIGRATE_ASYNC = 0;
/** may block on page locks, not on writeback (kcompactd) */
export const MIGRATE_SYNC_LIGHT = 1;
/** may block on anything (move_pages(2), the exchange syscall) */
export const MIGRATE_SYNC = 2;
/** as MIGRATE_SYNC, the data copied by someone else (a DMA engine) */
export const MIGRATE_SYNC_NO_COPY = 3;
export const MIGRATE_MODE_MASK = 3;
/** the series' flag: copy with several threads */
export const MIGRATE_MT = 1 << 4;
/** the series' flag: exchange a list of pairs concurrently */
export const MIGRATE_CONCUR = 1 << 5;
