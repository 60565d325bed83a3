// Bounded exhaustive exploration (issue 14 item 1): every schedule of the
// controlled executor with at most K preemptions, bound by bound (iterative
// context bounding: K = 0, then 1, then 2 ...), depth-first over the
// decisions, as a stateless model checker does (CHESS, loom): each run
// replays a prefix of choices (src/worker/strategies.ts, exhaustive_next),
// branches at the next decision and goes on without preemption, and its
// trail (every decision: holder, its point, the CPUs that could run) adds
// the decisions after the prefix to the search stack. The stack lives here,
// on the main thread, so it outlives a run and can be saved (--checkpoint).
//
// Partial-order reduction: sleep sets (Godefroid) over what each step, from
// one preemption point of a CPU to its next, touches. A point names the
// object its step starts on (src/sync/preempt.ts); a step that ends at a
// release point released that lock. Two steps commute when they are
// write-lock steps on different lock words (what a critical section
// touches, its lock protects); every other step (an unlocked pte or rmap
// read, a page wait, cond_resched, a waiter's retry, a CPU's first step,
// and a read acquire: after down_read(mmap_sem) the fault path reads the
// pte with no lock and no point of its own) may touch anything and commutes
// with nothing. Under a preemption bound a sleep set may only hold the
// holder's own next step, explored first (continuing costs nothing): the
// schedule a sleeping step stands for then needs no more preemptions than
// the one set aside (Coons et al., OOPSLA 2013, show why other sleepers can
// lose bounded schedules). Conservative: when unsure, it does not prune.
// A run that chooses a sleeping CPU is redundant: it is not counted, and
// the branches under it are not explored. The search learns where a run
// goes only by running it, but not past that choice: the CPUs carry the
// sleep set of the prefix's end and stop the run at it (the sleep-set cut,
// src/worker/sleep_cut.ts), so a redundant run costs the decisions up to the
// point it became redundant.
import { ControlledExecutor, ControlledOptions, ControlledRun, Decision } from '../exec/controlled.js';
import { Footprint, Point, dependent, flat_sleep, footprint } from '../worker/footprint.js';
import { WindowCount, add_window_counts } from '../cpu/windows.js'; // cov

export { type Footprint, type Point, dependent, footprint } from '../worker/footprint.js';

/** one decision of the search tree */
export interface Node {
  /** decision number (0: the choice of the first CPU) */
  step: number;
  /** the CPU holding the token (-1 at the root) */
  holder: number;
  /** the CPUs that could run */
  mask: number;
  /** preemptions before this decision */
  pre: number;
  /** the choice of the branch being explored */
  chosen: number;
  /** choices left to explore here */
  todo: number[];
  /** sleeping CPUs and their next steps' footprints */
  sleep: [number, Footprint][];
  /** the holder's own next step, explored first: it sleeps in the later branches */
  cont: Footprint | null;
}

export interface RoundStats { k: number; schedules: number; redundant: number; pruned: number; runs: number; failures: number; wall_ms: number }

/** the search's whole state: what a checkpoint saves */
export interface SearchState {
  /** the bound being explored */
  k: number;
  stack: Node[];
  rounds: RoundStats[];
  /** every bound up to the goal explored */
  done: boolean;
  /** cov: how often each of the scenario's race windows opened in the schedules counted so far */
  windows?: WindowCount[];
}

export interface ExhaustiveOptions {
  /** everything but the strategy */
  base: Omit<ControlledOptions, 'strategy'>;
  /** the preemption bound K */
  preemptions: number;
  /** sleep sets on (false: every schedule within the bound, for checking the reduction) */
  reduction: boolean;
  /** xspeed: false: a redundant run goes on to its end, as before the sleep-set cut (the bench compares the two) */
  cut?: boolean;
  /** go on after a failure (collect every failing schedule) */
  keep_going?: boolean;
  /** resume from a saved state */
  resume?: SearchState;
  /** asked after each run: a reason ends the search there (budget, interrupt), resumable */
  stop?: (s: ExhaustiveProgress) => string | null;
  progress?: (s: ExhaustiveProgress, state: SearchState) => void;
  /** every run counted (a schedule, or a redundant run of one the reduction stood for another) */
  on_run?: (r: ControlledRun, counted: boolean, options: ControlledOptions) => void;
}

export interface ExhaustiveProgress { k: number; schedules: number; redundant: number; pruned: number; runs: number; failures: number; wall_ms: number }

export interface ExhaustiveResult extends ExhaustiveProgress {
  bound: number;
  complete: boolean;
  /** why it stopped before the end (a budget, an interrupt, the first failure) */
  stopped: string | null;
  rounds: RoundStats[];
  /** the first failing run: its bound, its number among that bound's counted runs (schedules and redundant ones), and whether the reduction counted it redundant */
  first: { options: ControlledOptions; run: ControlledRun; k: number; index: number; redundant: boolean } | null;
  /** the state to resume from */
  state: SearchState;
  /** cov: how often each race window opened over the schedules counted (resumed searches included) */
  windows: WindowCount[];
}

