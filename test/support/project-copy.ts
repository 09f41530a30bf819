/**
 * A copy of this project in a temporary directory — what a fresh clone holds, with this project's
 * node_modules linked in (nothing installed) — for tests that edit sources or cdk.json as a user
 * would, never touching the real ones.
 */
import { cpSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './runtime-process.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** What `npm start`, the CLI and the README need; tests, benchmarks and docs stay behind. */
const COPIED = [
  'bin',
  'lib',
  'handlers',
  'examples',
  'package.json',
  'package-lock.json',
  'cdk.json',
  'tsconfig.json',
  'README.md',
  '.npmrc',
  '.nvmrc',
];

export interface ProjectCopy {
  readonly path: string;
  /** A path inside the copy. */
  file(relative: string): string;
  remove(): void;
}

/** @example const copy = copyProject(); startRuntime({ cwd: copy.path }); copy.remove(); */
export function copyProject(): ProjectCopy {
  const dir = tempDir('conveyor-copy-');
  for (const entry of COPIED) {
    try {
      cpSync(join(ROOT, entry), join(dir.path, entry), { recursive: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  symlinkSync(join(ROOT, 'node_modules'), join(dir.path, 'node_modules'), 'dir');
  return {
    path: dir.path,
    file: (relative) => join(dir.path, relative),
    remove: () => rmSync(dir.path, { recursive: true, force: true }),
  };
}
