import { expect } from 'vitest';
import { loadTopology, TopologyError } from '../../lib/topology/index.ts';

/** The problems the topology loader reports for `input`, or [] when it accepts it. */
export function issuesOf(input: unknown): readonly string[] {
  try {
    loadTopology(input);
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(TopologyError);
    return (error as TopologyError).issues;
  }
}
