import type { Logger } from 'pino';
import { ConfigError } from '../config/config-error.js';
import type { UpstreamConfig } from '../config/schema.js';
import type { UpstreamSet } from './upstream-set.js';
import { readUpstreamsFile } from './upstream-specs.js';

type Env = Record<string, string | undefined>;

/**
 * Re-reads UPSTREAMS_FILE into `upstreams`. A file that does not pass the start-up checks changes
 * nothing: the running configuration stays, and the log says why, in the start-up's words.
 * Returns whether the new file was taken.
 */
export function reloadUpstreams(
  upstreams: UpstreamSet,
  config: UpstreamConfig,
  logger: Logger,
  env: Env = process.env,
): boolean {
  const path = config.UPSTREAMS_FILE;
  if (path === undefined) {
    logger.info('reload asked for, but upstreams come from UPSTREAM_API_URL: nothing to re-read');
    return false;
  }
  try {
    upstreams.replace(readUpstreamsFile(path, config, env));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    logger.error(
      {
        file: path,
        problems: error.message
          .split('\n')
          .slice(1)
          .map((line) => line.trim()),
      },
      'UPSTREAMS_FILE not reloaded; the running configuration stays',
    );
    return false;
  }
  logger.info(
    { file: path, upstreams: upstreams.all.map((upstream) => upstream.label) },
    'UPSTREAMS_FILE reloaded',
  );
  return true;
}
