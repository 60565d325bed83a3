// The model's code as a hash: every source file of the running build (the
// compiled .js under dist/src, or the .ts under src when run from source),
// so a schedule can record which code it ran and a replay that diverges can
// say whether the code changed since.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const src = join(dirname(fileURLToPath(import.meta.url)), '..');
const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
let memo: string | null = null;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(ext) ? [join(dir, e.name)] : []);
}

export function code_sha256(): string {
  if (memo) return memo;
  const h = createHash('sha256');
  for (const f of files(src).sort()) h.update(relative(src, f)).update('\0').update(readFileSync(f)).update('\0');
  return (memo = h.digest('hex'));
}
