// A controlled schedule as a per-CPU ladder: one column per CPU, one rung
// per turn a CPU had with the token, read top to bottom. Each rung shows
// what the CPU traced in that turn and how the turn ended: preempted (it
// could have gone on), waiting (its lock or page was busy), or its exit,
// with the kernel path it was in. Events of the failure's story are marked *.
import type { TracedEvent } from '../cpu/events.js';
import type { ControlledRun } from '../exec/controlled.js';
import { WHY_BLOCK, WHY_EXIT } from '../worker/sched_state.js';
import { focus_name, focus_of, story } from './interleaving.js';
import { headline } from './splat.js';

const MAX_PLAIN = 6;

function cut(s: string, w: number): string {
  return s.length <= w ? s.padEnd(w) : s.slice(0, w - 1) + '…';
}

export function ladder(r: ControlledRun, events: TracedEvent[]): string {
  const n = r.run.cpus;
  const roles = r.run.roles;
  const W = n <= 2 ? 56 : n === 3 ? 44 : 34;
  const o = r.run.oops;
  const lastSeq = o && o.seq > 0 ? o.seq : Infinity;
  const focus = focus_of(o);
  const told = focus.pfn > 0 || focus.mm > 0;
  const marked = new Set(told ? story(events, focus, 0, 1 << 30).map((e) => e.seq) : []);
  const rows: string[] = [];
  const row = (cpu: number, text: string) => {
    const cols = Array.from({ length: n }, (_, c) => (c === cpu ? cut(text, W) : ''.padEnd(W)));
    rows.push(('  ' + cols.join(' │ ')).trimEnd());
  };

  const turn = (cpu: number, fromSeq: number, toSeq: number) => {
    const evs = events.filter((e) => e.seq > fromSeq && e.seq <= toSeq && e.seq <= lastSeq);
    const show = evs.length <= MAX_PLAIN ? evs.map(() => true) : evs.map((e, i) => i === 0 || i === evs.length - 1 || marked.has(e.seq));
    let hidden = 0;
    evs.forEach((e, i) => {
      if (!show[i]) { hidden++; return; }
      if (hidden) { row(cpu, `  … ${hidden} more event${hidden === 1 ? '' : 's'}`); hidden = 0; }
      row(cpu, `${marked.has(e.seq) ? '*' : ' '} ${e.name}: ${e.text}`);
    });
  };

  let cpu = r.first_cpu;
  let seq = 0;
  let prevStep = 0;
  for (const w of r.switches) {
    turn(w.cpu, seq, w.evseq);
    const span = w.step === prevStep + 1 ? `decision ${w.step}` : `decisions ${prevStep + 1}-${w.step}`;
    row(w.cpu, w.why === WHY_EXIT ? `⤷ done, exits (${span})`
      : w.why === WHY_BLOCK ? `⤷ waits at pp ${w.pp}${w.spin > 1 ? ` (try ${w.spin})` : ''}, ${span}` : `⤷ PREEMPTED at pp ${w.pp}, ${span}`);
    if (w.site && w.why !== WHY_EXIT) row(w.cpu, `    in ${w.site}`);
    rows.push('');
    seq = w.evseq;
    prevStep = w.step;
    cpu = w.to;
  }
  turn(cpu, seq, Infinity);
  if (o) row(o.cpu, `✗ ${r.run.outcome === 'bug' ? 'BUG' : r.run.outcome}: ${headline(o)}`);
  else row(cpu, `⤷ runs to the end (decisions ${prevStep + 1}-${r.steps})`);

  const head = Array.from({ length: n }, (_, c) => cut(`CPU ${c} ${roles[c] ?? ''}`, W)).join(' │ ');
  const rule = Array.from({ length: n }, () => '─'.repeat(W)).join('─┼─');
  const title = `ladder: ${r.preemptions} preemption${r.preemptions === 1 ? '' : 's'}, ${r.switches.length} hand-off${r.switches.length === 1 ? '' : 's'}, ${r.steps} decisions` +
    (told ? ` (* the story of ${focus_name(focus)})` : '');
  return [title, '', '  ' + head.trimEnd(), '  ' + rule, ...rows].join('\n');
}
