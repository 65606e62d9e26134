import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {assertUsable, type Disk, DiskRefusedError, eligible, guardDisks, listDisks, resolveDisk} from '../../src/raid/disks.js'
import {guardNewDevice, refuseSystemDisk} from '../../src/raid/cli-support.js'
import {buildFakeRoot, FakeRunner, piFixture} from './fake-root.js'

describe('raid disks: discovery and the in-use guard (fixture Pi with USB disks)', () => {
  let root: string
  let runner: FakeRunner
  let disks: Disk[]
  const get = (name: string) => disks.find((d) => d.name === name)!
  const codes = (name: string) => get(name).inUse.map((r) => r.code).sort()

  before(async () => {
    ;({root, runner} = piFixture())
    disks = guardDisks(await listDisks({runner, root}), {root})
  })
  after(() => fs.rmSync(root, {recursive: true, force: true}))

  it('finds every whole disk with size, model, serial, transport and /dev/disk/by-id links', () => {
    expect(disks.map((d) => d.name)).to.deep.equal(['mmcblk0', 'sda', 'sdb', 'sdc', 'sdd', 'sde', 'sdf', 'sdg', 'sdh'])
    const sda = get('sda')
    expect(sda.sizeBytes).to.equal(7_814_037_168 * 512) // sysfs size is in 512-byte sectors
    expect(sda.model).to.equal('WDC WD40EFRX-68N')
    expect(sda.serial).to.equal('WD-WCC7K1ABCDEF')
    expect(sda.transport).to.equal('usb')
    expect(sda.byId).to.deep.equal(['/dev/disk/by-id/usb-WDC_WD40_EFRX-68N32N0_WD-WCC7K1ABCDEF-0:0'])
    expect(sda.byPath).to.have.length(1)
    expect(sda.identity).to.equal('serial-WD-WCC7K1ABCDEF')
  })

  it('reads the USB bridge VID:PID and its driver from the device path in sysfs', () => {
    expect(get('sda').usbBridge).to.include({vendorId: '174c', productId: '55aa', driver: 'uas', port: '2-1', product: 'ASM1153E'})
    expect(get('sdb').usbBridge).to.include({vendorId: '0bc2', productId: 'ab38', driver: 'usb-storage'})
    expect(get('mmcblk0').usbBridge).to.equal(undefined)
    expect(get('mmcblk0').usb).to.equal(false)
  })

  it('falls back to sysfs when lsblk has nulls (no udev): serial from the SCSI VPD page', () => {
    // lsblk.json has "serial": null for sdg; the serial comes from device/vpd_pg80.
    expect(get('sdg').serial).to.equal('WD-WCC7K0PLAIN1')
  })

  it('takes signatures from blkid -p, including partitions lsblk did not know', () => {
    expect(get('sdb').fstype).to.equal('linux_raid_member')
    expect(get('sdh').fstype).to.equal('LVM2_member')
    expect(get('sdf').partitions.find((p) => p.name === 'sdf2')!.fstype).to.equal('ext4')
    expect(runner.calls).to.deep.include(['blkid', '-p', '-o', 'export', '/dev/sdf2'])
  })

  it('never the root disk nor the boot SD card, even with --force', () => {
    expect(codes('mmcblk0')).to.include.members(['ROOT_DISK', 'BOOT_SD', 'MOUNTED'])
    expect(get('mmcblk0').inUse.find((r) => r.code === 'ROOT_DISK')!.level).to.equal('never')
    expect(eligible(get('mmcblk0'), true)).to.equal(false)
    const err = (() => {
      try {
        assertUsable([get('mmcblk0')], true)
      } catch (error) {
        return error as DiskRefusedError
      }
    })()
    expect(err).to.be.instanceOf(DiskRefusedError)
    expect(err!.message).to.contain('/dev/mmcblk0 holds the root filesystem')
    expect(err!.hint).to.contain('never')
  })

  it('refuses mounted disks (a partition mounted, with an escaped space in mountinfo)', () => {
    expect(codes('sde')).to.deep.equal(['HAS_PARTITIONS', 'MOUNTED'])
    expect(get('sde').inUse.find((r) => r.code === 'MOUNTED')!.message).to.contain('/srv/old disk')
    expect(eligible(get('sde'), true)).to.equal(false)
  })

  it('refuses swap, holders (LVM in use) and duplicate serials even with --force', () => {
    expect(codes('sdf')).to.deep.equal(['HAS_PARTITIONS', 'SWAP'])
    expect(codes('sdh')).to.deep.equal(['HOLDERS', 'LVM_MEMBER'])
    expect(codes('sdc')).to.deep.equal(['DUPLICATE_SERIAL'])
    expect(codes('sdd')).to.deep.equal(['DUPLICATE_SERIAL'])
    expect(get('sdc').inUse[0].message).to.contain('/dev/sdd')
    for (const n of ['sdf', 'sdh', 'sdc', 'sdd']) expect(eligible(get(n), true), n).to.equal(false)
  })

  it('an old md member needs --force; an empty disk needs nothing', () => {
    expect(codes('sdb')).to.deep.equal(['MD_MEMBER'])
    expect(eligible(get('sdb'), false)).to.equal(false)
    expect(eligible(get('sdb'), true)).to.equal(true)
    expect(codes('sda')).to.deep.equal([])
    expect(codes('sdg')).to.deep.equal([])
    expect(() => assertUsable([get('sda'), get('sdb')], false)).to.throw(DiskRefusedError, /md RAID superblock/)
    const accepted = assertUsable([get('sda'), get('sdb')], true)
    expect(accepted.map((a) => a.device)).to.deep.equal(['/dev/sdb'])
  })

  it('resolves disks by name, path, by-id link and serial; refuses an ambiguous serial', () => {
    expect(resolveDisk(disks, 'sda', root).name).to.equal('sda')
    expect(resolveDisk(disks, '/dev/sdg', root).name).to.equal('sdg')
    expect(resolveDisk(disks, '/dev/disk/by-id/usb-Samsung_Portable_SSD_T5_S49WNP0N123456-0:0', root).name).to.equal('sdf')
    expect(resolveDisk(disks, 'ZGY0AAAA', root).name).to.equal('sdb')
    expect(() => resolveDisk(disks, '0123456789ABCDEF', root)).to.throw(/shared by \/dev\/sdc, \/dev\/sdd/)
    expect(() => resolveDisk(disks, '/dev/sde1', root)).to.throw(/partition of \/dev\/sde/)
    expect(() => resolveDisk(disks, '/dev/sdz', root)).to.throw(/no disk \/dev\/sdz/)
    expect(() => assertUsable([get('sda'), get('sda')], false)).to.throw(/listed twice/)
  })
})

