// Each step's seconds of a switchover (a cutover, a fall-back), for its completion event: where its
// downtime went, step by step.
import { trace } from './trace';
export interface StepClock {
  /** Ends the step under way, named `step`, and starts the next. */
  done(step: string): void;
  /** The steps so far: `name N.NN s`, comma-separated. */
  steps(): string;
}

export function stepClock(): StepClock {
  const steps: string[] = [];
  let start = Date.now();
  return {
    done(step) {
      steps.push(`${step} ${((Date.now() - start) / 1000).toFixed(2)} s`);
      trace(`step done: ${step}`);
      start = Date.now();
    },
    steps: () => steps.join(', '),
  };
}
