import {expect} from 'chai'

import type {ArrayStatus} from '../../src/raid/engine.js'
import {parseDetailExport} from '../../src/raid/md/detail.js'
import {parseMdstat} from '../../src/raid/md/mdstat.js'
import {buildMdStatus} from '../../src/raid/md/status.js'
import {parseSysfsDump, type MdSysfs} from '../../src/raid/md/sysfs.js'
import {renderStatus} from '../../src/raid/status-view.js'
import {md, mdFrom} from './fixtures.js'

const roles = (s: ArrayStatus) => s.members.map((m) => `${m.device}:${m.role}`)

describe('md array status from captured outputs', () => {
  it('clean raid5 is healthy with nothing to say', () => {
    const s = mdFrom('13', '14', parseSysfsDump(md('19')))
    expect(s).to.deep.include({engine: 'md', name: 'fixture', device: '/dev/md0', level: 'raid5', health: 'healthy', state: 'clean', expectedMembers: 4, sizeBytes: 193536 * 1024, mismatchCount: 0})
    expect(s.uuid).to.equal('04566bd9:b73c2390:35848b5c:b9d4ae0a')
    expect(roles(s)).to.deep.equal(['/dev/vda:active', '/dev/vdb:active', '/dev/vdc:active', '/dev/vdd:active'])
    expect(s.status).to.deep.equal([])
    expect(s.action).to.deep.equal([])
    expect(s.progress).to.equal(undefined)
  })

  it('a failed member: degraded, the faulty disk and the empty slot, and what to run', () => {
    const s = mdFrom('22', '23')
    expect(s.health).to.equal('degraded')
    expect(roles(s)).to.deep.equal(['/dev/vda:active', '/dev/vdc:active', '/dev/vdd:active', '/dev/vdb:faulty', 'missing:removed'])
    expect(s.members.at(-1)!.slot).to.equal(1)
    expect(s.status[0]).to.match(/failed \(3 of 4 members working\)/)
    expect(s.action[0]).to.equal('Replace the failed disk: lifeboat raid replace fixture /dev/vdb NEW-DEVICE --wait')
  })

  it('a failed member seen only in /proc/mdstat is still faulty and the array degraded', () => {
    const s = mdFrom('22')
    expect(s.health).to.equal('degraded')
    expect(s.members.find((m) => m.device === '/dev/vdb')!.role).to.equal('faulty')
    expect(s.name).to.equal('md0')
  })

  it('a removed member: degraded with the slot missing', () => {
    const s = mdFrom('26', '27')
    expect(s.health).to.equal('degraded')
    expect(roles(s)).to.include('missing:removed')
    expect(s.status[0]).to.match(/missing/)
  })

  it('recovering: rebuilding, progress from sysfs with speed and ETA, the target disk marked', () => {
    const s = mdFrom('34', '35', parseSysfsDump(md('37')))
    expect(s.health).to.equal('rebuilding')
    expect(s.state).to.equal('clean, degraded, recovering')
    expect(s.members.find((m) => m.device === '/dev/vdb')!.role).to.equal('rebuilding')
    expect(s.progress).to.deep.equal({action: 'recovery', percent: 37.5, doneBytes: 48432 * 512, totalBytes: 129024 * 512, speedBytesPerSec: 4864 * 1024, etaSeconds: 8})
    expect(s.action.join(' ')).to.match(/Wait for the rebuild/)
  })

  it('recovering from /proc/mdstat alone: mdstat progress and finish= as the ETA', () => {
    const s = mdFrom('34')
    expect(s.health).to.equal('rebuilding')
    expect(s.progress).to.deep.equal({action: 'recovery', percent: 30.7, doneBytes: 20224 * 1024, totalBytes: 64512 * 1024, speedBytesPerSec: 5056 * 1024, etaSeconds: 6})
  })

  it('the initial raid5 build counts as a rebuild (md builds parity by recovering the last disk)', () => {
    expect(mdFrom('07', '10').health).to.equal('rebuilding')
  })

  it('a hot spare: healthy, spare role', () => {
    const s = mdFrom('43', '44')
    expect(s.health).to.equal('healthy')
    expect(roles(s)).to.include('/dev/vde:spare')
  })

  it('a spare taking over after a failure: rebuilding; afterwards healthy with a leftover faulty disk to remove', () => {
    const during = mdFrom('47')
    expect(during.health).to.equal('rebuilding')
    expect(roles(during)).to.include('/dev/vdc:faulty')
    const after = mdFrom('48', '49')
    expect(after.health).to.equal('healthy')
    expect(after.status[0]).to.match(/\/dev\/vdc is marked faulty/)
    expect(after.action[0]).to.equal('Remove it: lifeboat raid remove fixture /dev/vdc')
  })

  it('a check in progress and a reshape in progress keep the array healthy', () => {
    const check = mdFrom('51', '52')
    expect(check.health).to.equal('healthy')
    expect(check.progress).to.include({action: 'check', percent: 12.5})
    expect(check.status).to.include('A consistency check (scrub) is in progress.')
    const reshape = mdFrom('57', '58')
    expect(reshape).to.deep.include({health: 'healthy', expectedMembers: 5})
    expect(reshape.progress).to.include({action: 'reshape', percent: 16.5})
  })

  it('a repair shows as repair (from sysfs; mdstat says resync)', () => {
    const sys: MdSysfs = {syncAction: 'repair', syncCompleted: {done: 100, total: 1000}, devs: []}
    const s = buildMdStatus({mdstat: parseMdstat(md('66')).arrays[0], sysfs: sys})
    expect(s.progress).to.include({action: 'repair', percent: 10})
  })

  it('raid1 resync, raid10 and raid0', () => {
    const r1 = mdFrom('66', '68')
    expect(r1).to.deep.include({health: 'healthy', level: 'raid1', name: 'md1'})
    expect(r1.progress!.action).to.equal('resync')
    const r10 = mdFrom('71', '73', undefined, 1)
    expect(r10).to.deep.include({health: 'healthy', level: 'raid10', device: '/dev/md2'})
    const r0 = mdFrom('71', '74', undefined, 0)
    expect(r0).to.deep.include({health: 'healthy', level: 'raid0', device: '/dev/md3', expectedMembers: 1})
  })

  it('too many missing members: failed', () => {
    const text = md('22').replace('[4/3] [U_UU]', '[4/2] [U__U]').replace('vdc[2]', 'vdc[2](F)')
    const s = buildMdStatus({mdstat: parseMdstat(text).arrays[0]})
    expect(s.health).to.equal('failed')
    expect(s.action.join(' ')).to.match(/restore from backup/)
  })

  it('sysfs dev-*/state beats --detail --export, which prints the faulty member as a spare', () => {
    const exported = parseDetailExport(md('24'))
    expect(buildMdStatus({exported, kernelName: 'md0'}).members.find((m) => m.device === '/dev/vdb')!.role).to.equal('spare')
    const sysfs: MdSysfs = {
      degraded: 1,
      devs: [
        {name: 'vda', state: ['in_sync'], slot: 0},
        {name: 'vdb', state: ['faulty'], slot: undefined},
        {name: 'vdc', state: ['in_sync'], slot: 2},
        {name: 'vdd', state: ['in_sync'], slot: 3},
      ],
    }
    const s = buildMdStatus({exported, sysfs, kernelName: 'md0'})
    expect(s.members.find((m) => m.device === '/dev/vdb')).to.deep.include({role: 'faulty', state: 'faulty'})
    expect(s.health).to.equal('degraded')
  })

  it('mismatches after a check: status and a repair suggestion', () => {
    const s = mdFrom('48', '49', {syncAction: 'idle', mismatchCnt: 16, devs: []})
    expect(s.status.join(' ')).to.match(/found 16 mismatched sectors/)
    expect(s.action).to.include('Repair them: lifeboat raid scrub start fixture --repair (then check again).')
  })
})

