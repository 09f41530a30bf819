/**
 * README.md as test input: its sections and code blocks, so tests that follow the README break
 * when the README drifts from what the project does.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const README = fileURLToPath(new URL('../../README.md', import.meta.url));

/** The text of the `## title` section (up to the next `## `), or a failing test if there is none. */
export function readmeSection(title: string, text = readFileSync(README, 'utf8')): string {
  const start = text.search(new RegExp(`^## ${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`, 'm'));
  if (start < 0) throw new Error(`README.md has no section "## ${title}"`);
  const rest = text.slice(start + 3);
  const end = rest.search(/^## /m);
  return end < 0 ? rest : rest.slice(0, end);
}

/** The fenced code blocks of a text (optionally of one language), in order. */
export function codeBlocks(text: string, language?: string): string[] {
  const blocks: string[] = [];
  for (const match of text.matchAll(/^```([\w-]*)\n([\s\S]*?)^```\s*$/gm)) {
    if (language === undefined || match[1] === language) blocks.push(match[2] as string);
  }
  return blocks;
}

/**
 * The shell commands of a `sh` block: continuation lines joined, comments (`# …` after two spaces
 * or at the start) dropped.
 */
export function shellCommands(block: string): string[] {
  return block
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .map((line) => line.replace(/(^|\s{2,})#.*$/, '').trim())
    .filter((line) => line !== '');
}

/** The README's configuration example: the `conveyor` value cdk.json takes, as plain JSON. */
export function readmeConfigurationExample(): unknown {
  const [block] = codeBlocks(readmeSection('Configuration'), 'json');
  if (block === undefined) throw new Error('README.md "## Configuration" has no ```json block');
  return JSON.parse(block);
}
