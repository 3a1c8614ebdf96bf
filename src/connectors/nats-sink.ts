// A sink to core NATS subjects (fixed or computed per record), JSON or msgpack: at-least-once at best.
import { EddyError } from '../errors.ts';
import type { Sink } from '../operators/sink-operator.ts';
import { encoderFor, type RecordFormat } from './record-format.ts';

export interface NatsSinkOptions<T> {
  /** A subject, or a function computing one per record (e.g. `(a) => \`alerts.${a.sensor}\``). */
  subject: string | ((value: T) => string);
  format?: Exclude<RecordFormat, 'raw'> | 'raw';
}

const SUBJECT = /^[^\s*>]+$/;

/**
 * Publishes each record to core NATS. Core NATS keeps nothing for absent subscribers, so this sink
 * gives no exactly-once guarantee (use the JetStream sink for that).
 *
 * @example
 * ```ts
 * alerts.sinkTo(natsSink({ subject: (a) => `alerts.${a.sensor}`, format: 'json' }));
 * ```
 */
export function natsSink<T>(opts: NatsSinkOptions<T>): Sink<T> {
  if (opts === null || typeof opts !== 'object' || (typeof opts.subject !== 'string' && typeof opts.subject !== 'function'))
    throw new EddyError('EDDY_INVALID_ARGUMENT', 'natsSink needs { subject: string | (record) => string }');
  if (typeof opts.subject === 'string' && !SUBJECT.test(opts.subject))
    throw new EddyError('EDDY_INVALID_ARGUMENT', `natsSink subject "${opts.subject}" must be a subject without spaces or wildcards`);
  const fixed = typeof opts.subject === 'string' ? opts.subject : undefined;
  const compute = typeof opts.subject === 'function' ? opts.subject : undefined;
  const name = `NATS Sink ${fixed ?? '(computed subject)'}`;
  encoderFor(opts.format ?? 'json', name);
  return {
    name,
    createWriter: ({ operator }) => {
      const nc = operator.nats;
      if (nc === undefined) throw new EddyError('EDDY_CONFIG', `${name} needs a NATS connection`);
      const encode = encoderFor(opts.format ?? 'json', operator.operatorName);
      return {
        invoke: (v) => {
          let subject = fixed;
          if (subject === undefined) {
            subject = compute!(v);
            if (typeof subject !== 'string' || !SUBJECT.test(subject))
              throw new EddyError('EDDY_USER_FUNCTION', `${operator.operatorName}: the subject function returned ${JSON.stringify(subject)}, which is not a valid subject`, {
                operator: operator.operatorName,
              });
          }
          nc.publish(subject, encode(v));
        },
        finish: () => nc.flush(),
      };
    },
  };
}
