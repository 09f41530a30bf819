/**
 * The doc comments' @example blocks are the usage docs: run them. A statement followed by
 * `// → value` (on its line or the next) must evaluate to that value; a trailing "(note)" is prose.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as catalog from '../../lib/domain/catalog.ts';
import * as delivery from '../../lib/domain/delivery.ts';
import * as labelling from '../../lib/domain/labelling.ts';
import * as packing from '../../lib/domain/packing.ts';
import * as picking from '../../lib/domain/picking.ts';

const modules = { catalog, picking, packing, labelling, delivery };
const scope: Record<string, unknown> = Object.assign({}, catalog, picking, packing, labelling, delivery);

interface Example {
  readonly name: string;
  readonly code: string;
  readonly checks: number;
}

/** The example blocks of a source file, turned into code that calls `check(actual, expected, source)`. */
function examplesOf(file: string): Example[] {
  const source = readFileSync(new URL(`../../lib/domain/${file}.ts`, import.meta.url), 'utf8');
  const examples: Example[] = [];
  for (const match of source.matchAll(/@example\s*\n\s*\*\s*```ts\n([\s\S]*?)\n\s*\*\s*```/g)) {
    const lines = match[1]!.split('\n').map((line) => line.replace(/^\s*\* ?/, ''));
    const out: string[] = [];
    let statement = '';
    let checks = 0;
    const expectation = (text: string) => text.replace(/\s+\([^()]*\)$/, '');
    for (const line of lines) {
      const arrowOnly = /^\/\/ → (.*)$/.exec(line.trim());
      if (arrowOnly) {
        // Expectation for the statement just completed.
        const previous = out.pop();
        if (previous === undefined) throw new Error(`${file}: "// →" with no statement before it`);
        out.push(
          `check(${previous.replace(/;\s*$/, '')}, (${expectation(arrowOnly[1]!)}), ${JSON.stringify(previous)});`,
        );
        checks++;
        continue;
      }
      const inline = /^(.*;)\s*\/\/ → (.*)$/.exec(line);
      statement += (statement ? '\n' : '') + (inline ? inline[1]! : line);
      if (!statement.trim().endsWith(';')) continue;
      if (inline) {
        out.push(
          `check(${statement.replace(/;\s*$/, '')}, (${expectation(inline[2]!)}), ${JSON.stringify(statement.trim())});`,
        );
        checks++;
      } else out.push(statement);
      statement = '';
    }
    const name = /export function (\w+)/.exec(source.slice(match.index))?.[1] ?? `example ${examples.length + 1}`;
    examples.push({ name, code: out.join('\n'), checks });
  }
  return examples;
}

for (const file of Object.keys(modules)) {
  describe(`@example blocks of lib/domain/${file}.ts`, () => {
    const examples = examplesOf(file);
    const exported = Object.entries(modules[file as keyof typeof modules]).filter(
      ([, value]) => typeof value === 'function',
    );

    it('cover every exported function', () => {
      expect(examples.map((e) => e.name).sort()).toEqual(exported.map(([name]) => name).sort());
    });

    for (const example of examples)
      it(`${example.name}`, () => {
        expect(example.checks).toBeGreaterThan(0);
        const check = (actual: unknown, expected: unknown, statement: string) =>
          expect(actual, statement).toEqual(expected);
        new Function('check', ...Object.keys(scope), example.code)(check, ...Object.values(scope));
      });
  });
}