/** a run that left the prefix it was given: the controlled executor is not deterministic */
export class NotDeterministic extends Error {}

const bit = (mask: number, c: number) => ((mask >>> c) & 1) !== 0;

/** the preemption a choice costs: leaving a holder that could go on */
function cost(n: Node, c: number): number {
  return n.holder >= 0 && bit(n.mask, n.holder) && c !== n.holder ? 1 : 0;
}

function root(cpus: number): Node {
  const todo: number[] = [];
  for (let c = 1; c < cpus; c++) todo.push(c);
  return { step: 0, holder: -1, mask: (1 << cpus) - 1, pre: 0, chosen: 0, todo, sleep: [], cont: null };
}

const point = (d: Decision): Point => ({ kind: d.kind, object: d.object });

export function fresh_state(): SearchState {
  return { k: 0, stack: [], rounds: [], done: false };
}

export async function exhaustive(ex: ControlledExecutor, o: ExhaustiveOptions): Promise<ExhaustiveResult> {
  const st: SearchState = o.resume ? structuredClone(o.resume) : fresh_state();
  const cpus = o.base.cpus;
  const t0 = performance.now();
  const wall0 = st.rounds.reduce((a, r) => a + r.wall_ms, 0);
  let first: ExhaustiveResult['first'] = null;
  let stopped: string | null = null;
  if (st.k > o.preemptions) throw new Error(`the saved search is at K=${st.k}, above the bound ${o.preemptions}`);
  if (st.done && st.k < o.preemptions) { st.k++; st.done = false; } // a complete search at a lower bound goes on to the next

  const round = (): RoundStats => {
    let r = st.rounds.find((x) => x.k === st.k);
    if (!r) { r = { k: st.k, schedules: 0, redundant: 0, pruned: 0, runs: 0, failures: 0, wall_ms: 0 }; st.rounds.push(r); }
    return r;
  };
  const totals = (): ExhaustiveProgress => {
    const t = { k: st.k, schedules: 0, redundant: 0, pruned: 0, runs: 0, failures: 0, wall_ms: 0 };
    for (const r of st.rounds) { t.schedules += r.schedules; t.redundant += r.redundant; t.pruned += r.pruned; t.runs += r.runs; t.failures += r.failures; }
    t.wall_ms = wall0 + performance.now() - t0;
    return t;
  };

  while (!st.done) {
    if (st.stack.length === 0) st.stack.push(root(cpus));
    const rs = round();
    const stack = st.stack;
    const sleep = o.reduction && o.cut !== false ? asleep_after(stack[stack.length - 1]) : [];
    const options: ControlledOptions = {
      ...o.base,
      strategy: { name: 'exhaustive', first: stack[0].chosen, choices: stack.slice(1).map((n) => n.chosen), ...(sleep.length ? { sleep: flat_sleep(sleep) } : {}) },
    };
    const tr = performance.now();
    const r = await ex.run(options);
    rs.runs++;
    if (r.run.outcome === 'internal' && !r.cut) { // a cut run was halted where it became redundant: its end says nothing
      throw new Error(`internal error in exhaustive run ${rs.runs} (K=${st.k}): ${(r.run.oops?.text ?? r.run.watchdog ?? 'a CPU did not finish').split('\n')[0]}`);
    }
    const { cut, pruned } = extend(stack, r, cpus, st.k, o.reduction);
    rs.pruned += pruned;
    // a run whose preemptions are below the bound was counted at its own bound
    const mine = r.preemptions === st.k;
    if (mine) {
      if (cut) rs.redundant++; else rs.schedules++;
      o.on_run?.(r, !cut, options);
      if (!cut) st.windows = add_window_counts(st.windows ?? [], r.run.windows); // cov
      if (r.run.outcome !== 'clean' && !cut) {
        rs.failures++;
        if (!first) first = { options, run: r, k: st.k, index: rs.schedules + rs.redundant, redundant: cut };
      }
    }
    if (first?.run !== r) ex.release(r); // xspeed: only the first failure's Machine is kept
    rs.wall_ms += performance.now() - tr;
    // next branch: the deepest decision with a choice left
    while (stack.length && stack[stack.length - 1].todo.length === 0) stack.pop();
    if (stack.length) stack[stack.length - 1].chosen = stack[stack.length - 1].todo.shift()!;
    else if (st.k >= o.preemptions) st.done = true;
    else { st.k++; round(); }
    const p = totals();
    o.progress?.(p, st);
    if (first && !o.keep_going) { stopped = 'failure'; break; }
    const why = st.done ? null : o.stop?.(p) ?? null;
    if (why) { stopped = why; break; }
  }
  const t = totals();
  return { ...t, k: st.k, bound: o.preemptions, complete: st.done, stopped, rounds: st.rounds, first, state: st, windows: st.windows ?? [] };
}

