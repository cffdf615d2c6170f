/** What a run needs from the outside world: injected, never global. */
import type { StepKinds } from '../steps/registry.js';
import type { Emit } from './events.js';
import type { Connect } from './link.js';

export interface RunDeps {
  registry: StepKinds;
  /** Opens a Session to a node (host key policy decided by the caller). */
  connect: Connect;
  emit: Emit;
  now: () => Date;
  sleep: (ms: number) => Promise<void>;
  newRunId: () => string;
  host: string;
  pid: number;
  /** Retry on a lost connection: attempts in all, first delay (doubling). */
  retry?: { tries: number; delayMs: number };
}
