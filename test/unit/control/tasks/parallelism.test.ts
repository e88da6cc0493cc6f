import { describe, expect, it } from 'vitest';
import { transferSpec, type TransferBody } from '../../../../src/control/api/task-schemas.js';
import { MAX_PARALLELISM, spareStreamLimit } from '../../../../src/control/tasks/parallelism.js';

/** Who gets spare data streams: a task that left parallelism to Ferry, on a source that sends with a loss-based congestion control. */
describe('spare data streams', () => {
  const body = (over: Partial<TransferBody> = {}): TransferBody => ({
    DATA_TYPE: 'transfer', source_endpoint: 'a', destination_endpoint: 'b',
    DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/x', destination_path: '/y' }], ...over,
  } as TransferBody);

  it('a task names its parallelism (parallelism or Globus perf_p), or leaves it to Ferry', () => {
    expect(transferSpec(body()).options).toMatchObject({ adaptiveParallelism: true, session: { parallelism: 4 } });
    expect(transferSpec(body({ parallelism: 4 })).options).toMatchObject({ adaptiveParallelism: false, session: { parallelism: 4 } });
    expect(transferSpec(body({ perf_p: 2 })).options).toMatchObject({ adaptiveParallelism: false, session: { parallelism: 2 } });
  });

  it('up to the protocol limit for a loss-based source; none for bbr, a silent agent or a pinned number', () => {
    const options = transferSpec(body()).options;
    expect(spareStreamLimit(options, ['transfer', 'congestion:cubic'])).toBe(MAX_PARALLELISM);
    expect(spareStreamLimit(options, ['congestion:reno'])).toBe(MAX_PARALLELISM);
    expect(spareStreamLimit(options, ['congestion:bbr'])).toBeUndefined();
    expect(spareStreamLimit(options, ['congestion:'])).toBeUndefined();
    expect(spareStreamLimit(options, ['transfer'])).toBeUndefined();
    expect(spareStreamLimit(options, undefined)).toBeUndefined();
    expect(spareStreamLimit(transferSpec(body({ parallelism: 3 })).options, ['congestion:cubic'])).toBeUndefined();
    expect(spareStreamLimit({ ...options, session: { ...options.session, parallelism: MAX_PARALLELISM } }, ['congestion:cubic'])).toBeUndefined();
  });
});
