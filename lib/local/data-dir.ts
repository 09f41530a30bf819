/**
 * The local runtime's data directory (`CONVEYOR_DATA_DIR`, default `.conveyor/`): the emulators'
 * state, so queued orders and their status survive a restart. One runtime at a time: a lock file
 * holds the owner's pid, and a lock left by a dead process (kill -9) is taken over.
 */
import {
  closeSync,
  constants,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
  accessSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const LOCK_FILE = 'runtime.lock';

/** A data directory problem the user must fix; the message says what and how. */
export class DataDirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataDirError';
  }
}

export interface DataDir {
  readonly path: string;
  /** Releases the lock. */
  release(): void;
}

/**
 * Creates (or with `reset`, wipes and recreates) the directory, checks it is writable and locks it.
 * @throws DataDirError naming the directory and the fix.
 */
export function openDataDir(path: string, options: { reset?: boolean } = {}): DataDir {
  const dir = resolve(path);
  const fix = 'set CONVEYOR_DATA_DIR to a writable directory, or run with --in-memory';
  try {
    if (options.reset) {
      assertNotLockedByOther(dir);
      rmSync(dir, { recursive: true, force: true });
    }
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (error) {
    if (error instanceof DataDirError) throw error;
    throw new DataDirError(`cannot use data dir ${dir}: ${explain(dir, error as NodeJS.ErrnoException)}; ${fix}`);
  }
  const lock = join(dir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST' || attempt > 0)
        throw new DataDirError(`cannot lock data dir ${dir}: ${code ?? (error as Error).message}; ${fix}`);
      assertNotLockedByOther(dir);
      // The previous owner is gone (killed): its lock is stale.
      unlinkSync(lock);
    }
  }
  let released = false;
  return {
    path: dir,
    release() {
      if (released) return;
      released = true;
      try {
        if (readFileSync(lock, 'utf8') === String(process.pid)) unlinkSync(lock);
      } catch {
        // Already gone: nothing to release.
      }
    },
  };
}

/** What went wrong, in words: the path (or a parent) is a file, permission is missing, or the system's code. */
function explain(dir: string, error: NodeJS.ErrnoException): string {
  if (error.code === 'EEXIST' || error.code === 'ENOTDIR') {
    for (let path = dir; path !== dirname(path); path = dirname(path)) {
      const isFile = (() => {
        try {
          return !statSync(path).isDirectory();
        } catch {
          return false;
        }
      })();
      if (isFile) return `${path} is a file, not a directory`;
    }
  }
  if (error.code === 'EACCES' || error.code === 'EPERM') return `permission denied (${error.code})`;
  return error.code ?? error.message;
}

function assertNotLockedByOther(dir: string): void {
  let owner: number;
  try {
    owner = Number(readFileSync(join(dir, LOCK_FILE), 'utf8'));
  } catch {
    return;
  }
  if (!Number.isInteger(owner) || owner <= 0 || owner === process.pid) return;
  try {
    process.kill(owner, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return;
  }
  throw new DataDirError(
    `data dir ${dir} is in use by another Conveyor runtime (pid ${owner}); stop it, or set CONVEYOR_DATA_DIR to another directory`,
  );
}
