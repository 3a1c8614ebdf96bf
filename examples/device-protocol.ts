// A device protocol with an actor operator: device messages -> event-time timestamps -> keyBy(device) -> one xstate machine per device with two parallel regions (connection with a handshake timeout and a nested online/sleeping state; firmware download with a stall timeout) -> status events, protocol violations to a side output.
//
//   eddy run examples/device-protocol.ts [-- --devices 5 --events 40 --seed 11 --xstate]   (--xstate: run the machine on xstate, not compiled)
//   npx tsx examples/device-protocol.ts --devices 2
//
// A bounded job: it generates a deterministic message log (per seed), runs it through the machine,
// prints every device's status events and rejected messages in order, and finishes by itself.
//
//   connection: offline --connect--> connecting --handshake--> online { active <-> sleeping }
//               connecting after 5 s --> offline (handshake timeout); online --disconnect--> offline
//               online.active after 30 s without a heartbeat --> online.sleeping; a heartbeat wakes it
//   firmware:   idle|installed --update--> downloading --downloaded--> verifying --verified--> installed
//               downloading after 20 s without a chunk --> idle (stalled); verifying --verifyFailed--> idle
import { parseArgs } from 'node:util';
import { assign, emit, setup } from 'xstate';
import { EddyError, isMainModule, OutputTag, StreamEnvironment, WatermarkStrategy, type DataStream, type UnhandledEvent } from 'eddy';
import { mulberry32 } from './sensor-alerts.ts';

/** A message from a device: already a machine event (string `type`). */
export type DeviceMessage =
  | { type: 'connect' | 'handshake' | 'heartbeat' | 'disconnect' | 'downloaded' | 'verified' | 'verifyFailed'; device: string; ts: number }
  | { type: 'update'; device: string; version: string; ts: number }
  | { type: 'chunk'; device: string; bytes: number; ts: number };

/** What the machine emits on every state change worth reporting. */
export type DeviceStatus = { type: 'status'; device: string; region: 'connection' | 'firmware'; status: string; at: number };

/** A message the device's machine did not handle in its state (the side output). */
export type RejectedMessage = { device: string; message: DeviceMessage['type']; state: unknown; at: number };

/** A device machine's context. */
export type DeviceContext = {
  device: string;
  /** Installed firmware version. */
  version: string;
  /** The version being downloaded or verified. */
  target: string;
  bytes: number;
  connectingSince: number;
  activeSince: number;
  downloadSince: number;
};

/** How long a device may take from `connect` to `handshake`. */
export const HANDSHAKE_TIMEOUT_MS = 5_000;
/** An online device without a heartbeat for this long goes to sleep. */
export const IDLE_MS = 30_000;
/** A download without a chunk for this long stalls. */
export const STALL_MS = 20_000;

const status = (device: string, region: DeviceStatus['region'], s: string, at: number): DeviceStatus => ({ type: 'status', device, region, status: s, at });

