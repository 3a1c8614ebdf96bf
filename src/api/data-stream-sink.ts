// DataStreamSink: the handle sinkTo() returns, to set a sink's parallelism, uid, name and failure policy.
import { EddyError } from '../errors.ts';
import { validateRecordFailurePolicy, type RecordFailurePolicy } from '../functions/record-failure-policy.ts';
import type { Transformation } from '../graph/transformation.ts';

/** A sink in the graph: set its parallelism, uid and name. */
export class DataStreamSink {
  constructor(readonly transformation: Transformation) {}
  setParallelism(n: number): this {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1)
      throw new EddyError('EDDY_CONFIG', `setParallelism needs an integer >= 1, got ${JSON.stringify(n)}`);
    this.transformation.parallelism = n;
    return this;
  }
  uid(uid: string): this {
    this.transformation.uid = uid;
    return this;
  }
  name(name: string): this {
    this.transformation.name = name;
    return this;
  }
  /** What the sink does with a record it cannot write (e.g. its subject function throws): see `DataStream.onRecordFailure`. */
  onRecordFailure(policy: RecordFailurePolicy): this {
    this.transformation.recordFailures = validateRecordFailurePolicy(policy, `onRecordFailure of "${this.transformation.name}"`);
    return this;
  }
}
