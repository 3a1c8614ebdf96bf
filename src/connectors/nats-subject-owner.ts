// Which subtask reads a core NATS subject, and the one subscription per connection that serves a source's subtasks.
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { hashNormalizedKey, keyGroupForHash } from '../state/key-group.ts';

/**
 * The subtask (0..parallelism-1) that reads `subject`: murmur3 of the subject (the hash keys use)
 * modulo the parallelism, identical in every process, so each subject belongs to exactly one subtask.
 *
 * @example
 * ```ts
 * subjectOwner('sensors.7', 1); // 0: at parallelism 1 one subtask reads everything
 * subjectOwner('sensors.7', 3) === subjectOwner('sensors.7', 3); // true, in every process
 * ```
 */
export function subjectOwner(subject: string, parallelism: number): number {
  return keyGroupForHash(hashNormalizedKey(subject), parallelism);
}

/** Whether a subject pattern has a `*` or `>` token (a literal subject has neither). */
export function hasWildcard(pattern: string): boolean {
  return /(^|\.)[*>](\.|$)/.test(pattern);
}

/** Receives, in delivery order, the messages of the subjects its subtask owns. */
export type OwnedMessageHandler = (msg: Msg) => void;

/** One subscription to a pattern on one connection, dispatching each message to its owner's handler. */
interface SharedSubscription {
  sub: Subscription;
  /** Per subtask index: the handler of the subtask's current reader on this connection, if any. */
  handlers: (OwnedMessageHandler | undefined)[];
  /** Number of defined entries in `handlers`; the subscription ends when it drops to 0. */
  live: number;
}

/** Per connection: shared subscriptions by `<group>\n<pattern>\n<parallelism>`. */
const sharedByConnection = new WeakMap<NatsConnection, Map<string, SharedSubscription>>();

/**
 * Subscribes subtask `subtask` of `parallelism` to the subjects of `pattern` that it owns
 * ({@link subjectOwner}); returns the function that ends it. Per-subject order holds because a
 * subject's messages reach one handler, from one subscription, in the order the server sent them.
 *
 * - parallelism 1: a plain subscription, nothing filtered (the cost of any subscription).
 * - a literal subject: only its owner subscribes; the other subtasks get nothing.
 * - a wildcard pattern: the subtasks of `group` that share a connection share one subscription
 *   that hashes each subject once and hands the message to its owner, so the server sends each
 *   message once per connection (once per job in-process, once per worker process with workers)
 *   rather than once per subtask; messages owned by subtasks on other connections are skipped.
 *
 * No queue group is used: a queue group hands one subject's messages to random members and so
 * reorders them. A second registration of the same subtask (a restarted attempt whose predecessor
 * has not closed yet) takes over its slot; the predecessor's later end is then a no-op.
 */
export function subscribeOwned(nc: NatsConnection, group: string, pattern: string, subtask: number, parallelism: number, handler: OwnedMessageHandler): () => void {
  if (parallelism === 1 || !hasWildcard(pattern)) {
    if (parallelism > 1 && subjectOwner(pattern, parallelism) !== subtask) return () => undefined;
    const sub = nc.subscribe(pattern, {
      callback: (err, msg) => {
        if (!err) handler(msg);
      },
    });
    return () => sub.unsubscribe();
  }
  const byKey = sharedByConnection.get(nc) ?? new Map<string, SharedSubscription>();
  sharedByConnection.set(nc, byKey);
  const key = `${group}\n${pattern}\n${parallelism}`;
  let shared = byKey.get(key);
  if (shared === undefined || shared.sub.isClosed()) {
    const handlers: (OwnedMessageHandler | undefined)[] = new Array(parallelism).fill(undefined);
    const sub = nc.subscribe(pattern, {
      callback: (err, msg) => {
        if (err) return;
        handlers[subjectOwner(msg.subject, parallelism)]?.(msg);
      },
    });
    shared = { sub, handlers, live: 0 };
    byKey.set(key, shared);
  }
  const s = shared;
  if (s.handlers[subtask] === undefined) s.live++;
  s.handlers[subtask] = handler;
  return () => {
    if (s.handlers[subtask] !== handler) return;
    s.handlers[subtask] = undefined;
    if (--s.live > 0) return;
    s.sub.unsubscribe();
    if (byKey.get(key) === s) byKey.delete(key);
  };
}