/** The device machine: a parallel root with regions `connection` (with nested `online`) and `firmware`. See the file's header. */
export const deviceMachine = setup({
  types: {} as { context: DeviceContext; events: DeviceMessage; input: { device: string }; emitted: DeviceStatus },
}).createMachine({
  id: 'device',
  type: 'parallel',
  context: ({ input }) => ({ device: input.device, version: '1.0.0', target: '', bytes: 0, connectingSince: 0, activeSince: 0, downloadSince: 0 }),
  states: {
    connection: {
      initial: 'offline',
      states: {
        offline: {
          on: { connect: { target: 'connecting', actions: emit(({ context, event }) => status(context.device, 'connection', 'connecting', event.ts)) } },
        },
        connecting: {
          entry: assign({ connectingSince: ({ event }) => event.ts }),
          after: {
            [HANDSHAKE_TIMEOUT_MS]: {
              target: 'offline',
              actions: emit(({ context }) => status(context.device, 'connection', 'handshake-timeout', context.connectingSince + HANDSHAKE_TIMEOUT_MS)),
            },
          },
          on: { handshake: { target: 'online', actions: emit(({ context, event }) => status(context.device, 'connection', 'online', event.ts)) } },
        },
        online: {
          initial: 'active',
          on: { disconnect: { target: 'offline', actions: emit(({ context, event }) => status(context.device, 'connection', 'offline', event.ts)) } },
          states: {
            active: {
              entry: assign({ activeSince: ({ event }) => event.ts }),
              after: { [IDLE_MS]: { target: 'sleeping', actions: emit(({ context }) => status(context.device, 'connection', 'sleeping', context.activeSince + IDLE_MS)) } },
              // Re-entering restarts the idle timer.
              on: { heartbeat: { target: 'active', reenter: true } },
            },
            sleeping: {
              on: { heartbeat: { target: 'active', actions: emit(({ context, event }) => status(context.device, 'connection', 'awake', event.ts)) } },
            },
          },
        },
      },
    },
    firmware: {
      initial: 'idle',
      states: {
        idle: {
          on: {
            update: {
              target: 'downloading',
              actions: [assign({ target: ({ event }) => event.version, bytes: 0 }), emit(({ context, event }) => status(context.device, 'firmware', `downloading ${context.target}`, event.ts))],
            },
          },
        },
        downloading: {
          entry: assign({ downloadSince: ({ event }) => event.ts }),
          after: {
            [STALL_MS]: {
              target: 'idle',
              actions: emit(({ context }) => status(context.device, 'firmware', `stalled ${context.target} at ${context.bytes} bytes`, context.downloadSince + STALL_MS)),
            },
          },
          on: {
            // Re-entering restarts the stall timer.
            chunk: { target: 'downloading', reenter: true, actions: assign({ bytes: ({ context, event }) => context.bytes + event.bytes }) },
            downloaded: { target: 'verifying', actions: emit(({ context, event }) => status(context.device, 'firmware', `verifying ${context.target} (${context.bytes} bytes)`, event.ts)) },
          },
        },
        verifying: {
          on: {
            verified: {
              target: 'installed',
              actions: [assign({ version: ({ context }) => context.target }), emit(({ context, event }) => status(context.device, 'firmware', `installed ${context.version}`, event.ts))],
            },
            verifyFailed: { target: 'idle', actions: emit(({ context, event }) => status(context.device, 'firmware', `verify-failed ${context.target}`, event.ts)) },
          },
        },
        installed: {
          on: {
            update: {
              target: 'downloading',
              actions: [assign({ target: ({ event }) => event.version, bytes: 0 }), emit(({ context, event }) => status(context.device, 'firmware', `downloading ${context.target}`, event.ts))],
            },
          },
        },
      },
    },
  },
});

/** Unhandled messages go here (`onUnhandled: 'side-output'`). */
export const UNHANDLED_MESSAGES = new OutputTag<UnhandledEvent<DeviceMessage>>('unhandled-device-messages');

/**
 * Adds the device pipeline over `messages` (in time order) to `env`: the status stream and the
 * rejected messages (from the side output of unhandled events).
 */
export function buildDeviceProtocolJob(
  env: StreamEnvironment,
  messages: readonly DeviceMessage[],
  options: { path?: 'auto' | 'xstate' } = {},
): { statuses: DataStream<DeviceStatus>; rejected: DataStream<RejectedMessage> } {
  const statuses = env
    .fromCollection(messages)
    .assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<DeviceMessage>().withTimestampAssigner((m) => m.ts))
    // With the source's parallelism (1): a wider assigner would get records round-robin and mix up each device's messages.
    .setParallelism(1)
    .keyBy((m) => m.device)
    .actor<DeviceStatus>(deviceMachine, {
      input: (device) => ({ device }),
      onUnhandled: 'side-output',
      unhandledOutput: UNHANDLED_MESSAGES,
      path: options.path ?? 'auto',
    })
    .uid('devices')
    .name('Device protocol');
  const rejected = statuses
    .getSideOutput(UNHANDLED_MESSAGES)
    .map((u): RejectedMessage => ({ device: String(u.key), message: u.event.type as DeviceMessage['type'], state: u.state, at: u.record.ts }))
    .name('Rejected messages');
  return { statuses, rejected };
}