describe('raid disks: root through device-mapper, btrfs members of a mounted filesystem', () => {
  it('finds the root disk under LVM (dm slaves) and a mounted btrfs member that is not the mount source', async () => {
    const root = buildFakeRoot({
      disks: [
        {name: 'nvme0n1', majMin: '259:0', sectors: 1_000_215_216, partitions: [{name: 'nvme0n1p1', majMin: '259:1', sectors: 1_000_000_000, holders: ['dm-0']}]},
        {name: 'loop3', majMin: '7:3', sectors: 2_097_152},
        {name: 'loop4', majMin: '7:4', sectors: 2_097_152},
        {name: 'loop5', majMin: '7:5', sectors: 0},
      ],
      classOnly: [{name: 'dm-0', majMin: '253:0', slaves: ['nvme0n1p1']}],
      mountinfo: ['1 0 253:0 / / rw - ext4 /dev/mapper/vg-root rw', '50 1 0:52 / /mnt/pool rw - btrfs /dev/loop3 rw'],
      btrfsMounted: {'6ea0969b-073d-40fd-bc88-b922861af6fa': ['loop3', 'loop4']},
    })
    try {
      const runner = new FakeRunner({'lsblk -J -b -O': {stdout: '{"blockdevices": []}'}, blkid: {stdout: 'TYPE=btrfs\nUUID=6ea0969b-073d-40fd-bc88-b922861af6fa\n'}})
      const disks = guardDisks(await listDisks({runner, root}), {root})
      // loop5 has size 0: a detached loop device is not a disk.
      expect(disks.map((d) => d.name)).to.deep.equal(['loop3', 'loop4', 'nvme0n1'])
      const nvme = disks.find((d) => d.name === 'nvme0n1')!
      expect(nvme.inUse.map((r) => r.code)).to.include.members(['ROOT_DISK', 'HOLDERS'])
      const loop3 = disks.find((d) => d.name === 'loop3')!
      const loop4 = disks.find((d) => d.name === 'loop4')!
      expect(loop3.inUse.map((r) => r.code)).to.deep.equal(['MOUNTED'])
      expect(loop4.inUse.map((r) => r.code)).to.deep.equal(['ACTIVE_MEMBER'])
      expect(eligible(loop4, true)).to.equal(false)
    } finally {
      fs.rmSync(root, {recursive: true, force: true})
    }
  })

  it('a disk blkid cannot read is blocked, not assumed empty', async () => {
    const root = buildFakeRoot({disks: [{name: 'sdx', majMin: '8:0', sectors: 1000}]})
    try {
      const runner = new FakeRunner({'lsblk -J -b -O': {stdout: '{"blockdevices": []}'}, blkid: {code: 2, stderr: 'blkid: error: /dev/sdx: Permission denied\n'}})
      const [d] = guardDisks(await listDisks({runner, root}), {root})
      expect(d.inUse.map((r) => r.code)).to.deep.equal(['UNREADABLE'])
      expect(eligible(d, true)).to.equal(false)
    } finally {
      fs.rmSync(root, {recursive: true, force: true})
    }
  })
})

