// The orphan scenario on real workers: throughput as CPUs are added (fixed
// protocol, honest about CPUs > cores).
import { run_free } from '../src/exec/free_run.js';
import { orphanedMigrationEntry } from '../src/scenarios/orphaned_migration_entry.js';
import { MachineView, cpustat_base } from '../src/shm/machine.js';
import { CPUSTAT } from '../src/shm/layout.js';

const S = orphanedMigrationEntry;
/** a CPUSTAT counter summed over the CPUs, from the run's Machine as its result keeps it */
const sum = (m: MachineView, cpus: number, f: number) => { let s = 0; for (let c = 0; c < cpus; c++) s += m.i32[cpustat_base(c, m.bases) + f]; return s; };

export interface ScalingRow { cpus: number; ops_per_s: number; ops_per_s_per_cpu: number; migrations_per_s: number; forks_per_s: number; outcome: string }

export async function scaling(cpuList: number[], duration_ms: number): Promise<ScalingRow[]> {
  const rows: ScalingRow[] = [];
  for (const cpus of cpuList) {
    const r = await run_free({ scenario: S, scenarioImport: S.name, protocol: 'fixed', cpus, ops: 0, duration_ms, seed: 1, jitter: 0 });
    const secs = r.elapsed_ms / 1000;
    rows.push({ cpus, ops_per_s: r.ops / secs, ops_per_s_per_cpu: r.ops / secs / cpus, migrations_per_s: sum(r.machine, cpus, CPUSTAT.migrate_ok) / secs,
      forks_per_s: sum(r.machine, cpus, CPUSTAT.forks) / secs, outcome: r.outcome });
  }
  return rows;
}
