import {expect} from 'chai'

import {applyPolicy, groupSnapshots, isEmptyPolicy, isoWeek, parseDuration, parseGroupBy, type ForgetPolicy, type PolicyInput} from '../../src/backup/policy.js'
import type {Snapshot} from '../../src/backup/types.js'
import {withTZ} from '../helpers/env.js'

let n = 0
function snap(time: string, extra: Partial<Snapshot> = {}): PolicyInput {
  n++
  return {id: `id${String(n).padStart(3, '0')}-${time}`, snapshot: {time, tree: 'ab'.repeat(32), paths: ['/data'], hostname: 'pi', ...extra}}
}

/** Runs the policy and returns [kept times, removed times, reasons by time]. */
function run(list: PolicyInput[], p: ForgetPolicy, now?: Date) {
  const out = applyPolicy(list, p, now)
  return {
    kept: out.filter((d) => d.keep).map((d) => d.snapshot.time),
    removed: out.filter((d) => !d.keep).map((d) => d.snapshot.time),
    reasons: Object.fromEntries(out.map((d) => [d.snapshot.time, d.reasons])),
    order: out.map((d) => d.snapshot.time),
  }
}

describe('backup forget policy', () => {
  const days = ['2024-01-01T10:00:00Z', '2024-01-02T09:00:00Z', '2024-01-02T18:00:00Z', '2024-01-03T08:00:00Z']

  it('sorts newest first and keeps the N newest with --keep-last', () => {
    const r = run(days.map((t) => snap(t)), {last: 2})
    expect(r.order).to.deep.equal([...days].reverse())
    expect(r.kept).to.deep.equal(['2024-01-03T08:00:00Z', '2024-01-02T18:00:00Z'])
    expect(r.reasons['2024-01-03T08:00:00Z']).to.deep.equal(['last snapshot'])
    expect(r.reasons['2024-01-01T10:00:00Z']).to.deep.equal([])
  })

  it('keeps the newest snapshot of each of the N newest days; two on one day count once', () => {
    const r = run(days.map((t) => snap(t)), {daily: 2})
    expect(r.kept).to.deep.equal(['2024-01-03T08:00:00Z', '2024-01-02T18:00:00Z'])
    expect(r.removed).to.deep.equal(['2024-01-02T09:00:00Z', '2024-01-01T10:00:00Z'])
    expect(r.reasons['2024-01-02T18:00:00Z']).to.deep.equal(['daily snapshot'])
  })

  it('does not keep the oldest snapshot when counts are left (restic 0.14)', () => {
    const r = run(days.map((t) => snap(t)), {monthly: 5})
    expect(r.kept).to.deep.equal(['2024-01-03T08:00:00Z'])
  })

  it('buckets by hour: two snapshots in the same hour keep the newer one', () => {
    const r = run(['2024-05-01T10:05:00Z', '2024-05-01T10:40:00Z', '2024-05-01T11:10:00Z', '2024-05-02T10:10:00Z'].map((t) => snap(t)), {hourly: 3})
    expect(r.kept).to.deep.equal(['2024-05-02T10:10:00Z', '2024-05-01T11:10:00Z', '2024-05-01T10:40:00Z'])
    expect(r.removed).to.deep.equal(['2024-05-01T10:05:00Z'])
  })

  it('buckets by ISO week, including weeks that belong to the next or previous year', () => {
    expect(isoWeek(2024, 12, 30)).to.deep.equal([2025, 1])
    expect(isoWeek(2021, 1, 3)).to.deep.equal([2020, 53])
    expect(isoWeek(2024, 1, 1)).to.deep.equal([2024, 1])
    // Sun 2024-12-29 is in 2024-W52; Mon 2024-12-30 and Sun 2025-01-05 are both 2025-W01.
    const r = run(['2024-12-29T12:00:00Z', '2024-12-30T12:00:00Z', '2025-01-05T12:00:00Z', '2024-12-20T12:00:00Z'].map((t) => snap(t)), {weekly: 2})
    expect(r.kept).to.deep.equal(['2025-01-05T12:00:00Z', '2024-12-29T12:00:00Z'])
    expect(r.reasons['2024-12-29T12:00:00Z']).to.deep.equal(['weekly snapshot'])
  })

  it('buckets by month and by year', () => {
    const list = ['2022-06-01T00:00:00Z', '2023-01-15T00:00:00Z', '2023-12-31T23:00:00Z', '2024-02-01T00:00:00Z', '2024-02-20T00:00:00Z'].map((t) => snap(t))
    expect(run(list, {monthly: 3}).kept).to.deep.equal(['2024-02-20T00:00:00Z', '2023-12-31T23:00:00Z', '2023-01-15T00:00:00Z'])
    expect(run(list, {yearly: 2}).kept).to.deep.equal(['2024-02-20T00:00:00Z', '2023-12-31T23:00:00Z'])
    expect(run(list, {yearly: 10}).kept).to.deep.equal(['2024-02-20T00:00:00Z', '2023-12-31T23:00:00Z', '2022-06-01T00:00:00Z'])
  })

  it('combines rules: a snapshot lists every rule that keeps it; each rule counts independently', () => {
    const r = run(days.map((t) => snap(t)), {last: 1, daily: 3, monthly: 1})
    expect(r.reasons['2024-01-03T08:00:00Z']).to.deep.equal(['last snapshot', 'daily snapshot', 'monthly snapshot'])
    expect(r.reasons['2024-01-02T18:00:00Z']).to.deep.equal(['daily snapshot'])
    expect(r.reasons['2024-01-02T09:00:00Z']).to.deep.equal([])
    expect(r.reasons['2024-01-01T10:00:00Z']).to.deep.equal(['daily snapshot'])
  })

  it('--keep-within counts back from the newest snapshot, not from now, and ignores snapshots in the future', () => {
    const list = ['2024-01-10T12:00:00Z', '2024-01-08T13:00:00Z', '2024-01-08T11:00:00Z', '2030-01-01T00:00:00Z'].map((t) => snap(t))
    const r = run(list, {within: '2d'}, new Date('2024-06-01T00:00:00Z'))
    expect(r.kept).to.deep.equal(['2030-01-01T00:00:00Z', '2024-01-10T12:00:00Z', '2024-01-08T13:00:00Z'])
    expect(r.removed).to.deep.equal(['2024-01-08T11:00:00Z'])
    expect(r.reasons['2024-01-10T12:00:00Z']).to.deep.equal(['within 2d'])
    // Once "now" is past 2030, that snapshot is the newest and the 2024 ones fall out.
    expect(run(list, {within: '2d'}, new Date('2031-01-01T00:00:00Z')).kept).to.deep.equal(['2030-01-01T00:00:00Z'])
  })

  it('--keep-within steps back by calendar months and days as Go does (Mar 31 − 1m = Mar 2)', () => {
    const list = ['2024-03-31T00:00:00Z', '2024-03-02T00:30:00Z', '2024-03-01T23:00:00Z'].map((t) => snap(t))
    const r = withTZ('UTC', () => run(list, {within: '1m'}, new Date('2025-01-01T00:00:00Z')))
    expect(r.kept).to.deep.equal(['2024-03-31T00:00:00Z', '2024-03-02T00:30:00Z'])
    expect(r.reasons['2024-03-02T00:30:00Z']).to.deep.equal(['within 1m'])
    const h = run(list, {within: '1y2m3d4h'}, new Date('2025-01-01T00:00:00Z'))
    expect(h.reasons['2024-03-01T23:00:00Z']).to.deep.equal(['within 1y2m3d4h'])
  })

  it('--keep-tag keeps snapshots with all tags of any entry', () => {
    const list = [snap('2024-01-01T00:00:00Z', {tags: ['a', 'b']}), snap('2024-01-02T00:00:00Z', {tags: ['a']}), snap('2024-01-03T00:00:00Z', {tags: ['c']}), snap('2024-01-04T00:00:00Z')]
    const r = run(list, {keepTags: ['a,b', 'c']})
    expect(r.kept).to.deep.equal(['2024-01-03T00:00:00Z', '2024-01-01T00:00:00Z'])
    expect(r.reasons['2024-01-01T00:00:00Z']).to.deep.equal(['has tags [a, b]'])
    expect(r.reasons['2024-01-03T00:00:00Z']).to.deep.equal(['has tags [c]'])
    expect(run(list, {keepTags: [['a']], last: 1}).reasons['2024-01-04T00:00:00Z']).to.deep.equal(['last snapshot'])
  })

  it('an empty policy keeps everything', () => {
    const list = days.map((t) => snap(t))
    expect(isEmptyPolicy({})).to.equal(true)
    expect(isEmptyPolicy({last: 0, within: '0d', keepTags: []})).to.equal(true)
    expect(isEmptyPolicy({daily: 1})).to.equal(false)
    const out = applyPolicy(list, {})
    expect(out.every((d) => d.keep && d.reasons[0] === 'policy is empty')).to.equal(true)
  })

  it('buckets by the wall clock the snapshot recorded, whatever this machine’s time zone (as restic)', () => {
    // 10:00Z and 23:30Z are one UTC day, though 23:30Z is already the next day in Berlin.
    const r = withTZ('Europe/Berlin', () => run([snap('2024-01-10T10:00:00Z'), snap('2024-01-10T23:30:00Z')], {daily: 5}))
    expect(r.kept).to.deep.equal(['2024-01-10T23:30:00Z'])
    // The same instants recorded in Berlin's offset fall on two days.
    const b = withTZ('Europe/Berlin', () => run([snap('2024-01-10T11:00:00+01:00'), snap('2024-01-11T00:30:00+01:00')], {daily: 5}))
    expect(b.kept).to.have.length(2)
  })

  describe('across daylight saving time changes (Europe/Berlin)', () => {
    it('the repeated hour of 2024-10-27 is one hourly bucket; the day stays one daily bucket', () => {
      withTZ('Europe/Berlin', () => {
        const list = ['2024-10-27T01:30:00+02:00', '2024-10-27T02:15:00+02:00', '2024-10-27T02:45:00+01:00', '2024-10-27T03:10:00+01:00'].map((t) => snap(t))
        const r = run(list, {hourly: 10})
        expect(r.order).to.deep.equal(['2024-10-27T03:10:00+01:00', '2024-10-27T02:45:00+01:00', '2024-10-27T02:15:00+02:00', '2024-10-27T01:30:00+02:00'])
        expect(r.removed).to.deep.equal(['2024-10-27T02:15:00+02:00'])
        expect(run(list, {daily: 10}).kept).to.deep.equal(['2024-10-27T03:10:00+01:00'])
      })
    })

    it('the skipped hour of 2024-03-31: snapshots an hour apart sit in different hour buckets', () => {
      withTZ('Europe/Berlin', () => {
        const list = ['2024-03-31T01:40:00+01:00', '2024-03-31T03:20:00+02:00', '2024-03-30T23:59:00+01:00'].map((t) => snap(t))
        expect(run(list, {hourly: 10}).kept).to.have.length(3)
        expect(run(list, {daily: 10}).kept).to.deep.equal(['2024-03-31T03:20:00+02:00', '2024-03-30T23:59:00+01:00'])
      })
    })

    it('--keep-within 1d over the spring change steps back one calendar day in local time (23 hours)', () => {
      withTZ('Europe/Berlin', () => {
        // Newest 2024-03-31 12:00+02:00 (10:00Z); one local day earlier is 2024-03-30 12:00+01:00 (11:00Z).
        const list = ['2024-03-31T12:00:00+02:00', '2024-03-30T12:30:00+01:00', '2024-03-30T11:30:00+01:00'].map((t) => snap(t))
        const r = run(list, {within: '1d'}, new Date('2025-01-01T00:00:00Z'))
        expect(r.kept).to.deep.equal(['2024-03-31T12:00:00+02:00', '2024-03-30T12:30:00+01:00'])
        expect(r.removed).to.deep.equal(['2024-03-30T11:30:00+01:00'])
      })
    })
  })

  it('parses restic durations and group-by values, rejecting others', () => {
    expect(parseDuration('1y2m3d4h')).to.deep.equal({years: 1, months: 2, days: 3, hours: 4})
    expect(parseDuration('36h')).to.deep.equal({years: 0, months: 0, days: 0, hours: 36})
    expect(() => parseDuration('2w')).to.throw(/invalid duration/)
    expect(() => parseDuration('d')).to.throw(/invalid duration/)
    expect(parseGroupBy('host,paths')).to.deep.equal({host: true, paths: true})
    expect(parseGroupBy('')).to.deep.equal({})
    expect(() => parseGroupBy('hostname')).to.throw(/unknown grouping/)
  })

  it('groups by host and paths by default (paths as a set), by tags on request, or not at all', () => {
    const list = [
      snap('2024-01-01T00:00:00Z', {hostname: 'a', paths: ['/x', '/y']}),
      snap('2024-01-02T00:00:00Z', {hostname: 'a', paths: ['/y', '/x'], tags: ['t']}),
      snap('2024-01-03T00:00:00Z', {hostname: 'b', paths: ['/x', '/y']}),
      snap('2024-01-04T00:00:00Z', {hostname: 'a', paths: ['/x']}),
    ]
    const def = groupSnapshots(list)
    expect(def.map((g) => [g.key, g.snapshots.length])).to.deep.equal([
      [{hostname: 'a', paths: ['/x', '/y']}, 2],
      [{hostname: 'b', paths: ['/x', '/y']}, 1],
      [{hostname: 'a', paths: ['/x']}, 1],
    ])
    expect(groupSnapshots(list, {host: true, tags: true}).map((g) => [g.key, g.snapshots.length])).to.deep.equal([
      [{hostname: 'a', tags: []}, 2],
      [{hostname: 'a', tags: ['t']}, 1],
      [{hostname: 'b', tags: []}, 1],
    ])
    expect(groupSnapshots(list, {})).to.have.length(1)
  })
})