describe('raid add/replace/spare add: the new device is never the root disk or the boot SD card (disks.ts rules)', () => {
  let root: string
  let runner: FakeRunner
  before(() => {
    ;({root, runner} = piFixture())
  })
  after(() => fs.rmSync(root, {recursive: true, force: true}))

  const refusal = async (device: string, env = {runner, root}) => refuseSystemDisk(device, env).then(() => undefined, (error: DiskRefusedError) => error)

  it('refuses the boot SD card and its partitions, accepts the USB disks', async () => {
    const card = await refusal('/dev/mmcblk0')
    expect(card).to.be.instanceOf(DiskRefusedError)
    expect(card!.code).to.equal('DISK_REFUSED')
    expect(card!.refusals[0].reasons.map((r) => r.code).sort()).to.deep.equal(['BOOT_SD', 'ROOT_DISK'])
    expect(card!.hint).to.contain('not even with --force')
    expect((await refusal('/dev/mmcblk0p2'))?.message).to.equal('refusing to use /dev/mmcblk0p2: it is a partition of the boot SD card /dev/mmcblk0')
    // A disk with an old RAID superblock is a --force matter for guardNewDevice, not a system disk.
    for (const d of ['/dev/sda', '/dev/sdb', '/dev/sdg']) expect(await refusal(d), d).to.equal(undefined)
  })

  it('refuses the root disk under LVM; an unused partition of it is left to the in-use checks', async () => {
    const lvm = buildFakeRoot({
      disks: [
        {name: 'nvme0n1', majMin: '259:0', sectors: 1_000_215_216, partitions: [{name: 'nvme0n1p1', majMin: '259:1', sectors: 900_000_000, holders: ['dm-0']}, {name: 'nvme0n1p2', majMin: '259:2', sectors: 100_000_000}]},
        {name: 'sdb', majMin: '8:16', sectors: 2_097_152},
      ],
      classOnly: [{name: 'dm-0', majMin: '253:0', slaves: ['nvme0n1p1']}],
      mountinfo: ['1 0 253:0 / / rw - ext4 /dev/mapper/vg-root rw'],
    })
    try {
      const r = new FakeRunner({'lsblk -J -b -O': {stdout: '{"blockdevices": []}'}})
      const err = await refusal('/dev/nvme0n1', {runner: r, root: lvm})
      expect(err?.refusals[0].reasons.map((x) => x.code)).to.deep.equal(['ROOT_DISK'])
      expect(err?.message).to.match(/^refusing to use \/dev\/nvme0n1: \/dev\/nvme0n1 holds the root filesystem/)
      expect(await refusal('/dev/nvme0n1p2', {runner: r, root: lvm})).to.equal(undefined)
      expect(await refusal('/dev/sdb', {runner: r, root: lvm})).to.equal(undefined)
    } finally {
      fs.rmSync(lvm, {recursive: true, force: true})
    }
  })

  it('guardNewDevice (what raid add/replace/spare add/grow call) refuses the boot SD card even with --force', async function () {
    // A real block device node named like the card (mknod needs root); everything else comes from the fixture.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lb-guard-'))
    try {
      try {
        execFileSync('mknod', [path.join(dir, 'mmcblk0'), 'b', '7', '0'], {stdio: 'ignore'})
      } catch {
        this.skip()
      }
      const err = await guardNewDevice(path.join(dir, 'mmcblk0'), {force: true, env: {root}, runner}).catch((error) => error)
      expect(err).to.be.instanceOf(DiskRefusedError)
      expect(err.message).to.contain('is the boot SD card')
      expect(runner.calls.some((c) => c[0] === 'wipefs')).to.equal(false)
    } finally {
      fs.rmSync(dir, {recursive: true, force: true})
    }
  })
})