/** Runs the job to its end: every status and rejected message, as collected (order across devices is not defined). */
export async function runDeviceProtocol(env: StreamEnvironment, messages: readonly DeviceMessage[], options: { path?: 'auto' | 'xstate' } = {}): Promise<DeviceOutput> {
  const { statuses, rejected } = buildDeviceProtocolJob(env, messages, options);
  type Tagged = { s?: DeviceStatus; r?: RejectedMessage };
  const all = await statuses
    .map((s): Tagged => ({ s }))
    .union(rejected.map((r): Tagged => ({ r })))
    .executeAndCollect();
  return { statuses: all.flatMap((x) => (x.s === undefined ? [] : [x.s])), rejected: all.flatMap((x) => (x.r === undefined ? [] : [x.r])) };
}

/** What the job produces: status events and rejected messages. */
export interface DeviceOutput {
  statuses: DeviceStatus[];
  rejected: RejectedMessage[];
}

type Conn = 'offline' | 'connecting' | 'active' | 'sleeping';
type Fw = 'idle' | 'downloading' | 'verifying' | 'installed';

/**
 * One device's protocol in plain code (no xstate): the same transitions, timers as (id, deadline)
 * in schedule order, fired in deadline order (ties in schedule order) when the device's time
 * reaches them, before a message at that time.
 */
export class DeviceModel {
  conn: Conn = 'offline';
  fw: Fw = 'idle';
  version = '1.0.0';
  target = '';
  bytes = 0;
  timers: { id: 'handshake' | 'idle' | 'stall'; at: number }[] = [];

  constructor(
    readonly device: string,
    private readonly out: DeviceOutput,
  ) {}

  /** The machine's state value, as xstate writes it. */
  value(): unknown {
    const connection = this.conn === 'active' || this.conn === 'sleeping' ? { online: this.conn } : this.conn;
    return { connection, firmware: this.fw };
  }

  private schedule(id: 'handshake' | 'idle' | 'stall', at: number): void {
    this.timers = this.timers.filter((t) => t.id !== id);
    this.timers.push({ id, at });
  }

  private cancel(id: 'handshake' | 'idle' | 'stall'): void {
    this.timers = this.timers.filter((t) => t.id !== id);
  }

  private status(region: DeviceStatus['region'], s: string, at: number): void {
    this.out.statuses.push(status(this.device, region, s, at));
  }

  /** Fires the timers due at or before `upTo` (Infinity: all of them, as at the end of input). */
  fireDue(upTo: number): void {
    for (;;) {
      let best = -1;
      for (let i = 0; i < this.timers.length; i++) if (this.timers[i]!.at <= upTo && (best < 0 || this.timers[i]!.at < this.timers[best]!.at)) best = i;
      if (best < 0) return;
      const t = this.timers[best]!;
      this.timers.splice(best, 1);
      if (t.id === 'handshake') {
        this.conn = 'offline';
        this.status('connection', 'handshake-timeout', t.at);
      } else if (t.id === 'idle') {
        this.conn = 'sleeping';
        this.status('connection', 'sleeping', t.at);
      } else {
        this.fw = 'idle';
        this.status('firmware', `stalled ${this.target} at ${this.bytes} bytes`, t.at);
      }
    }
  }

  /** Whether the message is valid in the current state (what the machine handles). */
  handles(type: DeviceMessage['type']): boolean {
    switch (type) {
      case 'connect':
        return this.conn === 'offline';
      case 'handshake':
        return this.conn === 'connecting';
      case 'heartbeat':
      case 'disconnect':
        return this.conn === 'active' || this.conn === 'sleeping';
      case 'update':
        return this.fw === 'idle' || this.fw === 'installed';
      case 'chunk':
      case 'downloaded':
        return this.fw === 'downloading';
      case 'verified':
      case 'verifyFailed':
        return this.fw === 'verifying';
    }
  }

