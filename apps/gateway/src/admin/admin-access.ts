import { ProxyError } from '@openai-proxy/shared';
import type { Request, Response } from 'express';
import { AccessKeySet } from '../security/access-key-set.js';
import { bearerToken } from '../security/bearer-token.js';

/** What a browser shows in its login box; `charset` lets it send a non-ASCII key as UTF-8. */
const BASIC_CHALLENGE = 'Basic realm="openai-proxy admin", charset="UTF-8"';

/**
 * The key an admin request presents: `Authorization: Bearer <key>` (scripts), or the password of
 * `Authorization: Basic` (a browser's login box; the user name is ignored).
 */
export function presentedAdminKey(authorization: string | undefined): string | undefined {
  const bearer = bearerToken(authorization);
  if (bearer !== undefined) return bearer;
  const basic = /^Basic[ \t]+([A-Za-z0-9+/=]+)[ \t]*$/i.exec(authorization ?? '');
  if (basic?.[1] === undefined) return undefined;
  const credentials = Buffer.from(basic[1], 'base64').toString('utf8');
  const colon = credentials.indexOf(':');
  return colon < 0 ? undefined : credentials.slice(colon + 1);
}

/**
 * The check in front of every admin route: one of ADMIN_API_KEYS, compared in constant time
 * like the gateway's access keys. A refusal is a 401 that asks a browser for a login
 * (`WWW-Authenticate: Basic`); admin answers are never cached, by the browser or a proxy.
 */
export function adminAccess(keys: readonly string[]): (req: Request, res: Response) => void {
  const known = new AccessKeySet(keys);
  return (req, res) => {
    res.setHeader('cache-control', 'no-store');
    const presented = presentedAdminKey(req.headers.authorization);
    if (presented !== undefined && presented !== '' && known.matches(presented)) return;
    res.setHeader('www-authenticate', BASIC_CHALLENGE);
    if (presented === undefined)
      throw new ProxyError(
        'missing_api_key',
        'The admin routes need an admin key: `Authorization: Bearer <key>`, or a browser login with the key as password.',
      );
    throw new ProxyError('invalid_api_key', 'Incorrect admin key provided.');
  };
}
