/** CONVEYOR_CHAOS: one parser for the function effects and the queue effects. */
import { describe, expect, it } from 'vitest';
import { NO_CHAOS, NO_QUEUE_CHAOS, parseChaos, parseQueueChaos } from '../../lib/runtime/chaos.ts';

describe('CONVEYOR_CHAOS', () => {
  it('reads duplicate and reorder per stage as queue effects, combinable with the function effects', () => {
    const spec =
      'picking:0.1:duplicate,picking:0.2:reorder,picking:0.3,picking:0.05:stall,packing:1:delay=700,delivery:0.4:reorder';
    expect(parseQueueChaos(spec).get('picking')).toEqual({ duplicate: 0.1, reorder: 0.2 });
    expect(parseQueueChaos(spec).get('delivery')).toEqual({ ...NO_QUEUE_CHAOS, reorder: 0.4 });
    expect(parseQueueChaos(spec).has('packing')).toBe(false);
    expect(parseChaos(spec).get('picking')).toEqual({ ...NO_CHAOS, fail: 0.3, stall: 0.05 });
    expect(parseChaos(spec).get('packing')).toEqual({ ...NO_CHAOS, delay: { probability: 1, ms: 700 } });
  });

  it('leaves the stage functions without effects when only the queue misbehaves', () => {
    expect(parseChaos('picking:1:duplicate,picking:1:reorder').has('picking')).toBe(false);
    expect(parseQueueChaos('picking:0.5').has('picking')).toBe(false);
    expect(parseQueueChaos(undefined).size).toBe(0);
  });

  it('refuses a bad part in one line that names it, whichever reader meets it', () => {
    for (const read of [parseChaos, parseQueueChaos]) {
      expect(() => read('picking:1.5:duplicate')).toThrow(
        'CONVEYOR_CHAOS: "picking:1.5:duplicate": probability must be a number from 0 to 1',
      );
      expect(() => read('picking:0.1:twice')).toThrow(
        /unknown effect "twice"; effects are fail, stall, delay=<ms>, duplicate, reorder/,
      );
      expect(() => read('sorting:0.1:reorder', ['picking', 'packing', 'delivery'])).toThrow(
        /unknown stage "sorting"; stages are picking, packing, delivery/,
      );
      expect(() => read('Sorting:0.1:reorder')).toThrow(/"Sorting" is not a stage name/);
    }
  });
});