  /** One message: fires due timers first, then the transition, or records it as rejected. */
  handle(m: DeviceMessage): void {
    this.fireDue(m.ts);
    if (!this.handles(m.type)) {
      this.out.rejected.push({ device: this.device, message: m.type, state: this.value(), at: m.ts });
      return;
    }
    switch (m.type) {
      case 'connect':
        this.conn = 'connecting';
        this.status('connection', 'connecting', m.ts);
        this.schedule('handshake', m.ts + HANDSHAKE_TIMEOUT_MS);
        break;
      case 'handshake':
        this.cancel('handshake');
        this.conn = 'active';
        this.status('connection', 'online', m.ts);
        this.schedule('idle', m.ts + IDLE_MS);
        break;
      case 'heartbeat':
        if (this.conn === 'sleeping') this.status('connection', 'awake', m.ts);
        this.conn = 'active';
        this.schedule('idle', m.ts + IDLE_MS);
        break;
      case 'disconnect':
        this.cancel('idle');
        this.conn = 'offline';
        this.status('connection', 'offline', m.ts);
        break;
      case 'update':
        this.target = m.version;
        this.bytes = 0;
        this.fw = 'downloading';
        this.status('firmware', `downloading ${m.version}`, m.ts);
        this.schedule('stall', m.ts + STALL_MS);
        break;
      case 'chunk':
        this.bytes += m.bytes;
        this.schedule('stall', m.ts + STALL_MS);
        break;
      case 'downloaded':
        this.cancel('stall');
        this.fw = 'verifying';
        this.status('firmware', `verifying ${this.target} (${this.bytes} bytes)`, m.ts);
        break;
      case 'verified':
        this.version = this.target;
        this.fw = 'installed';
        this.status('firmware', `installed ${this.version}`, m.ts);
        break;
      case 'verifyFailed':
        this.fw = 'idle';
        this.status('firmware', `verify-failed ${this.target}`, m.ts);
        break;
    }
  }
}

/** What the job must produce for `messages` (in time order): statuses and rejected messages, each in order per device. */
export function expectedDeviceOutput(messages: readonly DeviceMessage[]): DeviceOutput {
  const out: DeviceOutput = { statuses: [], rejected: [] };
  const devices = new Map<string, DeviceModel>();
  for (const m of messages) {
    let d = devices.get(m.device);
    if (d === undefined) devices.set(m.device, (d = new DeviceModel(m.device, out)));
    d.handle(m);
  }
  // End of input: the watermark goes to +infinity and every pending deadline fires.
  for (const d of devices.values()) d.fireDue(Infinity);
  return out;
}

/** Groups by device, keeping each device's order (the order the job defines). */
export function byDevice<T extends { device: string }>(xs: readonly T[]): Record<string, T[]> {
  const m: Record<string, T[]> = {};
  for (const x of xs) (m[x.device] ??= []).push(x);
  return m;
}

/**
 * A deterministic message log per seed, in time order. Each device sends `perDevice` messages
 * 0.5-40 s apart (so timeouts happen): mostly a message its protocol state allows (driven by the
 * plain model), about one in eight a random one (a violation, rejected unless it happens to fit).
 */
