import {expect} from 'chai'

import {
  parseBalanceStatus,
  parseDeviceStatsJson,
  parseDeviceStatsTable,
  parseDeviceStatsText,
  parseFilesystemShow,
  parseReplaceStatus,
  parseScrubStatus,
  parseUsage,
} from '../../src/raid/btrfs/parse.js'
import {buildBtrfsStatus} from '../../src/raid/btrfs/status.js'
import {renderStatus} from '../../src/raid/status-view.js'
import {btrfsBlock} from './fixtures.js'

const GiB = 1024 ** 3

describe('btrfs parsers on captured btrfs-progs 6.2 output', () => {
  describe('filesystem show', () => {
    it('healthy raid1 with 3 devices (human sizes)', () => {
      const [fs] = parseFilesystemShow(btrfsBlock('lab.log', 'btrfs filesystem show mnt'))
      expect(fs).to.deep.include({label: 'labr1', uuid: '62c4c51e-eaa9-4d4c-89b2-fb260e67ac24', totalDevices: 3, someMissing: false})
      expect(fs.devices.map((d) => [d.devid, d.path, d.sizeBytes])).to.deep.equal([
        [1, '/dev/loop0', GiB],
        [2, '/dev/loop1', GiB],
        [3, '/dev/loop2', GiB],
      ])
    })

    it('unmounted with a device gone: "*** Some devices missing"', () => {
      const [fs] = parseFilesystemShow(btrfsBlock('lab2.log', 'btrfs filesystem show', 0))
      expect(fs).to.deep.include({label: 'labE', totalDevices: 3, someMissing: true})
      expect(fs.devices).to.have.length(2)
    })

    it('mounted degraded: "devid 3 size 0 used 0 path  MISSING"', () => {
      const [fs] = parseFilesystemShow(btrfsBlock('lab2.log', 'btrfs filesystem show mnt', 0))
      expect(fs.devices[2]).to.deep.equal({devid: 3, sizeBytes: 0, usedBytes: 0, path: undefined, missing: true})
    })

    it('--raw sizes and the replace target as devid 0', () => {
      const [raw] = parseFilesystemShow(btrfsBlock('lab3.log', 'btrfs filesystem show --raw mnt'))
      expect(raw.devices[0]).to.deep.include({devid: 1, sizeBytes: 1073741824, usedBytes: 1072693248, path: '/dev/loop0'})
      const [during] = parseFilesystemShow(btrfsBlock('lab6.log', 'btrfs filesystem show mnt', 0))
      expect(during.devices.map((d) => d.devid)).to.deep.equal([0, 1, 2])
    })
  })

  describe('filesystem usage -b', () => {
    it('overall numbers, profiles and per-device allocation', () => {
      const u = parseUsage(btrfsBlock('lab.log', 'btrfs filesystem usage -b mnt'))
      expect(u).to.deep.include({deviceSize: 3221225472, deviceMissing: 0, used: 630095872, dataRatio: 2, metadataRatio: 2, multipleProfiles: false})
      expect(u.groups.map((g) => `${g.type},${g.profile}`)).to.deep.equal(['Data,RAID1', 'Metadata,RAID1', 'System,RAID1'])
      expect(u.groups[0].devices).to.deep.equal({'/dev/loop0': 335544320, '/dev/loop1': 496566272, '/dev/loop2': 161021952})
      expect(u.unallocated['/dev/loop2']).to.equal(635895808)
    })

    it('degraded: Device missing and "missing" rows', () => {
      const u = parseUsage(btrfsBlock('lab2.log', 'btrfs filesystem usage -b mnt', 1))
      expect(u.deviceMissing).to.equal(1073741824)
      expect(u.groups[0].devices.missing).to.equal(161021952)
    })

    it('raid5 data with raid1c3 metadata after a balance convert', () => {
      const u = parseUsage(btrfsBlock('lab2.log', 'btrfs filesystem usage -b mnt', 3))
      expect(u.groups.map((g) => g.profile)).to.deep.equal(['RAID5', 'RAID1C3', 'RAID1C3'])
      expect(u.dataRatio).to.equal(1.33)
    })
  })

  describe('device stats', () => {
    it('JSON form', () => {
      const s = parseDeviceStatsJson(btrfsBlock('lab.log', 'btrfs --format json device stats mnt'))
      expect(s).to.have.length(3)
      expect(s[0]).to.deep.equal({device: '/dev/loop0', devid: 1, write: 0, read: 0, flush: 0, corruption: 0, generation: 0})
    })

    it('plain form with corruption errors and a missing device as [devid:3]', () => {
      const withErrors = parseDeviceStatsText(btrfsBlock('lab2.log', 'btrfs device stats mnt', 0))
      expect(withErrors.find((x) => x.device === '/dev/loop1')!.corruption).to.equal(16384)
      const degraded = parseDeviceStatsText(btrfsBlock('lab2.log', 'btrfs device stats mnt', 1))
      expect(degraded[2]).to.deep.include({device: 'devid:3', devid: 3})
    })

    it('table form (-T)', () => {
      const t = parseDeviceStatsTable(btrfsBlock('lab2.log', 'btrfs device stats -T mnt'))
      expect(t[1]).to.deep.equal({devid: 2, device: '/dev/loop1', write: 0, read: 0, flush: 0, corruption: 16384, generation: 0})
    })
  })

  describe('scrub status', () => {
    it('finished without errors', () => {
      const s = parseScrubStatus(btrfsBlock('lab.log', 'btrfs scrub status mnt'))
      expect(s).to.deep.include({uuid: '62c4c51e-eaa9-4d4c-89b2-fb260e67ac24', status: 'finished', durationSeconds: 0, noErrors: true})
    })

    it('finished with corrected checksum errors', () => {
      const s = parseScrubStatus(btrfsBlock('lab2.log', 'btrfs scrub status mnt'))
      expect(s).to.deep.include({noErrors: false, corrected: 16384, uncorrectable: 0, unverified: 0})
      expect(s.errors).to.deep.equal({csum: 16384})
    })

    it('running with time left, bytes scrubbed and rate', () => {
      const s = parseScrubStatus(btrfsBlock('lab3.log', 'btrfs scrub status mnt', 0))
      expect(s).to.deep.include({status: 'running', durationSeconds: 5, timeLeftSeconds: 31, percent: 13.75})
      expect(s.scrubbedBytes).to.equal(Math.round(192.75 * 1024 ** 2))
      expect(s.rateBytesPerSec).to.equal(Math.round(38.55 * 1024 ** 2))
    })

    it('aborted after a cancel', () => {
      expect(parseScrubStatus(btrfsBlock('lab3.log', 'btrfs scrub status mnt', 1)).status).to.equal('aborted')
    })
  })

  describe('replace status -1', () => {
    it('never started, running, finished, canceled', () => {
      expect(parseReplaceStatus(btrfsBlock('lab3.log', 'btrfs replace status -1 mnt', 0)).state).to.equal('never')
      expect(parseReplaceStatus(btrfsBlock('lab6.log', 'btrfs replace status -1 mnt', 0))).to.deep.include({state: 'running', percent: 6.4, writeErrors: 0, uncorrectableReadErrors: 0})
      expect(parseReplaceStatus(btrfsBlock('lab6.log', 'btrfs replace status -1 mnt', 2))).to.deep.include({state: 'finished', percent: 100})
      expect(parseReplaceStatus(btrfsBlock('lab4.log', 'btrfs replace status -1 mnt', 0))).to.deep.include({state: 'canceled', percent: 0})
    })
  })

  it('balance status', () => {
    expect(parseBalanceStatus(btrfsBlock('lab2.log', 'btrfs balance status mnt')).running).to.equal(false)
    expect(parseBalanceStatus("Balance on '/mnt' is running\n2 out of about 5 chunks balanced (3 considered),  60% left").percentLeft).to.equal(60)
  })
})

