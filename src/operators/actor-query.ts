// Queries of an actor operator's keys from outside the job: a request `[key]` answered with the key's machine or an error, between records.
import { toErrorInfo, type ErrorInfo } from '../errors.ts';
import type { OperatorContext } from './operator.ts';

/** A query's answer: the key's machine (`null` when the key has none), or the error reading it. */
export type ActorQueryReply = { state: unknown } | { error: ErrorInfo };

/**
 * Serves `[key]` requests with `lookup(key)` through the context's query channel (undefined in the
 * harness). The data path is synchronous and requests are answered between records, so a lookup
 * never sees a step half done.
 */
export function answerActorQueries(ctx: OperatorContext, lookup: (key: unknown) => unknown): { stop(): void } | undefined {
  return ctx.serveQueries?.((request): ActorQueryReply => {
    try {
      if (!Array.isArray(request) || request.length !== 1) throw new Error(`an actor query is [key], got ${JSON.stringify(request)?.slice(0, 80)}`);
      return { state: lookup(request[0]) ?? null };
    } catch (e) {
      return { error: toErrorInfo(e) };
    }
  });
}
