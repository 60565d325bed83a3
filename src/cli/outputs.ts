// The files a command writes (--json, --trace, --report, --out, a saved
// schedule): checked before the run, so a bad path is a usage error before
// any CPU starts; written to a temporary file beside the target and renamed
// over it, so a killed run leaves either the previous file or the whole new
// one, never a truncated one; and a write that fails after the run says
// which file it could not write without changing the run's exit code.
import { accessSync, constants, existsSync, linkSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError, clip } from './exit.js';

const why = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/** --flag FILE can be written: its directory exists and is writable, and it is not a directory */
export function check_output(flag: string, path: string | undefined): void {
  if (path === undefined) return;
  const p = resolve(path);
  const dir = dirname(p);
  let st;
  try { st = statSync(dir); } catch (e) { throw new UsageError(`--${flag} ${clip(path)}: directory ${clip(dir)} does not exist (${why(e)})`); }
  if (!st.isDirectory()) throw new UsageError(`--${flag} ${clip(path)}: ${clip(dir)} is not a directory`);
  try { accessSync(dir, constants.W_OK); } catch (e) { throw new UsageError(`--${flag} ${clip(path)}: directory ${clip(dir)} is not writable (${why(e)})`); }
  if (existsSync(p)) {
    if (statSync(p).isDirectory()) throw new UsageError(`--${flag} ${clip(path)}: is a directory`);
    try { accessSync(p, constants.W_OK); } catch (e) { throw new UsageError(`--${flag} ${clip(path)}: not writable (${why(e)})`); }
  }
}

let seq = 0;
const temp_of = (p: string) => `${p}.${process.pid}.${++seq}.tmp`;

/** write `data` to `path` through a temporary file renamed over it; throws what failed */
export function write_atomic(path: string, data: string): void {
  const tmp = temp_of(resolve(path));
  try {
    writeFileSync(tmp, data, { flag: 'wx' });
    renameSync(tmp, path);
  } catch (e) {
    try { unlinkSync(tmp); } catch { /* never created */ }
    throw e;
  }
}

/**
 * write a file the user gets told about; a failure is one line on stderr
 * naming the file, and the command goes on (its exit code is the run's)
 */
export function write_output(path: string, data: () => string): boolean {
  try {
    write_atomic(path, data());
    return true;
  } catch (e) {
    console.error(`mmrace: could not write ${path}: ${(e as Error).message.split('\n')[0]}`);
    return false;
  }
}

/**
 * write a new file under a default name without replacing one already there
 * (another run's schedule): `base.json`, else `base-2.json`, `base-3.json`...;
 * the name is taken atomically (a hard link of the finished temporary file,
 * which fails if the name exists), so two runs at once never share one.
 * Returns the name used, or null (the failure is on stderr).
 */
export function write_new(path: string, data: string): string | null {
  const tmp = temp_of(resolve(path));
  try {
    writeFileSync(tmp, data, { flag: 'wx' });
    const m = /^(.*?)(\.[^./]*)?$/.exec(path)!;
    for (let n = 1; n < 10_000; n++) {
      const name = n === 1 ? path : `${m[1]}-${n}${m[2] ?? ''}`;
      try { linkSync(tmp, name); return name; } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; }
    }
    throw new Error('no free name');
  } catch (e) {
    console.error(`mmrace: could not write ${path}: ${(e as Error).message.split('\n')[0]}`);
    return null;
  } finally {
    try { unlinkSync(tmp); } catch { /* never created */ }
  }
}
