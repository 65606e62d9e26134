import {expect} from 'chai'
import fs from 'node:fs'
import path from 'node:path'

import type {ArrayStatus} from '../../src/raid/engine.js'
import {mergeFstab, mergeMdadmConf, persistArray} from '../../src/raid/persist.js'
import {envelope, lifeboat} from '../helpers/cli.js'
import {ROOT, tempDir} from '../helpers/env.js'
import {FakeRunner, FIXTURES} from './fake-root.js'

const brief = fs.readFileSync(path.join(FIXTURES, 'md', '16-detail-scan.txt'), 'utf8') // captured `mdadm --detail --scan` (the same ARRAY line as --detail --brief)
const multi = fs.readFileSync(path.join(FIXTURES, 'md', '76-detail-scan-multi.txt'), 'utf8')

const md0: ArrayStatus = {
  engine: 'md',
  name: 'fixture',
  device: '/dev/md0',
  uuid: '04566bd9:b73c2390:35848b5c:b9d4ae0a',
  level: 'raid5',
  health: 'healthy',
  state: 'clean',
  members: [],
  status: [],
  action: [],
}

const DEBIAN_CONF = `# mdadm.conf
#
# !NB! Run update-initramfs -u after updating this file.
DEVICE partitions
HOMEHOST <system>
MAILADDR root
`

