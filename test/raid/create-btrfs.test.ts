import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

import {which} from '../../src/exec/runner.js'
import {envelope, lifeboat} from '../helpers/cli.js'
import {ROOT, tempDir} from '../helpers/env.js'

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']})
}

function blkidType(dev: string): {TYPE?: string; UUID?: string} {
  try {
    const out = sh('blkid', ['-p', '-o', 'export', dev])
    return Object.fromEntries(out.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
  } catch {
    return {}
  }
}

describe('raid create on loop devices (btrfs) @integration', function () {
  this.timeout(180_000)
  let dir: string
  const loops: string[] = []
  const mnt = () => path.join(dir, 'mnt')

  before(function () {
    if (process.getuid?.() !== 0 || !which('mkfs.btrfs') || !which('losetup')) this.skip()
    if (!fs.existsSync(path.join(ROOT, 'dist', 'commands', 'raid', 'create.js'))) this.skip()
    dir = tempDir('lifeboat-loops-')
    fs.mkdirSync(mnt())
    for (let i = 0; i < 3; i++) {
      const img = path.join(dir, `d${i}.img`)
      fs.writeFileSync(img, '')
      fs.truncateSync(img, 600 * 1024 * 1024) // sparse
      loops.push(sh('losetup', ['-f', '--show', img]).trim())
    }
  })

  after(() => {
    if (!dir) return
    try {
      sh('umount', [mnt()])
    } catch {
      // not mounted
    }
    for (const l of loops) {
      try {
        sh('btrfs', ['device', 'scan', '--forget', l])
      } catch {
        // not registered
      }
      try {
        sh('losetup', ['-d', l])
      } catch {
        // already gone
      }
    }
    fs.rmSync(dir, {recursive: true, force: true})
  })

  it('creates a btrfs raid1 through the CLI with --confirm', async () => {
    const [a, b] = loops
    const r = await lifeboat(['raid', 'create', 'lbit1', '--level', '1', '--engine', 'btrfs', '--devices', a, b, '--confirm', 'lbit1', '--json'])
    expect(r.code, r.stdout + r.stderr).to.equal(0)
    const env = envelope(r.stdout)
    expect(env.result.created).to.equal(true)
    expect(env.result.commands.map((c: string[]) => c[0])).to.deep.equal(['wipefs', 'wipefs', 'mkfs.btrfs', 'btrfs'])
    expect(env.result.status.members.map((m: {device: string}) => m.device)).to.deep.equal([a, b])
    const show = sh('btrfs', ['filesystem', 'show', 'lbit1'])
    expect(show).to.contain(`path ${a}`)
    expect(show).to.contain(`path ${b}`)
    expect(blkidType(a).TYPE).to.equal('btrfs')
    expect(blkidType(a).UUID).to.equal(blkidType(b).UUID)
    // The same data both ways: it mounts and keeps a file.
    sh('mount', [a, mnt()])
    fs.writeFileSync(path.join(mnt(), 'hello'), 'raid1')
    sh('umount', [mnt()])
  })

  it('refuses a loop that is already a btrfs member (without --force), and leaves both disks untouched', async () => {
    const [, b, c] = loops
    const before = blkidType(b).UUID
    const r = await lifeboat(['raid', 'create', 'lbit2', '--level', '1', '--engine', 'btrfs', '--devices', b, c, '--confirm', 'lbit2', '--json'])
    expect(r.code).to.equal(1)
    const e = envelope(r.stdout).error
    expect(e.code).to.equal('DISK_REFUSED')
    expect(e.message).to.contain(`${b} carries a btrfs filesystem`)
    expect(e.hint).to.contain('--force')
    expect(blkidType(b).UUID).to.equal(before)
    expect(blkidType(c).TYPE).to.equal(undefined)
  })

  it('refuses a mounted loop device and the other members of its mounted filesystem, even with --force', async () => {
    const [a, b, c] = loops
    sh('mount', [a, mnt()])
    try {
      const r1 = await lifeboat(['raid', 'create', 'lbit2', '--level', '1', '--engine', 'btrfs', '--devices', a, c, '--force', '--confirm', 'lbit2'])
      expect(r1.code).to.equal(1)
      expect(r1.stderr).to.contain(`${a} is mounted at ${mnt()}`)
      const r2 = await lifeboat(['raid', 'create', 'lbit2', '--level', '1', '--engine', 'btrfs', '--devices', b, c, '--force', '--confirm', 'lbit2'])
      expect(r2.code).to.equal(1)
      expect(r2.stderr).to.contain(`${b} is a member of the mounted btrfs filesystem`)
      expect(fs.readFileSync(path.join(mnt(), 'hello'), 'utf8')).to.equal('raid1')
    } finally {
      sh('umount', [mnt()])
    }
    expect(blkidType(c).TYPE).to.equal(undefined)
  })

  it('with --force and the typed name, an old member is wiped and reused; persist writes fstab by UUID', async () => {
    const [, b, c] = loops
    const old = blkidType(b).UUID
    const r = await lifeboat(['raid', 'create', 'lbit2', '--level', '1', '--engine', 'btrfs', '--devices', b, c, '--force', '--confirm', 'lbit2', '--json'])
    expect(r.code, r.stdout + r.stderr).to.equal(0)
    const env = envelope(r.stdout)
    expect(env.result.devices[0].overridden.map((x: {code: string}) => x.code)).to.deep.equal(['BTRFS_MEMBER'])
    const fresh = blkidType(b).UUID
    expect(fresh).to.not.equal(old)
    expect(blkidType(c).UUID).to.equal(fresh)
    const root = path.join(dir, 'root')
    const p = await lifeboat(['raid', 'persist', 'lbit2', '--engine', 'btrfs', '--root', root, '--mountpoint', '/srv/lbit2', '--json'])
    expect(p.code, p.stdout + p.stderr).to.equal(0)
    expect(fs.readFileSync(path.join(root, 'etc/fstab'), 'utf8')).to.equal(`UUID=${fresh} /srv/lbit2 btrfs defaults,nofail,x-systemd.device-timeout=30s 0 0\n`)
    const again = await lifeboat(['raid', 'persist', 'lbit2', '--engine', 'btrfs', '--root', root, '--mountpoint', '/srv/lbit2', '--json'])
    expect(envelope(again.stdout).result.fstab.action).to.equal('unchanged')
    expect(fs.readFileSync(path.join(root, 'etc/fstab'), 'utf8').split('\n').filter(Boolean)).to.have.length(1)
  })

  it('in a real terminal: a wrong typed name changes nothing, the right one creates the array', async () => {
    const [, b, c] = loops
    const old = blkidType(b).UUID
    const run = (name: string) => {
      const spec = path.join(dir, 'pty.json')
      fs.writeFileSync(
        spec,
        JSON.stringify({
          argv: [process.execPath, path.join(ROOT, 'bin', 'run.js'), 'raid', 'create', 'lbit3', '--level', '1', '--engine', 'btrfs', '--devices', b, c, '--force'],
          timeout: 60,
          steps: [{expect: 'Type "lbit3" to confirm', send: `${name}\r`}],
        }),
      )
      try {
        return {code: 0, out: execFileSync('python3', [path.join(ROOT, 'test', 'helpers', 'pty-driver.py'), spec], {encoding: 'utf8'})}
      } catch (error: any) {
        return {code: error.status as number, out: String(error.stdout)}
      }
    }
    const wrong = run('lbit')
    expect(wrong.code, wrong.out).to.equal(2)
    expect(wrong.out).to.contain('confirmation did not match "lbit3"; nothing was done')
    expect(wrong.out).to.contain(`mkfs.btrfs -L lbit3 -d raid1 -m raid1 ${b} ${c}`)
    expect(blkidType(b).UUID).to.equal(old)
    const right = run('lbit3')
    expect(right.code, right.out).to.equal(0)
    expect(right.out).to.contain('Created btrfs RAID 1 "lbit3"')
    expect(blkidType(b).UUID).to.not.equal(old)
    expect(sh('btrfs', ['filesystem', 'show', 'lbit3'])).to.contain(`path ${c}`)
  })
})