export function generateDeviceMessages(seed: number, devices: number, perDevice: number, startTs = Date.UTC(2026, 0, 1)): DeviceMessage[] {
  const rand = mulberry32(seed);
  const between = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const all: DeviceMessage[] = [];
  const types: DeviceMessage['type'][] = ['connect', 'handshake', 'heartbeat', 'disconnect', 'update', 'chunk', 'downloaded', 'verified', 'verifyFailed'];
  for (let d = 0; d < devices; d++) {
    const device = `dev${d + 1}`;
    const model = new DeviceModel(device, { statuses: [], rejected: [] });
    let ts = startTs + between(0, 10_000);
    let releases = 0;
    for (let i = 0; i < perDevice; i++) {
      model.fireDue(ts);
      let type: DeviceMessage['type'];
      if (rand() < 0.125) type = pick(types);
      else {
        const valid = types.filter((t) => model.handles(t));
        // Handshakes usually follow a connect, heartbeats and chunks are frequent, disconnects rare.
        const weight = { handshake: 6, heartbeat: 3, chunk: 3, disconnect: 1 } as Partial<Record<DeviceMessage['type'], number>>;
        const weighted = valid.flatMap((t) => Array<DeviceMessage['type']>(weight[t] ?? 2).fill(t));
        type = pick(weighted);
      }
      const m: DeviceMessage =
        type === 'update' ? { type, device, version: `1.${++releases}.0`, ts } : type === 'chunk' ? { type, device, bytes: between(1, 64) * 1024, ts } : { type, device, ts };
      all.push(m);
      model.handle(m);
      // Mostly quick messages, sometimes long pauses: handshakes, heartbeats and chunks then time out.
      ts += rand() < 0.75 ? between(500, 4_000) : between(4_000, 40_000);
    }
  }
  return all.sort((a, b) => a.ts - b.ts || (a.device < b.device ? -1 : a.device > b.device ? 1 : 0));
}

/** What the demo runs: the environment (default: StreamEnvironment.create(), i.e. eddy run's flags), how many devices and messages, the seed. */
export interface DeviceDemoOptions {
  env?: StreamEnvironment;
  devices?: number;
  /** Messages per device. */
  events?: number;
  seed?: number;
  path?: 'auto' | 'xstate';
  log?: (line: string) => void;
}

/** Generates the log, runs the job to its end, prints each device's statuses and rejected messages: what running this file does. */
export async function runDeviceProtocolDemo(options: DeviceDemoOptions = {}): Promise<{ messages: DeviceMessage[]; output: DeviceOutput }> {
  const log = options.log ?? ((l: string) => console.log(l));
  const env = options.env ?? StreamEnvironment.create();
  const messages = generateDeviceMessages(options.seed ?? 11, options.devices ?? 5, options.events ?? 40);
  log(`running ${messages.length} messages of ${options.devices ?? 5} devices`);
  const output = await runDeviceProtocol(env, messages, { path: options.path ?? 'auto' });
  const t0 = messages[0]?.ts ?? 0;
  const rel = (ms: number): string => `+${((ms - t0) / 1000).toFixed(1).padStart(6)} s`;
  const statuses = byDevice(output.statuses);
  const rejected = byDevice(output.rejected);
  for (const device of [...new Set(messages.map((m) => m.device))].sort()) {
    log(`${device}:`);
    // Both lists are in the device's order; merged by time for reading (a stable sort keeps ties in order).
    const lines = [
      ...(statuses[device] ?? []).map((s) => ({ at: s.at, text: `${s.region.padEnd(10)} ${s.status}` })),
      ...(rejected[device] ?? []).map((r) => ({ at: r.at, text: `rejected   "${r.message}" in ${JSON.stringify(r.state)}` })),
    ].sort((a, b) => a.at - b.at);
    for (const l of lines) log(`  ${rel(l.at)}  ${l.text}`);
  }
  log(`${output.statuses.length} status events, ${output.rejected.length} rejected messages`);
  return { messages, output };
}

function integerArg(v: string | undefined, name: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < min) throw new EddyError('EDDY_INVALID_ARGUMENT', `--${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return n;
}

if (isMainModule(import.meta.url)) {
  const { values } = parseArgs({ args: process.argv.slice(2), options: { devices: { type: 'string' }, events: { type: 'string' }, seed: { type: 'string' }, xstate: { type: 'boolean' } } });
  await runDeviceProtocolDemo({
    devices: integerArg(values.devices, 'devices', 1) ?? 5,
    events: integerArg(values.events, 'events', 1) ?? 40,
    seed: integerArg(values.seed, 'seed', 0) ?? 11,
    path: values.xstate === true ? 'xstate' : 'auto',
  });
}
