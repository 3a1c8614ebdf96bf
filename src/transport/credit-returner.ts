// Where an input gate returns the credits of consumed data frames: an interface, its NATS implementation and an in-memory one.
import type { NatsConnection } from '@nats-io/transport-node';
import type { FrameCodec } from './frame-codec.ts';

/** Gives `n` credits of input channel `channel` back to its producer. Called once per half window, never per frame. */
export interface CreditReturner {
  returnCredit(channel: number, n: number): void;
}

/** Where the credits of one input channel go: the producer's credit subject and its sender's key there. */
export interface CreditRoute {
  readonly creditSubject: string;
  readonly creditKey: string;
}

/**
 * Publishes `[[creditKey, n]]` on the producer's credit subject (what `OutputGate` subscribes to).
 * `routes` is indexed by channel number.
 */
export class NatsCreditReturner implements CreditReturner {
  constructor(
    private readonly nc: NatsConnection,
    private readonly codec: FrameCodec,
    private readonly routes: readonly CreditRoute[],
  ) {}

  returnCredit(channel: number, n: number): void {
    const r = this.routes[channel]!;
    this.nc.publish(r.creditSubject, this.codec.encodeValue([[r.creditKey, n]]));
  }
}

/** Counts returned credits per channel (tests, and gates whose producers need no credit). */
export class InMemoryCreditReturner implements CreditReturner {
  /** Credits returned so far, by channel. */
  readonly returned: number[] = [];
  /** Every return in order, as `[channel, n]`. */
  readonly calls: [number, number][] = [];

  returnCredit(channel: number, n: number): void {
    this.returned[channel] = (this.returned[channel] ?? 0) + n;
    this.calls.push([channel, n]);
  }
}
