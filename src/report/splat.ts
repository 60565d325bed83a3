// The failure as the kernel would print it: the BUG line, the CPU, the
// message, the page dump (dump_page style), the call trace, then the
// interleaving of all CPUs that led there.
import { OOPS_BAD_PAGE, OOPS_BUG, OOPS_ERROR, OOPS_INVARIANT, OOPS_BOUNDS, OOPS_SHADOW, OOPS_SOFTLOCKUP, OopsRecord } from '../check/bug.js';
import { EVENTS, TracedEvent } from '../cpu/events.js';
import { E3 } from '../shm/era.js';
import { flag_names, hex8 } from './format.js';
import { focus_name, focus_of, format_story, story } from './interleaving.js';

export function page_dump(o: OopsRecord): string[] {
  if (!o.page) return [];
  const p = o.page;
  return [
    `page:pfn ${o.pfn} count:${p.count} mapcount:${p.mapcount + 1} mapping:${hex8(p.mapping)} index:0x${(p.index >>> 0).toString(16)}${p.owner ? ` locked-by:CPU${p.owner - 1}` : ''}`,
    `flags: 0x${(p.flags >>> 0).toString(16)}(${flag_names(p.flags)})`,
  ];
}

/**
 * the failure's first line as reported: a detector the kernel did not have
 * (the user-data shadow, the invariant checks) speaks as mmrace, so no one
 * takes it for a kernel message
 */
export function headline(o: OopsRecord): string {
  const first = o.text.split('\n')[0];
  if (o.kind === OOPS_SHADOW) return `mmrace: user-visible failure: ${first.replace(/^(user data|user program): /, '')}`;
  if (first.startsWith('mmrace: ')) return first; // a model check that already says whose it is
  if (o.kind === OOPS_INVARIANT) return `mmrace: ${first.startsWith('invariant violated') ? first : `invariant violated: ${first}`}`;
  return first;
}

/** `era` is the run's, 'E2 (2.6.18)': the header line names the kernel as a real one does ('Not tainted 2.6.18 #1'); `era_id` its number (E2) */
export function splat(o: OopsRecord, events: TracedEvent[], roles: string[], protocol: string, switches: string[], era: string, era_id: number): string {
  const [msg, ...rest] = o.text.split('\nCall Trace:\n');
  const trace = rest.join('\n');
  const where = /\+(\S+:\d+)/.exec(trace)?.[1] ?? 'unknown';
  const comm = roles[o.cpu] ?? '?';
  const kernel = /\((.*)\)$/.exec(era)?.[1];
  const taint = `${kernel ? `Not tainted ${kernel} #1 ` : ''}mmrace ${era ? `${era.split(' ')[0]} ` : ''}${protocol}${switches.length ? ` [${switches.join(',')}]` : ''}`;
  const out: string[] = [];
  if (o.kind === OOPS_BUG) {
    out.push('------------[ cut here ]------------', `kernel BUG at ${where}!`, 'invalid opcode: 0000 [#1] SMP',
      `CPU: ${o.cpu} PID: ${o.cpu + 1} Comm: ${comm} ${taint}`, msg);
  } else if (o.kind === OOPS_BAD_PAGE) {
    // 2.6.18's bad_page: its lines, then its dump_stack; the model's note and header after
    const lines = msg.split('\n');
    const note = lines.filter((l) => l.startsWith('mmrace: '));
    out.push(...lines.filter((l) => !l.startsWith('mmrace: ')), 'Backtrace:', trace, ...note, `CPU: ${o.cpu} PID: ${o.cpu + 1} Comm: ${comm} ${taint}`);
  } else if (o.kind === OOPS_SOFTLOCKUP) {
    out.push(msg);
  } else if (o.kind === OOPS_BOUNDS) {
    out.push(...msg.split('\n'), `CPU: ${o.cpu} PID: ${o.cpu + 1} Comm: ${comm} ${taint}`);
  } else if (o.kind === OOPS_ERROR) {
    // an error-level printk, as dmesg shows it, with the stack of whoever printed it
    out.push(...msg.split('\n'), `CPU: ${o.cpu} PID: ${o.cpu + 1} Comm: ${comm} ${taint}`);
  } else if (o.kind === OOPS_SHADOW || o.kind === OOPS_INVARIANT) {
    out.push(headline(o), ...msg.split('\n').slice(1), `CPU: ${o.cpu} Comm: ${comm} ${taint}`);
  } else {
    out.push(`BUG: ${o.kindName}: ${msg.split('\n')[0]}`, `CPU: ${o.cpu} Comm: ${comm} ${taint}`, ...msg.split('\n').slice(1));
  }
  if (o.kind !== OOPS_BAD_PAGE) {
    const dump = page_dump(o);
    if (dump.length) out.push(...dump, `page dumped because: ${msg.replace(/ in \w+$/, '')}`);
    if (trace) out.push('Call Trace:', trace);
  }
  // the end-of-oops marker came with 2.6.26's print_oops_end_marker: E3 on
  if (o.kind === OOPS_BUG && era_id >= E3) out.push('---[ end trace 0000000000000000 ]---');
  const focus = focus_of(o);
  const evs = story(events, focus);
  if (evs.length) {
    out.push('', `Interleaving (global event order; * names ${focus_name(focus)}; path at the failure: ${EVENTS[o.path]?.name ?? '-'}):`);
    out.push(format_story(evs, focus, roles));
  }
  return out.join('\n');
}
