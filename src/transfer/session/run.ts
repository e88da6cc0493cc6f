import { FerryError } from '../../common/errors.js';
import { ErrorFrame, SessionFrameType } from '../../protocol/data-frames.js';
import { SessionSpec, type SessionStats } from '../../protocol/session.js';
import { assertSchema } from '../../common/validate.js';
import { Checksummer } from '../checksum/index.js';
import { chunkSizeFor, resolveTuning, type TransferTuning } from '../tuning.js';
import { sharedIoPool } from '../workers/io-pool.js';
import { FrameStream } from '../wire/frame-stream.js';
import { encodeSessionJson } from '../wire/session-frames.js';
import type { SessionContext } from './context.js';
import { DestinationSession } from './destination.js';
import { asTransferError, eventCodeOf, peerProtocolError } from '../errors.js';
import { keepsPartials, SessionGuard } from './guard.js';
import { SourceSession } from './source.js';
import type { SessionInit } from './types.js';
import { streamAuth } from './clear-macs.js';

/**
 * Run one side of a transfer session over its already authenticated streams. Resolves with
 * the final stats (the destination's, which the source receives in END); rejects with a
 * FerryError whose details.eventCode is the Globus event code. Either way the streams are
 * closed when it settles: after a failure the peer first gets an ERROR frame (unless the
 * failure came from it), and a destination first removes its partial files.
 */
export async function runSession(init: SessionInit): Promise<SessionStats> {
  let tuning: TransferTuning;
  try {
    tuning = resolveTuning(init.tuning);
    assertSchema(SessionSpec, init.spec, 'BadRequest', 'session spec');
    if (init.streams.length === 0) throw new FerryError('BadRequest', 'a session needs at least one stream');
    if (init.spec.role === 'source') tuning.chunkSize = chunkSizeFor(tuning.chunkSize, init.spec.options.parallelism, init.streams.length - 1);
  } catch (err) {
    for (const s of init.streams) s.destroy();
    throw asTransferError(err);
  }
  let auths: Array<ReturnType<typeof streamAuth>>;
  try {
    auths = init.streams.map((_, k) => streamAuth(init.frameKeys?.[k]));
  } catch (err) {
    for (const s of init.streams) s.destroy();
    throw asTransferError(err);
  }
  const guard = new SessionGuard(init.signal, Math.min(tuning.closeGraceMs, 500));
  const streams = init.streams.map((s, k) => new FrameStream(s, k === 0 ? 'control stream' : `data stream ${k}`, tuning.receiveQueueBytes, auths[k] ?? null));
  const control = streams[0]!;
  const ctx: SessionContext = {
    spec: init.spec,
    tuning,
    resolver: init.resolver,
    reporter: init.reporter,
    guard,
    checksummer: new Checksummer(init.spec.options.checksumAlgorithm, tuning.offThreadHashBytes, tuning.hashWorkers),
    fs: sharedIoPool('fs', tuning.fsWorkers),
    control,
    data: streams.length > 1 ? streams.slice(1) : [control],
    markers: init.markers ?? null,
    growth: init.growth ?? null,
  };
  const session = init.spec.role === 'source' ? new SourceSession(ctx) : new DestinationSession(ctx);
  if (init.spec.role === 'source') refuseInput(ctx, guard);
  try {
    const stats = await session.run();
    guard.finish();
    for (const s of streams) s.close(tuning.closeGraceMs);
    return stats;
  } catch (err) {
    guard.fail(err);
    // A deferred connection loss may still be waiting for the peer's ERROR: let it decide.
    const failure = guard.failure ?? await guard.failed.catch((e: unknown) => e as FerryError);
    if (!guard.failedByPeer && control.writable) {
      try {
        control.write([encodeSessionJson(SessionFrameType.ERROR, ErrorFrame, {
          code: failure.code, message: failure.message.slice(0, 4096), eventCode: eventCodeOf(failure),
        })]);
      } catch {
        // The control stream died too; the peer learns from the closed sockets.
      }
    }
    await guard.settle(tuning.closeGraceMs);
    if (session instanceof DestinationSession) await session.cleanup(failure.code === 'Transfer.Canceled' && !keepsPartials(init.signal.reason));
    for (const s of streams) s.close(tuning.closeGraceMs);
    throw failure;
  } finally {
    for (const s of streams) s.detach();
    session.release();
  }
}

/** The source never expects bytes on its data streams: any frame there is a protocol error. */
function refuseInput(ctx: SessionContext, guard: SessionGuard): void {
  for (const stream of ctx.data) {
    if (stream === ctx.control) continue;
    stream.startReading();
    guard.spawn(async () => {
      const frame = await stream.next();
      if (frame) throw peerProtocolError(`the destination sent a frame on ${stream.name}`);
    });
  }
}