describe('btrfs array status from captured outputs', () => {
  const healthy = () =>
    buildBtrfsStatus({
      show: parseFilesystemShow(btrfsBlock('lab.log', 'btrfs filesystem show mnt'))[0],
      mountpoint: '/mnt/data',
      usage: parseUsage(btrfsBlock('lab.log', 'btrfs filesystem usage -b mnt')),
      stats: parseDeviceStatsJson(btrfsBlock('lab.log', 'btrfs --format json device stats mnt')),
      scrub: parseScrubStatus(btrfsBlock('lab.log', 'btrfs scrub status mnt')),
      replace: {state: 'never', raw: 'Never started'},
    })

  it('healthy raid1: profile as level, usable size, members with error counters', () => {
    const s = healthy()
    expect(s).to.deep.include({engine: 'btrfs', name: 'labr1', level: 'RAID1', health: 'healthy', mountpoint: '/mnt/data', expectedMembers: 3, sizeBytes: 1610612736})
    expect(s.state).to.equal('mounted, 3 devices, data RAID1, metadata RAID1, last scrub finished')
    expect(s.members[1]).to.deep.include({device: '/dev/loop1', role: 'active', slot: 2, errors: {read: 0, write: 0, flush: 0, corruption: 0, generation: 0}})
    expect(s.status).to.deep.equal([])
  })

  it('mounted degraded: missing devid, degraded, replace by devid suggested', () => {
    const s = buildBtrfsStatus({
      show: parseFilesystemShow(btrfsBlock('lab2.log', 'btrfs filesystem show mnt', 0))[0],
      mountpoint: '/mnt/data',
      usage: parseUsage(btrfsBlock('lab2.log', 'btrfs filesystem usage -b mnt', 1)),
      stats: parseDeviceStatsText(btrfsBlock('lab2.log', 'btrfs device stats mnt', 1)),
    })
    expect(s.health).to.equal('degraded')
    expect(s.members[2]).to.deep.include({device: 'missing', role: 'missing', slot: 3})
    expect(s.action[0]).to.equal('Replace the failed disk: lifeboat raid replace labE 3 NEW-DEVICE --wait')
    // loop1 still carries the corruption count from the earlier damage
    expect(s.status.join(' ')).to.match(/\/dev\/loop1 \(16384 errors\)/)
  })

  it('unmounted with a device gone: degraded, told to mount degraded', () => {
    const s = buildBtrfsStatus({show: parseFilesystemShow(btrfsBlock('lab2.log', 'btrfs filesystem show', 0))[0]})
    expect(s.health).to.equal('degraded')
    expect(s.members.filter((m) => m.role === 'missing')).to.have.length(1)
    expect(s.action.join(' ')).to.match(/mount -o degraded \/dev\/loop0/)
  })

  it('raid5 missing one of three: degraded; raid1 missing two of three: failed', () => {
    const show = parseFilesystemShow(btrfsBlock('lab2.log', 'btrfs filesystem show mnt', 3))[0]
    const usage = parseUsage(btrfsBlock('lab2.log', 'btrfs filesystem usage -b mnt', 4))
    expect(buildBtrfsStatus({show, usage, mountpoint: '/m'}).health).to.equal('degraded')
    const twoGone = {...show, devices: show.devices.map((d) => (d.devid === 1 ? {...d, path: undefined, missing: true} : d))}
    expect(buildBtrfsStatus({show: twoGone, usage, mountpoint: '/m'}).health).to.equal('failed')
  })

  it('a running replace: the target shows as replacement and progress as replace', () => {
    const s = buildBtrfsStatus({
      show: parseFilesystemShow(btrfsBlock('lab6.log', 'btrfs filesystem show mnt', 0))[0],
      mountpoint: '/m',
      replace: parseReplaceStatus(btrfsBlock('lab6.log', 'btrfs replace status -1 mnt', 0)),
    })
    expect(s.members[0]).to.deep.include({device: '/dev/loop7', role: 'replacement', slot: 0})
    expect(s.expectedMembers).to.equal(2)
    expect(s.members.filter((m) => m.role === 'missing')).to.have.length(0)
    expect(s.progress).to.deep.equal({action: 'replace', percent: 6.4})
  })

  it('a running scrub: progress with bytes, rate and time left; rendered with ETA', () => {
    const s = buildBtrfsStatus({
      show: parseFilesystemShow(btrfsBlock('lab3.log', 'btrfs filesystem show --raw mnt'))[0],
      mountpoint: '/m',
      scrub: parseScrubStatus(btrfsBlock('lab3.log', 'btrfs scrub status mnt', 0)),
    })
    expect(s.progress).to.deep.include({action: 'scrub', percent: 13.75, etaSeconds: 31})
    expect(renderStatus(s)).to.match(/scan: scrub in progress, 13\.8% done, 193 MiB of 1\.37 GiB, 38\.6 MiB\/s, ETA 31s/)
  })

  it('single chunks left by a degraded mount count as degraded until converted back', () => {
    const usage = parseUsage(btrfsBlock('lab.log', 'btrfs filesystem usage -b mnt'))
    usage.groups.push({type: 'Data', profile: 'single', size: 1, used: 1, devices: {}})
    usage.multipleProfiles = true
    const s = buildBtrfsStatus({show: parseFilesystemShow(btrfsBlock('lab.log', 'btrfs filesystem show mnt'))[0], mountpoint: '/m', usage})
    expect(s.health).to.equal('degraded')
    expect(s.action.join(' ')).to.match(/btrfs balance start -dconvert=raid1,soft -mconvert=raid1,soft \/m/)
  })
})
