import { runToExit } from './spawned-process.js';

/**
 * One `redis-cli` command against a local server, its reply as printed. For launchers that
 * build a cluster or wait for sentinels: the same tool an operator would use.
 */
export async function redisCli(port: number, args: readonly string[], auth?: string): Promise<string> {
  const { code, output } = await runToExit(
    'redis-cli',
    [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      ...(auth === undefined ? [] : ['--no-auth-warning', '-a', auth]),
      ...args,
    ],
    { env: { PATH: process.env.PATH ?? '' } },
  );
  if (code !== 0) throw new Error(`redis-cli -p ${port} ${args.join(' ')} exited ${code}:\n${output}`);
  return output;
}

/** `field:value` lines (INFO, CLUSTER INFO) or alternating field/value lines (SENTINEL MASTER) as a map. */
export function replyFields(reply: string): Map<string, string> {
  const lines = reply.split('\n').map((line) => line.trim());
  const fields = new Map<string, string>();
  if (lines.some((line) => /^[a-z_-]+:/.test(line))) {
    for (const line of lines) {
      const at = line.indexOf(':');
      if (at > 0) fields.set(line.slice(0, at), line.slice(at + 1));
    }
    return fields;
  }
  for (let i = 0; i + 1 < lines.length; i += 2) fields.set(lines[i] as string, lines[i + 1] as string);
  return fields;
}
