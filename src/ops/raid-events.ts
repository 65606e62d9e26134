/**
 * `raid monitor` → notification sinks: each RaidEvent becomes a JobEvent (job "raid-monitor") sent with
 * notifyAll, which never throws, so a failing sink can never stop the monitor. Plain module: no oclif.
 */
import os from 'node:os'

import type {SinkConfig} from '../config/schema.js'
import {ExitCode} from '../errors.js'
import type {JobEvent, JobState} from '../notify/event.js'
import {type Delivery, notifyAll, type NotifyOptions} from '../notify/sinks.js'
import type {RaidEvent, RaidEventName} from '../raid/engine.js'

const FAILURE: ReadonlySet<RaidEventName> = new Set(['DegradedArray', 'Fail', 'DeviceErrors'])
const SUCCESS: ReadonlySet<RaidEventName> = new Set(['RebuildFinished', 'SpareActive'])

export function raidEventState(e: RaidEvent): JobState {
  // A rebuild that ended with the array still unhealthy is not good news.
  if (e.event === 'RebuildFinished' && e.details?.health !== undefined && e.details.health !== 'healthy') return 'warning'
  return FAILURE.has(e.event) ? 'failure' : SUCCESS.has(e.event) ? 'success' : 'warning'
}

function raidAction(e: RaidEvent): string {
  switch (e.event) {
    case 'DegradedArray':
    case 'Fail': {
      return `Run \`lifeboat raid status ${e.array}\` and replace the failed disk (lifeboat raid replace ${e.array} ${e.device && e.device !== 'missing' ? e.device : 'OLD'} NEW --wait); until then the array has less or no redundancy.`
    }
    case 'DeviceErrors': {
      return `Check ${e.device ?? 'the disk'} (smartctl -a, cabling, power) and plan its replacement; run \`lifeboat raid scrub start ${e.array} --wait\`.`
    }
    case 'SparesMissing': {
      return `Add a spare: lifeboat raid spare add ${e.array} DEVICE.`
    }
    case 'MismatchesFound': {
      return `Run \`lifeboat raid scrub start ${e.array} --repair --wait\` and check the disks' SMART data.`
    }
    case 'RebuildStarted': {
      return `Nothing to do; avoid heavy load on ${e.array} until the rebuild finishes.`
    }
    default: {
      return 'Nothing to do.'
    }
  }
}

export function raidJobEvent(e: RaidEvent, o: {name?: string; host?: string} = {}): JobEvent {
  const state = raidEventState(e)
  const numbers: Record<string, number | string> = {event: e.event, engine: e.engine}
  if (e.device !== undefined) numbers.device = e.device
  for (const [k, v] of Object.entries(e.details ?? {})) if (typeof v === 'number' || typeof v === 'string') numbers[k] = v
  return {
    version: 1,
    job: 'raid-monitor',
    name: o.name ?? 'raid-monitor',
    host: o.host ?? os.hostname(),
    state,
    startedAt: e.time,
    finishedAt: e.time,
    durationSeconds: 0,
    summary: `${e.event}: ${e.message}`,
    numbers,
    array: e.array,
    ...(e.device === undefined ? {} : {resource: e.device}),
    action: raidAction(e),
    exitCode: state === 'failure' ? ExitCode.DEGRADED : state === 'warning' ? ExitCode.WARNINGS : ExitCode.OK,
  }
}

/** Sends one monitor event to the sinks; failed deliveries are returned (never thrown). */
export async function notifyRaidEvent(e: RaidEvent, sinks: readonly SinkConfig[], opts: NotifyOptions & {name?: string; host?: string} = {}): Promise<{event: JobEvent; deliveries: Delivery[]}> {
  const event = raidJobEvent(e, {name: opts.name, host: opts.host})
  if (sinks.length === 0) return {event, deliveries: []}
  return {event, deliveries: await notifyAll(event, sinks, opts)}
}
