// The run as a Chrome Trace Event / Perfetto JSON trace (open it at
// ui.perfetto.dev or chrome://tracing). One track per CPU: its operations
// and kernel paths as nested slices with the lock waits inside them (a wait
// begins and ends within one lock call), every kernel event as an instant
// (the events of the failure's interleaving in category "race"), lock holds
// as async slices on per-CPU lanes (holds are not LIFO, so they cannot be
// nested slices; a lane carries one hold at a time), a flow arrow from the
// release of a contended lock to the acquisition it let through, and the BUG
// as a global instant. The rings keep the last events of each CPU (ftrace's
// overwrite mode): a long run's trace shows its end, where a failure is.
import { EV_BUG, EV_LOCK_ACQ, EV_LOCK_REL, EV_LOCK_WAIT, EV_LOCK_WAITED, EV_OP_BEGIN, EV_OP_END, EV_SPAN_BEGIN, EV_SPAN_END, EVENTS, SPAN_NAMES, collect_events } from '../cpu/events.js';
import { lock_class_name } from '../sync/lock_class.js';
import { describe_lock } from '../check/lock_names.js';
import type { RunReport } from './json.js';
import type { MachineView } from '../shm/machine.js';
import { era_of } from '../shm/era.js';

/** one Chrome Trace Event (the fields this writer uses) */
export interface TraceEvent {
  ph: string; name: string; pid: number; tid?: number; ts?: number; cat?: string; id?: string; s?: string; bp?: string;
  args?: Record<string, unknown>;
}

export interface ChromeTrace {
  traceEvents: TraceEvent[];
  displayTimeUnit: 'ns';
  metadata: Record<string, unknown>;
}

const PID = 1;
/** the async track of one lane of one CPU's held locks */
const lane_id = (cpu: number, lane: number) => `cpu${cpu}.held${lane}`;

/**
 * Build the trace from the run's Machine as its result keeps it (every event, the
 * trace-only ones too, timestamps in performance.now() ms) and its report
 * (the events of the failure's interleaving are category "race").
 */
