// The machine core's entry: createMachineRunner picks the compiled fast path or xstate itself for one xstate v5 machine.
import type { AnyStateMachine } from 'xstate';
import { EddyError } from '../errors.ts';
import { CompiledMachineRunner } from './compiled-machine.ts';
import { lowerMachine } from './compiled-lowering.ts';
import { XstateMachineRunner } from './xstate-runner.ts';
import type { MachineRunner } from './machine-contract.ts';

export type { ActorEffects, ActorEvent, ActorSnapshot, MachineRunner } from './machine-contract.ts';

/**
 * Runs `machine` compiled when it uses only the supported subset (or `path: 'xstate'` forces xstate).
 *
 * @example
 * ```ts
 * const runner = createMachineRunner(fraudMachine);
 * const s0 = runner.initial(undefined, fx);
 * const s1 = runner.step(s0, { type: 'small', amount: 5 }, fx);
 * runner.path; // 'compiled'
 * ```
 */
export function createMachineRunner(machine: AnyStateMachine, options: { path?: 'auto' | 'xstate' } = {}): MachineRunner {
  if (machine === null || typeof machine !== 'object' || typeof (machine as { root?: unknown }).root !== 'object') {
    throw new EddyError('EDDY_CONFIG', 'createMachineRunner needs an xstate v5 machine (createMachine(...) or setup(...).createMachine(...))');
  }
  const path = options.path ?? 'auto';
  if (path !== 'auto' && path !== 'xstate') throw new EddyError('EDDY_CONFIG', `machine runner path must be 'auto' or 'xstate', got ${JSON.stringify(path)}`);
  if (path === 'xstate') return new XstateMachineRunner(machine, undefined);
  const lowered = lowerMachine(machine);
  if (typeof lowered === 'string') return new XstateMachineRunner(machine, lowered);
  return new CompiledMachineRunner(lowered);
}
