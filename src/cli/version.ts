// The package version, from package.json (compiled: dist/src/cli/, from source: src/cli/).
import { readFileSync } from 'node:fs';

export const VERSION: string = (() => {
  for (const rel of ['../../../package.json', '../../package.json']) {
    try { return JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')).version; } catch { /* the other layout */ }
  }
  return '0';
})();
