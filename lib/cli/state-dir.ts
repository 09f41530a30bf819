/**
 * Where the CLI keeps what must outlive one run on this machine — the journals of filtered redrives
 * on AWS (lib/operations/redrive-journal.ts), so an interrupted one is finished by the next:
 * CONVEYOR_STATE_DIR, else $XDG_STATE_HOME/conveyor, else ~/.local/state/conveyor.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { UsageError } from './errors.ts';

/**
 * @example
 * redriveJournalPath({ CONVEYOR_STATE_DIR: '/tmp/s' }, 'Conveyor-eu-west-1-wh-1-picking'); // '/tmp/s/redrive/Conveyor-eu-west-1-wh-1-picking.jsonl'
 */
export function redriveJournalPath(env: Readonly<Record<string, string | undefined>>, name: string): string {
  return join(stateDir(env), 'redrive', `${name.replace(/[^A-Za-z0-9._-]/g, '_')}.jsonl`);
}

export function stateDir(env: Readonly<Record<string, string | undefined>>): string {
  const chosen = env.CONVEYOR_STATE_DIR;
  if (chosen !== undefined) {
    if (chosen.trim() === '' || chosen.includes('\0'))
      throw new UsageError(
        'CONVEYOR_STATE_DIR must name a directory, e.g. CONVEYOR_STATE_DIR=~/.conveyor — or leave it unset',
      );
    return resolve(chosen);
  }
  const xdg = env.XDG_STATE_HOME;
  return xdg?.startsWith('/') ? join(xdg, 'conveyor') : join(env.HOME ?? homedir(), '.local', 'state', 'conveyor');
}
