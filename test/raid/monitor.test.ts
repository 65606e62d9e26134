import {expect} from 'chai'

import {parseDeviceStatsText, parseFilesystemShow, parseUsage} from '../../src/raid/btrfs/parse.js'
import {buildBtrfsStatus} from '../../src/raid/btrfs/status.js'
import type {ArrayStatus, RaidEvent} from '../../src/raid/engine.js'
import {parseSysfsDump} from '../../src/raid/md/sysfs.js'
import {diffStatuses, monitor} from '../../src/raid/monitor.js'
import {btrfsBlock, md, mdFrom} from './fixtures.js'

/** Runs the monitor over a fixed sequence of polls; returns the events of each poll. */
async function run(sequence: ArrayStatus[][]): Promise<Array<Array<Pick<RaidEvent, 'event' | 'device'>>>> {
  const perPoll: Array<Array<Pick<RaidEvent, 'event' | 'device'>>> = []
  let i = 0
  await monitor({
    list: async () => {
      perPoll.push([])
      return sequence[i++]
    },
    intervalMs: 1000,
    maxPolls: sequence.length,
    sleep: async () => {},
    now: () => new Date('2026-11-22T02:00:00Z'),
    onEvent: (e) => {
      expect(e.time).to.equal('2026-11-22T02:00:00.000Z')
      perPoll.at(-1)!.push(e.device === undefined ? {event: e.event} : {event: e.event, device: e.device})
    },
  })
  return perPoll
}

describe('raid monitor events from a sequence of statuses', () => {
  it('fail → remove → add → rebuild → done (md raid5, captured states)', async () => {
    const events = await run([
      [mdFrom('13', '14')],
      [mdFrom('22', '23')],
      [mdFrom('26', '27')],
      [mdFrom('34', '35')],
      [mdFrom('39', '40')],
    ])
    expect(events).to.deep.equal([
      [],
      [
        {event: 'DegradedArray', device: '/dev/md0'},
        {event: 'Fail', device: '/dev/vdb'},
      ],
      [],
      [{event: 'RebuildStarted', device: '/dev/md0'}],
      [
        {event: 'SpareActive', device: '/dev/vdb'},
        {event: 'RebuildFinished', device: '/dev/md0'},
      ],
    ])
  })

  it('a hot spare takes over: Fail, the spare used up, rebuild started and finished', async () => {
    const events = await run([[mdFrom('43', '44')], [mdFrom('46')], [mdFrom('48', '49')]])
    expect(events[0]).to.deep.equal([])
    expect(events[1]).to.deep.include({event: 'Fail', device: '/dev/vdc'})
    expect(events[1]).to.deep.include({event: 'RebuildStarted', device: '/dev/md0'})
    expect(events[1]).to.deep.include({event: 'SparesMissing', device: '/dev/md0'})
    expect(events.flat()).to.deep.include({event: 'SpareActive', device: '/dev/vde'})
    expect(events[2]).to.deep.include({event: 'RebuildFinished', device: '/dev/md0'})
    expect(events.flat().filter((e) => e.event === 'Fail')).to.have.length(1)
  })

  it('a check that finds mismatches', async () => {
    const idle = parseSysfsDump(md('53'))
    const events = await run([[mdFrom('48', '49', idle)], [mdFrom('51', '52', {...idle, syncAction: 'check', mismatchCnt: 0})], [mdFrom('48', '49', {...idle, mismatchCnt: 16})]])
    // the first look also reports the faulty disk still listed in the array
    expect(events.map((p) => p.map((e) => e.event))).to.deep.equal([['Fail'], [], ['MismatchesFound']])
  })

  it('the first look reports current problems (as --once does); unchanged problems are not repeated', async () => {
    const degraded = mdFrom('22', '23')
    const events = await run([[degraded], [mdFrom('22', '23')]])
    expect(events[0]).to.deep.equal([
      {event: 'DegradedArray', device: '/dev/md0'},
      {event: 'Fail', device: '/dev/vdb'},
    ])
    expect(events[1]).to.deep.equal([])
  })

  it('btrfs: a missing devid, and device error counters that grow', async () => {
    const show = parseFilesystemShow(btrfsBlock('lab.log', 'btrfs filesystem show mnt'))[0]
    const usage = parseUsage(btrfsBlock('lab.log', 'btrfs filesystem usage -b mnt'))
    const clean = buildBtrfsStatus({show, usage, mountpoint: '/m', stats: parseDeviceStatsText(btrfsBlock('lab.log', 'btrfs device stats mnt', 0))})
    const corrupt = buildBtrfsStatus({show, usage, mountpoint: '/m', stats: parseDeviceStatsText(btrfsBlock('lab.log', 'btrfs device stats mnt', 1))})
    const missing = buildBtrfsStatus({
      show: parseFilesystemShow(btrfsBlock('lab2.log', 'btrfs filesystem show mnt', 0))[0],
      usage: parseUsage(btrfsBlock('lab2.log', 'btrfs filesystem usage -b mnt', 1)),
      mountpoint: '/m',
    })
    const events = await run([[clean], [corrupt], [corrupt]])
    expect(events).to.deep.equal([[], [{event: 'DeviceErrors', device: '/dev/loop1'}], []])
    const gone = diffStatuses(clean, missing)
    expect(gone.map((e) => [e.event, e.device])).to.deep.equal([
      ['DegradedArray', '/dev/loop0'],
      ['Fail', 'missing'],
    ])
    expect(gone[1].message).to.equal('a device of labE (devid 3) is missing')
  })

  it('an array that disappears is reported', async () => {
    const events = await run([[mdFrom('13', '14')], []])
    expect(events[1]).to.deep.equal([{event: 'Fail', device: '/dev/md0'}])
  })

  it('a failed look is reported and the monitor keeps going with the last known state', async () => {
    const errors: unknown[] = []
    const events: string[] = []
    let i = 0
    const seq = [() => [mdFrom('13', '14')], () => {
      throw new Error('mdadm timed out')
    }, () => [mdFrom('22', '23')]]
    await monitor({list: async () => seq[i++](), intervalMs: 1, maxPolls: 3, sleep: async () => {}, onError: (e) => errors.push(e), onEvent: (e) => {
      events.push(e.event)
    }})
    expect(errors.map((e) => (e as Error).message)).to.deep.equal(['mdadm timed out'])
    expect(events).to.deep.equal(['DegradedArray', 'Fail'])
  })

  it('--once stops after one look', async () => {
    let polls = 0
    const ev = await monitor({
      list: async () => {
        polls++
        return [mdFrom('22', '23')]
      },
      intervalMs: 1,
      once: true,
    })
    expect(polls).to.equal(1)
    expect(ev.map((e) => e.event)).to.deep.equal(['DegradedArray', 'Fail'])
    expect(ev[0]).to.deep.include({engine: 'md', array: 'fixture'})
  })
})
