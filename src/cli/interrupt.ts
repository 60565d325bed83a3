// SIGINT and SIGTERM: the first asks the command to wind down (the CPUs stop
// as at the end of their budget, a search stops after its current run), so
// it still prints what it ran and found, writes its JSON and saves the
// failing schedule it has; its exit code is then 130 (SIGINT) or 143
// (SIGTERM). A second signal exits at once with that code.
export const SIGNAL_EXIT: Readonly<Record<string, number>> = { SIGINT: 130, SIGTERM: 143 };

let caught: NodeJS.Signals | null = null;

/** the signal that asked the command to stop, or null */
export const interrupted = (): NodeJS.Signals | null => caught;

export function install_interrupts(): void {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (caught) process.exit(SIGNAL_EXIT[sig]); // the second: at once
      caught = sig;
      process.stderr.write(`\nmmrace: ${sig}: stopping, keeping what was found (again to quit at once)\n`);
    });
  }
}
