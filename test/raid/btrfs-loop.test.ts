import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

import {getEngine} from '../../src/raid/engines.js'
import {envelope, lifeboat} from '../helpers/cli.js'
import {tempDir} from '../helpers/env.js'

/**
 * Real btrfs RAID1 on loop devices, driven through the engine and the built CLI (run `npm run build`
 * first). Needs root, btrfs-progs and free /dev/loopN; other engineers share the loop devices, so we take
 * them with `losetup -f`, touch only our own and always give them back.
 */

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']})
const canRun = process.getuid?.() === 0 && fs.existsSync('/dev/loop-control') && (() => {
  try {
    sh('btrfs', ['--version'])
    return true
  } catch {
    return false
  }
})()

describe('btrfs raid1 on loop devices through the CLI @integration', function () {
  this.timeout(240_000)
  let dir: string
  let mnt: string
  const loops: string[] = []
  const label = `lbit${process.pid}`
  let sum = ''

  const attach = (name: string, size: string): string => {
    const f = path.join(dir, name)
    sh('truncate', ['-s', size, f])
    const dev = sh('losetup', ['-f', '--show', f]).trim()
    loops.push(dev)
    return dev
  }
  const detach = (dev: string) => {
    try {
      sh('btrfs', ['device', 'scan', '--forget', dev])
    } catch {
      // not registered
    }
    try {
      sh('losetup', ['-d', dev])
    } catch {
      // already gone
    }
    loops.splice(loops.indexOf(dev), 1)
  }
  const mounted = () => fs.readFileSync('/proc/self/mounts', 'utf8').includes(` ${mnt} `)
  const cli = async (args: string[]) => {
    const r = await lifeboat([...args, '--json'])
    return {code: r.code, env: envelope(r.stdout), stderr: r.stderr}
  }

  before(function () {
    if (!canRun) this.skip()
    dir = tempDir('lifeboat-btrfs-')
    mnt = path.join(dir, 'mnt')
    fs.mkdirSync(mnt)
  })

  after(() => {
    if (!dir) return
    if (mounted()) sh('umount', [mnt])
    for (const l of [...loops]) detach(l)
    fs.rmSync(dir, {recursive: true, force: true})
  })

  let a: string
  let b: string

  it('creates raid1 through the engine; raid status reports it healthy (exit 0)', async () => {
    a = attach('a.img', '512M')
    b = attach('b.img', '512M')
    const st = await getEngine('btrfs').create({name: label, level: '1', devices: [a, b]})
    expect(st).to.deep.include({engine: 'btrfs', name: label, health: 'healthy', expectedMembers: 2})
    const r = await cli(['raid', 'status', label])
    expect(r.code, r.stderr).to.equal(0)
    expect(r.env.ok).to.equal(true)
    expect(r.env.result.arrays[0]).to.deep.include({name: label, health: 'healthy'})
    expect(r.env.result.arrays[0].members.map((m: any) => m.device)).to.have.members([a, b])
  })

  it('mounted, with data: RAID1 profile, usable size, error counters', async () => {
    sh('mount', [a, mnt])
    const data = crypto.randomBytes(24 * 1024 * 1024)
    fs.writeFileSync(path.join(mnt, 'data.bin'), data)
    sum = crypto.createHash('sha256').update(data).digest('hex')
    sh('sync', [])
    const r = await cli(['raid', 'status', mnt])
    expect(r.code).to.equal(0)
    const s = r.env.result.arrays[0]
    expect(s).to.deep.include({level: 'RAID1', mountpoint: mnt, health: 'healthy'})
    expect(s.members[0].errors).to.deep.equal({read: 0, write: 0, flush: 0, corruption: 0, generation: 0})
  })

  it('a wiped member: mounted degraded, raid status exits 4 and says what to do', async () => {
    sh('umount', [mnt])
    sh('wipefs', ['-a', b])
    sh('btrfs', ['device', 'scan', '--forget', b])
    sh('btrfs', ['device', 'scan', a])
    sh('mount', ['-o', 'degraded', a, mnt])
    const r = await cli(['raid', 'status', label])
    expect(r.code).to.equal(4)
    expect(r.env.ok).to.equal(false)
    const s = r.env.result.arrays[0]
    expect(s.health).to.equal('degraded')
    expect(s.members.filter((m: any) => m.role === 'missing')).to.have.length(1)
    expect(s.action[0]).to.match(new RegExp(`lifeboat raid replace ${label} \\d+ NEW-DEVICE --wait`))
    const human = await lifeboat(['raid', 'status', label])
    expect(human.code).to.equal(4)
    expect(human.stdout).to.match(/ state: DEGRADED/)
    expect(human.stdout).to.match(/missing +missing/)
  })

  it('refuses a replacement disk that is too small, a mounted member, and "fail" on btrfs (exit 2, nothing changed)', async () => {
    const small = attach('small.img', '256M')
    try {
      const r = await cli(['raid', 'replace', label, 'missing', small, '--wait'])
      expect(r.code).to.equal(2)
      expect(r.env.error.code).to.equal('DEVICE_TOO_SMALL')
    } finally {
      detach(small)
    }
    const inUse = await cli(['raid', 'add', label, a])
    expect(inUse.code).to.equal(2)
    expect(inUse.env.error.code).to.equal('DEVICE_IN_USE')
    const fail = await cli(['raid', 'fail', label, a, '--yes'])
    expect(fail.code).to.equal(2)
    expect(fail.env.error.code).to.equal('UNSUPPORTED')
  })

  it('replace through the CLI with --wait: healthy again, data intact, scrub clean', async () => {
    const c = attach('c.img', '512M')
    const r = await cli(['raid', 'replace', label, 'missing', c, '--wait'])
    expect(r.code, JSON.stringify(r.env)).to.equal(0)
    expect(r.env.result.array.health).to.equal('healthy')
    const st = await cli(['raid', 'status', label])
    expect(st.code).to.equal(0)
    expect(st.env.result.arrays[0].members.map((m: any) => m.device)).to.have.members([a, c])
    const back = crypto.createHash('sha256').update(fs.readFileSync(path.join(mnt, 'data.bin'))).digest('hex')
    expect(back).to.equal(sum)
    const scrub = await cli(['raid', 'scrub', 'start', label, '--wait'])
    expect(scrub.code).to.equal(0)
    expect(scrub.env.result.array.state).to.match(/last scrub finished/)
    expect(scrub.env.result.array.status).to.deep.equal([])
  })
})
