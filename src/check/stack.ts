// Call traces that are cheap to take on a CPU and readable in a report.
// With --enable-source-maps, a stack trace costs a source-map lookup per
// frame, milliseconds for the first one: far too much for lockdep, which
// takes one per new dependency while the race it watches is running (it
// moved the orphan's median time to first BUG from 25 ms to 150 ms). So a CPU
// records raw frames (function, compiled file, line, column), and the report
// maps them to TypeScript lines afterwards, on the main thread, from the
// .js.map files next to the compiled code.
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

// this package's own root (dist/src/check or src/check, up to the package): its frames count
// even when the package is installed under a node_modules folder
const own_root = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../..' : '../../..', import.meta.url));
/** a frame of another package (a file or file URL under a node_modules folder other than this package) */
export function third_party(file: string): boolean {
  if (!file.includes('node_modules')) return false;
  const path = file.startsWith('file:') ? fileURLToPath(file) : file;
  return !path.startsWith(own_root) || path.slice(own_root.length).includes('node_modules');
}

interface Frame { isToplevel(): boolean; getFunctionName(): string | null; getMethodName(): string | null; getTypeName(): string | null; getFileName(): string | null; getLineNumber(): number | null; getColumnNumber(): number | null }

/** raw frames of the caller as "fn@file:line:col" lines, frames whose file matches `skip` left out */
export function raw_call_trace(skip: RegExp | null, max: number): string {
  const prepare = Error.prepareStackTrace;
  const limit = Error.stackTraceLimit;
  Error.prepareStackTrace = (_e, frames) => frames; // the V8 call sites themselves: no formatting, no source maps
  Error.stackTraceLimit = 40;
  const frames = new Error().stack as unknown as Frame[];
  Error.prepareStackTrace = prepare;
  Error.stackTraceLimit = limit;
  const out: string[] = [];
  for (const f of frames.slice(1)) {
    const file = f.getFileName() ?? '';
    if (!file || third_party(file) || file.startsWith('node:') || file.endsWith('check/stack.js') || file.endsWith('check/stack.ts') || skip?.test(file)) continue;
    const type = f.isToplevel() ? null : f.getTypeName(); // as V8 prints a method call: Type.method
    const name = f.getFunctionName() ?? f.getMethodName() ?? '<anonymous>';
    const fn = type ? `${type}.${name}` : name;
    out.push(`${fn}@${file}:${f.getLineNumber() ?? 0}:${f.getColumnNumber() ?? 0}`);
    if (out.length >= max) break;
  }
  return out.join('\n');
}

const maps = new Map<string, SourceMap | null>();

function source_map(file: string): SourceMap | null {
  if (!maps.has(file)) {
    let m: SourceMap | null = null;
    try { m = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8'))); } catch { /* not compiled by us: raw positions */ }
    maps.set(file, m);
  }
  return maps.get(file)!;
}

const relative = (file: string) => /((?:src|workers|test|bench|examples)\/.*)$/.exec(file)?.[1] ?? file;

/** one raw frame as the splats print frames: "fn+src/mm/migrate.ts:94" */
export function symbolize(raw: string): string {
  const m = /^(.*)@(.*):(\d+):(\d+)$/.exec(raw);
  if (!m) return raw;
  const [, fn, url, line, col] = m;
  const file = url.startsWith('file:') ? fileURLToPath(url) : url;
  const entry = (file.endsWith('.js') ? source_map(file)?.findEntry(Number(line) - 1, Number(col) - 1) : undefined) as
    { originalSource?: string; originalLine?: number } | undefined;
  if (entry?.originalSource && entry.originalLine !== undefined) {
    const src = entry.originalSource.startsWith('file:') ? fileURLToPath(entry.originalSource) : entry.originalSource;
    return `${fn}+${relative(src)}:${entry.originalLine + 1}`;
  }
  return `${fn}+${relative(file)}:${line}`;
}