/** the CPUs asleep once `n`'s choice runs: its own, and its holder's next step if the choice leaves it (explored first) */
function asleep_after(n: Node): [number, Footprint][] {
  return n.chosen !== n.holder && n.cont ? [...n.sleep, [n.holder, n.cont]] : n.sleep;
}

/**
 * add what a run did after its prefix to the stack; returns whether the run
 * ran into a sleeping CPU (redundant: the reduction stands another
 * schedule for it) and how many branches sleep sets pruned
 */
function extend(stack: Node[], r: ControlledRun, cpus: number, k: number, reduction: boolean): { cut: boolean; pruned: number } {
  const trail = r.trail ?? [];
  const pend: Point[] = new Array(cpus).fill(null);
  let pruned = 0;
  for (let j = 0; j < trail.length; j++) {
    const e = trail[j];
    const i = j + 1;
    if (e.step !== i) break; // the step bound's last decisions: no choice there
    const parent = stack[i - 1];
    if (parent.chosen >= 0 && e.cpu !== parent.chosen) {
      throw new NotDeterministic(`decision ${i}: CPU ${e.cpu} holds the token, CPU ${parent.chosen} was chosen at decision ${i - 1}`);
    }
    if (i < stack.length) {
      const n = stack[i];
      if (n.holder !== e.cpu || n.mask !== e.mask || n.chosen !== e.next) {
        throw new NotDeterministic(`decision ${i} of the prefix: CPU ${e.cpu} with CPUs ${e.mask.toString(2)} able to run chose ${e.next}; ` +
          `the run that found it had CPU ${n.holder}, CPUs ${n.mask.toString(2)}, and the search chose ${n.chosen}`);
      }
      pend[e.cpu] = point(e);
      continue;
    }
    // a new decision: the step that led here was parent.chosen's, from where it stood to this point
    let sleep: [number, Footprint][] = [];
    if (reduction) {
      const did = footprint(pend[e.cpu], point(e));
      sleep = asleep_after(parent).filter(([u, f]) => u !== e.cpu && !dependent(f, did));
    }
    const n: Node = { step: i, holder: e.cpu, mask: e.mask, pre: parent.pre + cost(parent, parent.chosen), chosen: e.next, todo: [], sleep, cont: null };
    const sleeping = (c: number) => sleep.some(([u]) => u === c);
    for (let c = 0; c < cpus; c++) {
      if (c === e.next || !bit(e.mask, c) || n.pre + cost(n, c) > k) continue;
      if (!sleeping(c)) n.todo.push(c);
      else if (n.pre + cost(n, c) === k) pruned++; // one with fewer preemptions was counted at its own bound
    }
    pend[e.cpu] = point(e);
    stack.push(n);
    if (e.next >= 0 && sleeping(e.next)) return { cut: true, pruned };
    if (reduction && e.next === e.cpu) n.cont = footprint(point(e), j + 1 < trail.length ? point(trail[j + 1]) : null);
  }
  if (stack.length > trail.length + 1) throw new NotDeterministic(`the run made ${trail.length} decisions, its prefix has ${stack.length - 1}`);
  return { cut: false, pruned };
}

/** a saved search: its configuration (a resume must match it) and its state */
export const CHECKPOINT_SCHEMA = 'mmrace.exhaustive-checkpoint/1';

/** `extra`: what the caller keeps across a resume (the CLI's --keep-going tallies) */
export function checkpoint_json(config: Record<string, unknown>, st: SearchState, extra: unknown = null): string {
  return JSON.stringify({ schema: CHECKPOINT_SCHEMA, config, state: st, extra }) + '\n';
}

/** the state of a checkpoint saved with the same configuration; throws a one-line Error otherwise */
export function parse_checkpoint(text: string, where: string, config: Record<string, unknown>): { state: SearchState; extra: unknown } {
  let o: { schema?: unknown; config?: Record<string, unknown>; state?: SearchState; extra?: unknown };
  try { o = JSON.parse(text); } catch (e) { throw new Error(`${where}: not JSON (${(e as Error).message.split('\n')[0]})`); }
  if (!o || o.schema !== CHECKPOINT_SCHEMA || !o.config || !o.state) throw new Error(`${where}: not an exhaustive search checkpoint (${CHECKPOINT_SCHEMA})`);
  for (const [k, v] of Object.entries(config)) {
    if (JSON.stringify(o.config[k]) !== JSON.stringify(v)) throw new Error(`${where}: saved with ${k} ${JSON.stringify(o.config[k])}, this search has ${JSON.stringify(v)}`);
  }
  const st = o.state;
  if (!Number.isInteger(st.k) || !Array.isArray(st.stack) || !Array.isArray(st.rounds) || typeof st.done !== 'boolean') throw new Error(`${where}: malformed search state`);
  return { state: st, extra: o.extra ?? null };
}