describe('zpool-status style rendering', () => {
  it('degraded and rebuilding: state, status, action, scan with speed and ETA, member table', () => {
    const s = mdFrom('34', '35', parseSysfsDump(md('37')))
    const out = renderStatus(s)
    expect(out).to.match(/^ array: fixture \(md raid5, \/dev\/md0\)$/m)
    expect(out).to.match(/^ state: REBUILDING {2}\(clean, degraded, recovering\)$/m)
    expect(out).to.match(/^status: One or more devices are being rebuilt/m)
    expect(out).to.match(/^action: Wait for the rebuild/m)
    expect(out).to.match(/^ {2}scan: recovery in progress, 37\.5% done, 23\.6 MiB of 63\.0 MiB, 4\.75 MiB\/s, ETA 8s$/m)
    expect(out).to.match(/^\tDEVICE +ROLE +STATE +SLOT +SIZE +ERRORS +SERIAL$/m)
    expect(out).to.match(/^\t\/dev\/vdb +rebuilding +spare rebuilding +1 /m)
  })

  it('healthy with bitmap and mismatch count', () => {
    const s = mdFrom('13', '14', {...parseSysfsDump(md('19')), bitmapLocation: '+8'})
    const out = renderStatus(s)
    expect(out).to.match(/^ state: HEALTHY/m)
    expect(out).to.match(/^bitmap: internal$/m)
    expect(out).to.match(/^mismatches: 0$/m)
    expect(out).not.to.match(/^status:/m)
    expect(out).to.match(/^ {2}scan: none in progress$/m)
  })
})
