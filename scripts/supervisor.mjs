// What `npm start` and `npm run dev` share: a few child processes that live and die together.
//
// npm runs a script through `sh -c`, and passes SIGINT and SIGTERM to that shell only; SIGHUP it
// does not pass at all. So the scripts `exec` their wrapper (npm's signals then reach it), and the
// wrapper owns every signal from there: SIGTERM/SIGINT stop all children, SIGHUP reloads them, a
// child that ends on its own takes the others down, and so does the loss of the wrapper's parent
// (npm or the shell killed with SIGKILL), so nothing keeps serving with nobody to stop it.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';

/** The apps end themselves at SHUTDOWN_GRACE_MS, their cluster primaries 5 s later; this is for one that cannot. */
const KILL_MARGIN_MS = 10_000;
/** How often the wrapper looks whether whoever started it is still there. */
const PARENT_CHECK_MS = 500;
/** The apps' own default (libs/shared/src/config/schema.ts). */
const DEFAULT_GRACE_MS = 30_000;
/** Preloaded into each child: it stops itself gracefully once the wrapper is gone, even by SIGKILL. */
const ORPHAN_GUARD = new URL('./stop-when-orphaned.mjs', import.meta.url).href;

/** SHUTDOWN_GRACE_MS as the apps read it; a value they reject makes them exit, and the wrapper with them. */
export function shutdownGraceMs(env = process.env) {
  const value = Number(env.SHUTDOWN_GRACE_MS);
  return env.SHUTDOWN_GRACE_MS !== undefined && Number.isInteger(value) && value >= 0
    ? value
    : DEFAULT_GRACE_MS;
}

/**
 * A child that ended as a stop asks: exit 0, killed by the stop signal, or exit 128 + its number
 * (how tsx watch reports a signal it passed on to an app that was restarting).
 */
const stoppedCleanly = (code, signal) =>
  code === 0 ||
  signal === 'SIGTERM' ||
  signal === 'SIGINT' ||
  code === 128 + constants.signals.SIGTERM ||
  code === 128 + constants.signals.SIGINT;

const describeEnd = (code, signal) => (signal ? `was killed by ${signal}` : `exited with code ${code}`);

/**
 * Runs Node programs as children of this process, each leading a process group of its own, so a
 * signal can reach a whole tree (tsx watch and the app it restarts) and a last SIGKILL leaves
 * nothing behind.
 */
export class Supervisor {
  #label;
  #graceMs;
  /** Live children: name → { child, signalsGroup, step }. */
  #children = new Map();
  #stopping = false;
  #exitCode = 0;

  constructor({ label, graceMs }) {
    this.#label = label;
    this.#graceMs = graceMs;
    process.on('SIGTERM', () => this.stop('SIGTERM'));
    process.on('SIGINT', () => this.stop('SIGINT'));
    // The apps re-read UPSTREAMS_FILE on SIGHUP; without a listener it would end the wrapper.
    process.on('SIGHUP', () => {
      if (this.#stopping) return;
      // A step (the build) has nothing to reload: the apps read the file as it is when they start.
      for (const entry of this.#children.values()) if (!entry.step) this.#signal(entry, 'SIGHUP');
    });
    const parent = process.ppid;
    setInterval(() => {
      if (process.ppid === parent || this.#stopping) return;
      this.#say(`its parent process (pid ${parent}: npm, a shell) is gone; stopping`);
      this.stop('SIGTERM');
    }, PARENT_CHECK_MS).unref();
  }

  /**
   * Runs a step to its end before anything starts (the build); resolves with its exit code. A
   * stop while it runs ends it and this process.
   */
  runStep(name, args, env = process.env) {
    const entry = this.#spawn(name, args, env, true);
    entry.step = true;
    return new Promise((resolve) => {
      entry.child.once('exit', (code, signal) => {
        this.#children.delete(name);
        if (this.#stopping) process.exit(1);
        resolve(signal ? 1 : code);
      });
    });
  }

  /**
   * Starts a long-running child. `signalsGroup`: signals go to its whole process group, for a
   * child that does not pass them on itself; otherwise to the child alone (a cluster primary
   * passes them on to its own children, and a group signal would reach those twice).
   */
  start(name, args, { env = process.env, signalsGroup = false } = {}) {
    if (this.#stopping) return;
    const entry = this.#spawn(name, args, env, signalsGroup);
    entry.child.once('exit', (code, signal) => {
      this.#children.delete(name);
      if (this.#stopping) {
        if (!stoppedCleanly(code, signal)) this.#exitCode = 1;
      } else {
        const others = [...this.#children.keys()];
        this.#say(
          `${name} (pid ${entry.child.pid}) ${describeEnd(code, signal)}; ` +
            (others.length > 0 ? `stopping ${others.join(', ')}` : 'stopping'),
        );
        this.#exitCode = code > 0 ? code : 1;
        this.stop('SIGTERM');
      }
      this.#exitOnceAllGone();
    });
  }

  /** Passes `signal` on to every child; past the grace, kills what is left and exits 1. */
  stop(signal) {
    if (this.#stopping) return;
    this.#stopping = true;
    for (const entry of this.#children.values()) this.#signal(entry, signal);
    setTimeout(() => {
      this.#say(`grace period over; killing ${[...this.#children.keys()].join(', ')}`);
      for (const entry of this.#children.values()) this.#signal(entry, 'SIGKILL', true);
      process.exit(1);
    }, this.#graceMs + KILL_MARGIN_MS).unref();
    this.#exitOnceAllGone();
  }

  #spawn(name, args, env, signalsGroup) {
    const child = spawn(process.execPath, ['--import', ORPHAN_GUARD, ...args], {
      stdio: 'inherit',
      env,
      // Its own process group (and session): the target of a group signal, and out of the
      // terminal's group, so a Ctrl-C reaches it once, from here.
      detached: true,
    });
    const entry = { child, signalsGroup, step: false };
    this.#children.set(name, entry);
    return entry;
  }

  #signal({ child, signalsGroup }, signal, group = signalsGroup) {
    try {
      if (group) process.kill(-child.pid, signal);
      else child.kill(signal);
    } catch {
      // Gone already.
    }
  }

  #exitOnceAllGone() {
    if (this.#stopping && this.#children.size === 0) process.exit(this.#exitCode);
  }

  #say(line) {
    process.stderr.write(`${this.#label}: ${line}\n`);
  }
}
