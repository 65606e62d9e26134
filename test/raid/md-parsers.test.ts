import {expect} from 'chai'
import fs from 'node:fs'
import path from 'node:path'

import {parseDetail, parseDetailExport, parseExamine} from '../../src/raid/md/detail.js'
import {parseMdstat} from '../../src/raid/md/mdstat.js'
import {buildMdStatus} from '../../src/raid/md/status.js'
import {parseSysfsDump, readMdSysfs} from '../../src/raid/md/sysfs.js'
import {tempDir} from '../helpers/env.js'
import {FIXTURES, md} from './fixtures.js'

const one = (text: string) => parseMdstat(text).arrays[0]

describe('md parsers on captured mdadm 4.2 / kernel 6.1 output', () => {
  describe('/proc/mdstat', () => {
    it('clean raid5: members, size, map', () => {
      const s = parseMdstat(md('13'))
      expect(s.personalities).to.deep.equal(['raid0', 'raid1', 'raid10', 'raid6', 'raid5', 'raid4'])
      const a = s.arrays[0]
      expect(a).to.include({name: 'md0', active: true, level: 'raid5', blocksKiB: 193536, superVersion: '1.2', chunkKiB: 64, raidDisks: 4, workingDisks: 4, map: 'UUUU'})
      expect(a.members.map((m) => m.name)).to.deep.equal(['vdd', 'vdc', 'vdb', 'vda'])
      expect(a.progress).to.equal(undefined)
    })

    it('failed member (F) and a down slot', () => {
      const a = one(md('22'))
      expect(a.members.find((m) => m.name === 'vdb')!.flags).to.deep.equal(['F'])
      expect(a).to.include({workingDisks: 3, map: 'U_UU'})
    })

    it('hot spare (S)', () => {
      expect(one(md('43')).members.find((m) => m.name === 'vde')!.flags).to.deep.equal(['S'])
    })

    it('recovery progress with finish= and speed=', () => {
      expect(one(md('34')).progress).to.deep.equal({action: 'recovery', percent: 30.7, doneKiB: 20224, totalKiB: 64512, finishMinutes: 0.1, speedKiBps: 5056})
    })

    it('check, reshape and resync progress lines', () => {
      expect(one(md('51')).progress).to.include({action: 'check', percent: 12.5})
      expect(one(md('57')).progress).to.include({action: 'reshape', percent: 16.5, speedKiBps: 5406})
      expect(one(md('66')).progress).to.include({action: 'resync', percent: 6.2})
    })

    it('several arrays: raid0 with "512k chunks", raid10 near-copies, raid1', () => {
      const s = parseMdstat(md('71'))
      expect(s.arrays.map((a) => [a.name, a.level, a.raidDisks])).to.deep.equal([
        ['md3', 'raid0', undefined],
        ['md2', 'raid10', 2],
        ['md1', 'raid1', 2],
      ])
      expect(s.arrays[0].chunkKiB).to.equal(512)
    })

    it('tolerates unknown flags, (W)(J)(R), DELAYED/PENDING, auto-read-only, inactive arrays and bitmap lines', () => {
      const text = [
        'Personalities : [raid1] [raid6] [raid5] [raid4] [linear]',
        'md1 : active (auto-read-only) raid1 sdb1[1](W) sda1[0]',
        '      1048512 blocks super 1.2 [2/2] [UU]',
        '        resync=PENDING',
        '      bitmap: 0/1 pages [0KB], 65536KB chunk',
        '',
        'md2 : active raid5 sdf[4](R) sde[3](J) sdd[2](X)(F) sdc[1] sdb[0]',
        '      2095104 blocks super 1.2 level 5, 512k chunk, algorithm 2 [3/3] [UUU]',
        '        resync=DELAYED',
        '      some vendor line we do not know',
        '',
        'md127 : inactive sdg[0](S)',
        '      976630488 blocks super 1.2',
        '',
        'unused devices: <none>',
      ].join('\n')
      const [a, b, c] = parseMdstat(text).arrays
      expect(a).to.include({readOnly: 'auto-read-only', level: 'raid1', bitmap: '0/1 pages [0KB], 65536KB chunk'})
      expect(a.pending).to.deep.equal({action: 'resync', note: 'PENDING'})
      expect(a.members[0].flags).to.deep.equal(['W'])
      expect(b.members.map((m) => m.flags)).to.deep.equal([['R'], ['J'], ['X', 'F'], [], []])
      expect(b.pending!.note).to.equal('DELAYED')
      expect(b.unparsed).to.deep.equal(['some vendor line we do not know'])
      expect(c).to.include({name: 'md127', active: false})
      expect(c.level).to.equal(undefined)
      expect(c.members).to.deep.equal([{name: 'sdg', number: 0, flags: ['S']}])
      const st = buildMdStatus({mdstat: a})
      expect(st.progress).to.deep.include({action: 'resync', note: 'PENDING'})
      expect(st.state).to.contain('auto-read-only')
      expect(buildMdStatus({mdstat: c}).health).to.equal('inactive')
      expect(buildMdStatus({mdstat: b}).members.find((m) => m.device === '/dev/sdd')!.role).to.equal('faulty')
    })

    it('raid10 over 4 disks prints "512K chunks 2 near-copies"', () => {
      const a = one('md2 : active raid10 sdd[3] sdc[2] sdb[1] sda[0]\n      1953260544 blocks super 1.2 512K chunks 2 near-copies [4/4] [UUUU]\n')
      expect(a).to.include({chunkKiB: 512, raidDisks: 4, map: 'UUUU'})
    })

    it('an empty mdstat has no arrays', () => {
      expect(parseMdstat(md('05')).arrays).to.deep.equal([])
    })
  })

  describe('mdadm --detail', () => {
    it('clean', () => {
      const d = parseDetail(md('14'))
      expect(d).to.include({device: '/dev/md0', level: 'raid5', state: 'clean', arraySizeKiB: 193536, usedDevSizeKiB: 64512, raidDevices: 4, name: 'fixture', uuid: '04566bd9:b73c2390:35848b5c:b9d4ae0a'})
      expect(d.devices.map((x) => [x.slot, x.state.join(' '), x.device])).to.deep.equal([
        [0, 'active sync', '/dev/vda'],
        [1, 'active sync', '/dev/vdb'],
        [2, 'active sync', '/dev/vdc'],
        [3, 'active sync', '/dev/vdd'],
      ])
    })

    it('failed: removed slot row and the faulty member outside the array', () => {
      const d = parseDetail(md('23'))
      expect(d.stateWords).to.deep.equal(['clean', 'degraded'])
      expect(d.failedDevices).to.equal(1)
      expect(d.devices[1]).to.deep.include({number: undefined, slot: 1, state: ['removed'], device: undefined})
      expect(d.devices[4]).to.deep.include({number: 1, slot: undefined, state: ['faulty'], device: '/dev/vdb'})
    })

    it('recovering, checking, reshaping, resyncing', () => {
      expect(parseDetail(md('35'))).to.deep.include({stateWords: ['clean', 'degraded', 'recovering'], statusPercent: {kind: 'rebuild', percent: 37}})
      expect(parseDetail(md('35')).devices[1].state).to.deep.equal(['spare', 'rebuilding'])
      expect(parseDetail(md('52')).statusPercent).to.deep.equal({kind: 'check', percent: 18})
      expect(parseDetail(md('58')).statusPercent).to.deep.equal({kind: 'reshape', percent: 19})
      expect(parseDetail(md('68')).statusPercent).to.deep.equal({kind: 'resync', percent: 18})
    })

    it('raid10 set-A/set-B and raid0', () => {
      expect(parseDetail(md('73')).devices.map((x) => x.state)).to.deep.equal([
        ['active', 'sync', 'set-A'],
        ['active', 'sync', 'set-B'],
      ])
      expect(parseDetail(md('74'))).to.include({level: 'raid0', chunk: '512K', name: '3'})
    })
  })

  describe('mdadm --detail --export', () => {
    it('reads members and roles', () => {
      const e = parseDetailExport(md('15'))
      expect(e).to.include({level: 'raid5', devices: 4, name: 'fixture'})
      expect(e.members).to.deep.include({device: '/dev/vdb', role: '1'})
    })

    it('prints a faulty member as a spare (why sysfs wins)', () => {
      const e = parseDetailExport(md('24'))
      expect(e.members).to.deep.include({device: '/dev/vdb', role: 'spare'})
    })
  })

  describe('mdadm --examine', () => {
    it('1.2 superblock: role, slot, array state', () => {
      const [e] = parseExamine(md('17'))
      expect(e).to.include({device: '/dev/vda', version: '1.2', arrayUuid: '04566bd9:b73c2390:35848b5c:b9d4ae0a', name: 'fixture', level: 'raid5', raidDevices: 4, role: 'active', slot: 0, arrayState: 'AAAA', events: 18})
    })

    it('0.90 superblock from the examine log: UUID and the "this" row', () => {
      const log = fs.readFileSync(path.join(FIXTURES, 'md', 'md-examine.log'), 'utf8')
      const block = log.split('$ mdadm --examine /dev/loop5\n')[1].split('[rc=')[0]
      const [e] = parseExamine(block)
      expect(e).to.include({device: '/dev/loop5', version: '0.90.00', arrayUuid: '37c76b91:011a05c5:d30c1fd4:c5c3dbbc', level: 'raid1', raidDevices: 2, slot: 0, role: 'active sync'})
    })
  })

  describe('sysfs', () => {
    it('captured dumps: recovering sync_completed and speed, mismatch_cnt after check', () => {
      const r = parseSysfsDump(md('37'))
      expect(r).to.deep.include({syncAction: 'recover', syncCompleted: {done: 48432, total: 129024}, syncSpeedKiBps: 4864, degraded: 1})
      expect(parseSysfsDump(md('53'))).to.deep.include({syncAction: 'idle', mismatchCnt: 0, lastSyncAction: 'check'})
    })

    it('reads a /sys/block/mdX/md tree with dev-*/state', () => {
      const root = tempDir()
      try {
        const dir = path.join(root, 'sys', 'block', 'md0', 'md')
        const put = (rel: string, v: string) => {
          fs.mkdirSync(path.dirname(path.join(dir, rel)), {recursive: true})
          fs.writeFileSync(path.join(dir, rel), `${v}\n`)
        }
        put('array_state', 'clean')
        put('sync_action', 'idle')
        put('degraded', '1')
        put('mismatch_cnt', '8')
        put('component_size', '64512')
        put('dev-vdb/state', 'faulty')
        put('dev-vdb/slot', 'none')
        put('dev-vda/state', 'in_sync,write_mostly')
        put('dev-vda/slot', '0')
        put('dev-vda/errors', '3')
        const s = readMdSysfs(root, 'md0')!
        expect(s).to.deep.include({arrayState: 'clean', degraded: 1, mismatchCnt: 8, componentSizeKiB: 64512})
        expect(s.devs).to.deep.equal([
          {name: 'vda', state: ['in_sync', 'write_mostly'], slot: 0, errors: 3, sizeKiB: undefined, offsetSectors: undefined},
          {name: 'vdb', state: ['faulty'], slot: undefined, errors: undefined, sizeKiB: undefined, offsetSectors: undefined},
        ])
        expect(readMdSysfs(root, 'md9')).to.equal(undefined)
      } finally {
        fs.rmSync(root, {recursive: true, force: true})
      }
    })
  })
})