describe('raid persist: mdadm.conf and fstab', () => {
  let root: string
  beforeEach(() => {
    root = tempDir('lifeboat-persist-')
  })
  afterEach(() => fs.rmSync(root, {recursive: true, force: true}))

  const runner = () =>
    new FakeRunner({
      'mdadm --detail --brief /dev/md0': {stdout: brief},
      'blkid -p -o export /dev/md0': {stdout: 'DEVNAME=/dev/md0\nUUID=2f1e0d9c-8b7a-4c6d-9e5f-0a1b2c3d4e5f\nBLOCK_SIZE=4096\nTYPE=ext4\nUSAGE=filesystem\n'},
    })

  it('adds the ARRAY line by UUID, keeps the old file as .bak, and a second run changes nothing', async () => {
    const conf = path.join(root, 'etc/mdadm/mdadm.conf')
    fs.mkdirSync(path.dirname(conf), {recursive: true})
    fs.writeFileSync(conf, DEBIAN_CONF)
    const r1 = await persistArray({array: md0, runner: runner(), root, mountpoint: '/srv/data'})
    expect(r1.mdadmConf!.action).to.equal('added')
    expect(r1.mdadmConf!.backup).to.equal(`${conf}.bak`)
    expect(fs.readFileSync(`${conf}.bak`, 'utf8')).to.equal(DEBIAN_CONF)
    const text = fs.readFileSync(conf, 'utf8')
    expect(text).to.equal(DEBIAN_CONF + 'ARRAY /dev/md0 metadata=1.2 name=(none):fixture UUID=04566bd9:b73c2390:35848b5c:b9d4ae0a\n')
    // Not the real root: the initramfs is left alone.
    expect(r1.initramfs).to.deep.equal({ran: false, reason: '--root is not /'})
    const fstab = fs.readFileSync(path.join(root, 'etc/fstab'), 'utf8')
    expect(fstab).to.equal('UUID=2f1e0d9c-8b7a-4c6d-9e5f-0a1b2c3d4e5f /srv/data ext4 defaults,nofail,x-systemd.device-timeout=30s 0 2\n')

    const r2 = await persistArray({array: md0, runner: runner(), root, mountpoint: '/srv/data'})
    expect(r2.mdadmConf!.action).to.equal('unchanged')
    expect(r2.fstab!.action).to.equal('unchanged')
    expect(r2.mdadmConf!.backup).to.equal(undefined)
    expect(fs.readFileSync(conf, 'utf8')).to.equal(text)
    expect(fs.readFileSync(path.join(root, 'etc/fstab'), 'utf8')).to.equal(fstab)
    expect(fs.readFileSync(`${conf}.bak`, 'utf8')).to.equal(DEBIAN_CONF)
  })

  it('replaces a stale line for the same UUID and leaves other arrays alone', () => {
    const before = `${DEBIAN_CONF}ARRAY /dev/md/old metadata=1.2 name=pi:old UUID=04566BD9:B73C2390:35848B5C:B9D4AE0A\n${multi.split('\n')[1]}\n`
    const r = mergeMdadmConf(before, [brief.trim()])
    expect(r.action).to.equal('replaced')
    const lines = r.text.trim().split('\n')
    expect(lines.filter((l) => l.startsWith('ARRAY'))).to.deep.equal([brief.trim(), multi.split('\n')[1]])
    expect(r.text.startsWith(DEBIAN_CONF)).to.equal(true)
    // Several arrays at once (mdadm --detail --scan), merged twice: no duplicates.
    const all = multi.trim().split('\n')
    const once = mergeMdadmConf(DEBIAN_CONF, all)
    const twice = mergeMdadmConf(once.text, all)
    expect(twice.action).to.equal('unchanged')
    expect(twice.text.split('\n').filter((l) => l.startsWith('ARRAY'))).to.have.length(3)
  })

  it('fstab: never a duplicate; a different mount for the same UUID or mount point is reported, not overwritten', () => {
    const entry = {spec: 'UUID=abc', mountpoint: '/srv/data', fstype: 'ext4', options: 'defaults,nofail', pass: 2}
    const base = '# /etc/fstab\nPARTUUID=1234-02 / ext4 defaults,noatime 0 1\n'
    const a = mergeFstab(base, entry)
    expect(a.action).to.equal('added')
    expect(mergeFstab(a.text, entry).action).to.equal('unchanged')
    const elsewhere = mergeFstab(base + 'UUID=abc /mnt/x ext4 defaults 0 2\n', entry)
    expect(elsewhere.action).to.equal('unchanged')
    expect(elsewhere.conflict).to.contain('/mnt/x')
    const taken = mergeFstab(base + 'UUID=other /srv/data ext4 defaults 0 2\n', entry)
    expect(taken.conflict).to.contain('something else (UUID=other)')
    // A commented-out line does not count.
    expect(mergeFstab(base + '#UUID=abc /srv/data ext4 defaults 0 2\n', entry).action).to.equal('added')
  })

  it('an array without a filesystem gets mdadm.conf but no fstab line, and says what to do', async () => {
    const r = await persistArray({
      array: md0,
      runner: new FakeRunner({'mdadm --detail --brief /dev/md0': {stdout: brief}, 'blkid -p -o export /dev/md0': {code: 2}}),
      root,
      mountpoint: '/srv/data',
    })
    expect(r.mdadmConf!.action).to.equal('added')
    expect(r.fstab).to.equal(undefined)
    expect(r.notes.join()).to.contain('no filesystem on /dev/md0')
    expect(fs.existsSync(path.join(root, 'etc/fstab'))).to.equal(false)
    // No mdadm.conf existed: nothing to back up.
    expect(r.mdadmConf!.backup).to.equal(undefined)
  })

  it('nested arrays: the ARRAY lines of the inner arrays come first', async () => {
    const lines = multi.trim().split('\n') // md1, md2, md3 as captured
    const nested: ArrayStatus = {...md0, name: 'n10', device: '/dev/md3', children: [{...md0, device: '/dev/md1'}, {...md0, device: '/dev/md2'}]}
    const r = await persistArray({
      array: nested,
      runner: new FakeRunner({
        'mdadm --detail --brief /dev/md1': {stdout: lines[0] + '\n'},
        'mdadm --detail --brief /dev/md2': {stdout: lines[1] + '\n'},
        'mdadm --detail --brief /dev/md3': {stdout: lines[2] + '\n'},
      }),
      root,
    })
    expect(r.mdadmConf!.lines).to.deep.equal(lines)
    expect(fs.readFileSync(path.join(root, 'etc/mdadm/mdadm.conf'), 'utf8')).to.equal(lines.join('\n') + '\n')
  })

  it('--dry-run writes nothing', async () => {
    const r = await persistArray({array: md0, runner: runner(), root, mountpoint: '/srv/data', dryRun: true})
    expect(r.mdadmConf!.action).to.equal('added')
    expect(r.fstab!.action).to.equal('added')
    expect(fs.existsSync(path.join(root, 'etc'))).to.equal(false)
  })

  it('btrfs: fstab by filesystem UUID with nofail, optional device= hints, pass 0; no mdadm.conf', async () => {
    const fsUuid = '6ea0969b-073d-40fd-bc88-b922861af6fa'
    const pool: ArrayStatus = {
      engine: 'btrfs',
      name: 'pool',
      device: '/dev/sda',
      uuid: fsUuid,
      level: 'RAID1',
      health: 'healthy',
      state: 'mounted',
      members: [
        {device: '/dev/sda', role: 'active', state: 'present', byId: '/dev/disk/by-id/usb-WD_A-0:0'},
        {device: '/dev/sdb', role: 'active', state: 'present'},
      ],
      status: [],
      action: [],
    }
    const r = await persistArray({
      array: pool,
      runner: new FakeRunner({'blkid -p -o export /dev/sda': {stdout: `UUID=${fsUuid}\nTYPE=btrfs\n`}}),
      root,
      mountpoint: '/srv/pool',
      deviceHints: true,
    })
    expect(r.mdadmConf).to.equal(undefined)
    expect(fs.readFileSync(path.join(root, 'etc/fstab'), 'utf8')).to.equal(
      `UUID=${fsUuid} /srv/pool btrfs defaults,nofail,x-systemd.device-timeout=30s,device=/dev/disk/by-id/usb-WD_A-0:0,device=/dev/sdb 0 0\n`,
    )
  })

  it('refuses a relative mount point', async () => {
    const err = await persistArray({array: md0, runner: runner(), root, mountpoint: 'srv/data'}).catch((error) => error)
    expect(err.exitCode).to.equal(2)
    expect(err.where).to.equal('--mountpoint')
  })
})

