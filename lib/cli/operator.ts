/**
 * Who is at the keyboard, for the audit lines of redrives and exports: `user@host`, as the operating
 * system names them (USER or LOGNAME, else the account; the host name), cut to what the audit accepts.
 */
import { hostname, userInfo } from 'node:os';
import { OPERATOR_PATTERN } from '../operations/operator-audit.ts';
import type { CliContext } from './context.ts';

/**
 * @example
 * operatorName({ env: { USER: 'ana' } } as CliContext); // 'ana@ops-laptop'
 */
export function operatorName(context: Pick<CliContext, 'env'>): string {
  let user = context.env.USER ?? context.env.LOGNAME;
  if (!user) {
    try {
      user = userInfo().username;
    } catch {
      user = 'unknown'; // No passwd entry (some containers): the host still says where.
    }
  }
  const name = `${user}@${hostname()}`
    .replace(/[^\x20-\x7e]/g, '?')
    .trim()
    .slice(0, 128);
  return OPERATOR_PATTERN.test(name) ? name : 'unknown';
}
