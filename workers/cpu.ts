// The piscina worker: one task = one simulated CPU for one run.
import { cpu_main } from '../src/worker/cpu_main.js';
export default cpu_main;
