// A count past 2^31 from a 32-bit shared counter that wraps: the main thread
// samples it far more often than it can wrap (2^31 steps between two samples
// 10 ms apart is out of reach) and adds each step, so a day-long run's
// operation counts stay exact. A step back by more than 2^31 is no step
// forward but the owner zeroing its counter (bench's warm-up end): the count
// restarts from the rebase point.
const HALF = 2 ** 31;

export class Counter64 {
  private last = 0; // every counter starts at 0 when the run starts
  private total = 0;
  private base = 0;

  /** read the 32-bit counter now */
  sample(v: number): void {
    const step = ((v | 0) - this.last) >>> 0;
    this.total = step >= HALF ? this.base + (v >>> 0) : this.total + step;
    this.last = v | 0;
  }

  /** count from here on (bench's warm-up end) */
  rebase(): void { this.base = this.total; }

  get value(): number { return this.total - this.base; }
}
