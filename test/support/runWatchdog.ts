// The test run's watchdog (support/runWatch.ts), a detached process of its own: waits for the run's
// main process to end, however it ends (a SIGKILL included), then stops every process of the run
// and removes its directory. Arguments: the run's directory and its main process's pid.
import { sweepRun } from './runWatch';

const [dir, owner] = process.argv.slice(2);

function ownerAlive(): boolean {
  try {
    process.kill(Number(owner), 0);
    return true;
  } catch {
    return false;
  }
}

if (!dir || !owner) {
  process.stderr.write('usage: runWatchdog.js <run directory> <main process pid>\n');
  process.exit(2);
}

const timer = setInterval(() => {
  if (ownerAlive()) return;
  clearInterval(timer);
  void sweepRun(dir).finally(() => process.exit(0));
}, 250);
