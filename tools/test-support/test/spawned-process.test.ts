import { describe, expect, it } from 'vitest';
import { runToExit, spawnProcess } from '../src/index.js';

const env = { PATH: process.env.PATH ?? '' };
const node = (script: string) => [process.execPath, ['-e', script]] as const;

describe('spawnProcess', () => {
  it('collects lines from both pipes and finds one that was cut across two writes', async () => {
    const [command, args] = node(
      "process.stdout.write('first\\nhal'); setTimeout(() => { process.stdout.write('f a line\\n'); console.error('on stderr'); }, 50); setTimeout(() => {}, 10000)",
    );
    const spawned = spawnProcess('printer', command, args, { env });
    expect(await spawned.waitForOutput(/^half a line$/)).toBe('half a line');
    expect(await spawned.waitForOutput('stderr')).toBe('on stderr');
    expect(spawned.output).toEqual(['first', 'half a line', 'on stderr']);
    expect(await spawned.stop()).toBeNull();
    expect(spawned.exited()).toBe(true);
  });

  it('fails a wait at once, with what was printed, when the process exits first', async () => {
    const [command, args] = node("console.log('bye'); process.exit(3)");
    const spawned = spawnProcess('quitter', command, args, { env });
    await expect(spawned.waitForOutput('never')).rejects.toThrow(
      /quitter exited \(3\) before printing never:\nbye/,
    );
    expect(spawned.exitCode).toBe(3);
  });

  it('kills a process that ignores its stop signal after killAfterMs', async () => {
    const [command, args] = node(
      "process.on('SIGTERM', () => {}); console.log('up'); setInterval(() => {}, 1000)",
    );
    const spawned = spawnProcess('stubborn', command, args, { env, killAfterMs: 200 });
    await spawned.waitForOutput('up');
    expect(await spawned.stop('SIGTERM')).toBeNull();
    expect(spawned.child.signalCode).toBe('SIGKILL');
  });
});

describe('runToExit', () => {
  it('gives the exit code and everything printed', async () => {
    const [command, args] = node("console.log('one'); console.error('two'); process.exit(1)");
    const { code, output } = await runToExit(command, args, { env });
    expect(code).toBe(1);
    expect(output.split('\n').sort()).toEqual(['one', 'two']);
  });
});