describe('raid persist: command on md (fake /proc and /sys, fake mdadm and blkid on PATH)', function () {
  this.timeout(60_000)
  it('writes the ARRAY line and the fstab entry under --root, idempotently', async function () {
    if (!fs.existsSync(path.join(ROOT, 'dist', 'commands', 'raid', 'persist.js'))) this.skip()
    const dir = tempDir('lifeboat-persist-cli-')
    try {
      const put = (rel: string, v: string) => {
        fs.mkdirSync(path.dirname(path.join(dir, rel)), {recursive: true})
        fs.writeFileSync(path.join(dir, rel), v)
      }
      const md = (name: string) => fs.readFileSync(path.join(FIXTURES, 'md', name), 'utf8')
      // The kernel side: the captured clean RAID5 (mdstat + sysfs).
      put('kroot/proc/mdstat', md('13-mdstat-clean.txt'))
      for (const [k, v] of Object.entries({array_state: 'clean', sync_action: 'idle', degraded: '0', mismatch_cnt: '0', raid_disks: '4', level: 'raid5'})) {
        put(`kroot/sys/block/md0/md/${k}`, `${v}\n`)
      }
      for (const [i, d] of ['vda', 'vdb', 'vdc', 'vdd'].entries()) {
        put(`kroot/sys/block/md0/md/dev-${d}/state`, 'in_sync\n')
        put(`kroot/sys/block/md0/md/dev-${d}/slot`, `${i}\n`)
      }
      // The tools: mdadm answers --detail with the captured output and --detail --brief with the ARRAY line.
      put('cap/detail.txt', md('14-detail-clean.txt'))
      put('cap/brief.txt', brief)
      put('bin/mdadm', `#!/bin/sh\n[ "$2" = "--brief" ] && exec cat '${dir}/cap/brief.txt'\nexec cat '${dir}/cap/detail.txt'\n`)
      put('bin/blkid', '#!/bin/sh\nprintf "UUID=2f1e0d9c-8b7a-4c6d-9e5f-0a1b2c3d4e5f\\nTYPE=ext4\\n"\n')
      fs.chmodSync(path.join(dir, 'bin/mdadm'), 0o755)
      fs.chmodSync(path.join(dir, 'bin/blkid'), 0o755)
      const env = {LIFEBOAT_RAID_ROOT: path.join(dir, 'kroot'), PATH: `${path.join(dir, 'bin')}:${process.env.PATH}`, CI: '1'}
      const target = path.join(dir, 'target')
      const args = ['raid', 'persist', 'md0', '--engine', 'md', '--root', target, '--mountpoint', '/srv/data']
      const first = await lifeboat(args, env)
      expect(first.code, first.stderr).to.equal(0)
      expect(first.stdout).to.contain(`mdadm.conf ${target}/etc/mdadm/mdadm.conf: added`)
      expect(first.stdout).to.contain('initramfs not updated: --root is not /')
      expect(fs.readFileSync(path.join(target, 'etc/mdadm/mdadm.conf'), 'utf8')).to.equal(brief)
      expect(fs.readFileSync(path.join(target, 'etc/fstab'), 'utf8')).to.equal(
        'UUID=2f1e0d9c-8b7a-4c6d-9e5f-0a1b2c3d4e5f /srv/data ext4 defaults,nofail,x-systemd.device-timeout=30s 0 2\n',
      )
      const again = envelope((await lifeboat([...args, '--json'], env)).stdout)
      expect(again.result.mdadmConf.action).to.equal('unchanged')
      expect(again.result.fstab.action).to.equal('unchanged')
      const scripted = await lifeboat(['raid', 'persist', 'md0', '--engine', 'md', '--root', target, '--json'], env)
      expect(envelope(scripted.stdout).warnings).to.deep.equal(['no --mountpoint given: fstab left unchanged'])
    } finally {
      fs.rmSync(dir, {recursive: true, force: true})
    }
  })
})
