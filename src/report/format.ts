// Small formatting helpers shared by the reports.
import { PAGE_FLAG_NAMES } from '../shm/layout.js';

export const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
export const pad = (s: string | number, n: number) => String(s).padStart(n);
export const padEnd = (s: string | number, n: number) => String(s).padEnd(n);

export function flag_names(flags: number): string {
  return PAGE_FLAG_NAMES.filter(([bit]) => (flags & bit) !== 0).map(([, n]) => n).join('|');
}

export function fmt_ms(ms: number | null): string {
  if (ms === null) return '-';
  return ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

export function fmt_count(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(1)}k` : String(Math.round(n));
}

/** a duration in ns, in the unit that keeps three significant digits */
export function fmt_ns(ns: number): string {
  if (ns < 1000) return `${Math.round(ns)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toPrecision(3)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toPrecision(3)} ms`;
  return `${(ns / 1e9).toPrecision(3)} s`;
}