export function chrome_trace(m: MachineView, report: RunReport): ChromeTrace {
  const events = collect_events(m, Infinity, true);
  const raceSeqs = new Set(report.interleaving.map((e) => e.seq));
  const cls = (c: number) => lock_class_name(c, era_of(m));
  const out: TraceEvent[] = [];
  const timed = events.filter((e) => e.ts > 0);
  let t0 = Infinity;
  for (const e of timed) if (e.ts < t0) t0 = e.ts;
  const us = (ts: number) => Math.round((ts - t0) * 1e6) / 1e3; // µs with ns resolution
  out.push({ ph: 'M', name: 'process_name', pid: PID, args: { name: `mmrace ${report.scenario} (${report.protocol}${report.switches.length ? ': ' + report.switches.join(', ') : ''})` } });
  for (let cpu = 0; cpu < report.cpus; cpu++) {
    out.push({ ph: 'M', name: 'thread_name', pid: PID, tid: cpu, args: { name: `CPU${cpu} ${report.roles[cpu] ?? ''}` } });
    out.push({ ph: 'M', name: 'thread_sort_index', pid: PID, tid: cpu, args: { sort_index: cpu } });
  }

  // per CPU: open slices (ops, kernel paths, waits), and holds: lanes in use, and the lanes of each held lock word
  const stacks = new Map<number, { name: string; op: boolean }[]>();
  const lanes = new Map<number, boolean[]>();
  const holds = new Map<string, { lane: number; name: string }[]>(); // "cpu:lock" -> its holds, innermost last
  const lastRelease = new Map<number, { cpu: number; ts: number }>(); // lock -> its last release
  const lastTs = new Map<number, number>();
  let flows = 0;

  const close = (cpu: number, ts: number, until: (s: { name: string; op: boolean }) => boolean) => {
    const st = stacks.get(cpu) ?? [];
    while (st.length) {
      const top = st.pop()!;
      out.push({ ph: 'E', name: top.name, pid: PID, tid: cpu, ts });
      if (until(top)) break;
    }
  };

  for (const e of timed) {
    const ts = us(e.ts);
    const cpu = e.cpu;
    lastTs.set(cpu, ts);
    const st = stacks.get(cpu) ?? (stacks.set(cpu, []), stacks.get(cpu)!);
    const [a0, a1, a2] = e.args;
    switch (e.code) {
      case EV_OP_BEGIN: {
        close(cpu, ts, () => false); // a new operation: whatever was open did not return (it unwound)
        const name = `op:${EVENTS[a0]?.name ?? a0}`;
        st.push({ name, op: true });
        out.push({ ph: 'B', name, cat: 'op', pid: PID, tid: cpu, ts, args: { seq: e.seq } });
        break;
      }
      case EV_OP_END:
        if (st.some((s) => s.op)) close(cpu, ts, (s) => s.op);
        break;
      case EV_SPAN_BEGIN: {
        const name = SPAN_NAMES[a0] ?? `fn ${a0}`;
        st.push({ name, op: false });
        out.push({ ph: 'B', name, cat: 'kernel', pid: PID, tid: cpu, ts, args: { seq: e.seq } });
        break;
      }
      case EV_SPAN_END: {
        const name = SPAN_NAMES[a0] ?? `fn ${a0}`;
        if (st.some((s) => !s.op && s.name === name)) close(cpu, ts, (s) => s.name === name);
        break;
      }
      case EV_LOCK_WAIT: {
        const name = `wait ${cls(a1)}`;
        st.push({ name, op: false });
        out.push({ ph: 'B', name, cat: 'lock_wait', pid: PID, tid: cpu, ts, args: { lock: describe_lock(a0, a1, m), seq: e.seq } });
        break;
      }
      case EV_LOCK_WAITED: {
        const name = `wait ${cls(a1)}`;
        if (st.length && st[st.length - 1].name === name) { st.pop(); out.push({ ph: 'E', name, pid: PID, tid: cpu, ts }); }
        const rel = lastRelease.get(a0);
        if (rel && rel.cpu !== cpu) {
          const fid = `f${++flows}`;
          out.push({ ph: 's', name: 'lock handoff', cat: 'lock_handoff', id: fid, pid: PID, tid: rel.cpu, ts: rel.ts });
          out.push({ ph: 'f', bp: 'e', name: 'lock handoff', cat: 'lock_handoff', id: fid, pid: PID, tid: cpu, ts });
        }
        break;
      }
      case EV_LOCK_ACQ: {
        const used = lanes.get(cpu) ?? (lanes.set(cpu, []), lanes.get(cpu)!);
        let lane = used.indexOf(false);
        if (lane < 0) lane = used.length;
        used[lane] = true;
        const name = `hold ${cls(a1)}`;
        const key = `${cpu}:${a0}`;
        (holds.get(key) ?? (holds.set(key, []), holds.get(key)!)).push({ lane, name });
        out.push({ ph: 'b', name, cat: 'lock_hold', id: lane_id(cpu, lane), pid: PID, tid: cpu, ts, args: { lock: describe_lock(a0, a1, m), cpu, seq: e.seq, contended: a2 !== 0 } });
        break;
      }
      case EV_LOCK_REL: {
        const h = holds.get(`${cpu}:${a0}`)?.pop();
        if (h) {
          lanes.get(cpu)![h.lane] = false;
          out.push({ ph: 'e', name: h.name, cat: 'lock_hold', id: lane_id(cpu, h.lane), pid: PID, tid: cpu, ts });
        }
        lastRelease.set(a0, { cpu, ts });
        break;
      }
      case EV_BUG: {
        const what = report.failure?.message ?? 'BUG';
        out.push({ ph: 'i', s: 'g', name: `BUG: ${what}`, cat: 'bug', pid: PID, tid: cpu, ts, args: { seq: e.seq, cpu, splat: report.failure?.splat ?? '' } });
        break;
      }
      default:
        out.push({ ph: 'i', s: 't', name: e.name, cat: raceSeqs.has(e.seq) ? 'race' : 'event', pid: PID, tid: cpu, ts, args: { seq: e.seq, text: e.text } });
    }
  }
  // whatever is still open ended with the CPU's last event (it unwound, or the ring was read at a halt)
  for (const [cpu, st] of stacks) while (st.length) out.push({ ph: 'E', name: st.pop()!.name, pid: PID, tid: cpu, ts: lastTs.get(cpu) ?? 0 });
  for (const [key, hs] of holds) {
    const cpu = Number(key.split(':')[0]);
    for (const h of hs) out.push({ ph: 'e', name: h.name, cat: 'lock_hold', id: lane_id(cpu, h.lane), pid: PID, tid: cpu, ts: lastTs.get(cpu) ?? 0 });
  }
  if (report.failure && !timed.some((e) => e.code === EV_BUG)) {
    // a failure without a BUG event (invariant, user data, watchdog): mark the end
    let end = 0;
    for (const t of lastTs.values()) end = Math.max(end, t);
    out.push({ ph: 'i', s: 'g', name: `${report.failure.kind}: ${report.failure.message}`, cat: 'bug', pid: PID, tid: report.failure.cpu, ts: end, args: { splat: report.failure.splat } });
  }
  return {
    traceEvents: out,
    displayTimeUnit: 'ns',
    metadata: {
      'mmrace-schema': report.schema, scenario: report.scenario, protocol: report.protocol, switches: report.switches,
      cpus: report.cpus, roles: report.roles, seed: report.seed, outcome: report.outcome, replay: report.replay,
      events: timed.length,
    },
  };
}
