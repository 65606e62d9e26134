import {expect} from 'chai'
import fs from 'node:fs'
import path from 'node:path'

import {envelope, lifeboat} from '../helpers/cli.js'
import {tempDir} from '../helpers/env.js'
import {md} from './fixtures.js'

/**
 * The raid commands on md, run as a user would (built CLI, `npm run build` first), against a /proc + /sys
 * tree made from the captured states (LIFEBOAT_RAID_ROOT). This machine has no md driver, so no mdadm change
 * can reach a real array: every test here stops before one (plan, refusal) or only writes sync_action in the
 * fake tree.
 */

function makeRoot(state: 'clean' | 'failed'): string {
  const root = tempDir('lifeboat-md-root-')
  const put = (rel: string, v: string) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), {recursive: true})
    fs.writeFileSync(path.join(root, rel), v)
  }
  put('proc/mdstat', md(state === 'clean' ? '13' : '22'))
  const sys = {array_state: 'clean', sync_action: 'idle', degraded: state === 'clean' ? '0' : '1', mismatch_cnt: '0', raid_disks: '4', level: 'raid5', component_size: '64512'}
  for (const [k, v] of Object.entries(sys)) put(`sys/block/md0/md/${k}`, `${v}\n`)
  ;['vda', 'vdb', 'vdc', 'vdd'].forEach((d, i) => {
    const faulty = state === 'failed' && d === 'vdb'
    put(`sys/block/md0/md/dev-${d}/state`, faulty ? 'faulty\n' : 'in_sync\n')
    put(`sys/block/md0/md/dev-${d}/slot`, faulty ? 'none\n' : `${i}\n`)
  })
  return root
}

describe('raid commands on md (fake /proc and /sys from captured states)', function () {
  this.timeout(60_000)
  const roots: string[] = []
  const run = (root: string, args: string[]) => lifeboat(args, {LIFEBOAT_RAID_ROOT: root, CI: '1'})
  const root = (s: 'clean' | 'failed') => {
    const r = makeRoot(s)
    roots.push(r)
    return r
  }
  after(() => {
    for (const r of roots) fs.rmSync(r, {recursive: true, force: true})
  })

  it('raid status: a failed member → exit 4, the faulty disk from sysfs, the replace command to run', async () => {
    const r = root('failed')
    const j = await run(r, ['raid', 'status', 'md0', '--engine', 'md', '--json'])
    expect(j.code).to.equal(4)
    const env = envelope(j.stdout)
    expect(env.ok).to.equal(false)
    const a = env.result.arrays[0]
    expect(a).to.deep.include({engine: 'md', device: '/dev/md0', health: 'degraded', level: 'raid5'})
    expect(a.members.find((m: any) => m.device === '/dev/vdb')).to.deep.include({role: 'faulty', state: 'faulty'})
    const h = await run(r, ['raid', 'status', '--engine', 'md'])
    expect(h.code).to.equal(4)
    expect(h.stdout).to.match(/^ state: DEGRADED/m)
    expect(h.stdout).to.contain('action: Replace the failed disk: lifeboat raid replace md0 /dev/vdb NEW-DEVICE --wait')
  })

  it('raid status: healthy → exit 0', async () => {
    const j = await run(root('clean'), ['raid', 'status', '--engine', 'md', '--json'])
    expect(j.code).to.equal(0)
    expect(envelope(j.stdout).result.arrays[0].health).to.equal('healthy')
  })

  it('raid fail: --dry-run prints the plan; without confirmation in a script it refuses (exit 2); a wrong name too', async () => {
    const r = root('clean')
    const dry = await run(r, ['raid', 'fail', 'md0', '/dev/vdc', '--engine', 'md', '--dry-run', '--json'])
    expect(dry.code).to.equal(0)
    expect(envelope(dry.stdout).result).to.deep.include({dryRun: true})
    expect(envelope(dry.stdout).result.plan[0]).to.equal('mdadm /dev/md0 --fail /dev/vdc')
    const noConfirm = await run(r, ['raid', 'fail', 'md0', '/dev/vdc', '--engine', 'md'])
    expect(noConfirm.code).to.equal(2)
    expect(noConfirm.stdout).to.contain('mdadm /dev/md0 --fail /dev/vdc')
    expect(noConfirm.stderr).to.contain('needs confirmation: pass --confirm md0')
    const wrong = await run(r, ['raid', 'fail', 'md0', '/dev/vdc', '--engine', 'md', '--confirm', 'md1', '--json'])
    expect(wrong.code).to.equal(2)
    expect(envelope(wrong.stdout).error.code).to.equal('CONFIRMATION_MISMATCH')
  })

  it('raid fail refuses on a degraded array; raid remove refuses an active member', async () => {
    const f = await run(root('failed'), ['raid', 'fail', 'md0', '/dev/vdc', '--engine', 'md', '--confirm', 'md0', '--json'])
    expect(f.code).to.equal(2)
    expect(envelope(f.stdout).error.code).to.equal('ARRAY_NOT_HEALTHY')
    const rm = await run(root('clean'), ['raid', 'remove', 'md0', '/dev/vda', '--engine', 'md', '--confirm', 'md0', '--json'])
    expect(rm.code).to.equal(2)
    expect(envelope(rm.stdout).error.code).to.equal('MEMBER_ACTIVE')
  })

  it('raid monitor --once: current problems as events, exit 4', async () => {
    const j = await run(root('failed'), ['raid', 'monitor', '--once', '--engine', 'md', '--json'])
    expect(j.code).to.equal(4)
    expect(envelope(j.stdout).result.events.map((e: any) => [e.event, e.device])).to.deep.equal([
      ['DegradedArray', '/dev/md0'],
      ['Fail', '/dev/vdb'],
    ])
    const lines = await run(root('failed'), ['raid', 'monitor', '--once', '--engine', 'md'])
    expect(lines.stdout.trim().split('\n').map((l) => JSON.parse(l).event)).to.deep.equal(['DegradedArray', 'Fail'])
  })

  it('raid scrub start/cancel write check/repair/idle to sync_action', async () => {
    const r = root('clean')
    const action = () => fs.readFileSync(path.join(r, 'sys/block/md0/md/sync_action'), 'utf8').trim()
    expect((await run(r, ['raid', 'scrub', 'start', 'md0', '--engine', 'md'])).code).to.equal(0)
    expect(action()).to.equal('check')
    const st = await run(r, ['raid', 'scrub', 'status', 'md0', '--engine', 'md', '--json'])
    expect(envelope(st.stdout).result).to.deep.include({running: true})
    expect((await run(r, ['raid', 'scrub', 'cancel', 'md0', '--engine', 'md'])).code).to.equal(0)
    expect(action()).to.equal('idle')
    expect((await run(r, ['raid', 'scrub', 'start', 'md0', '--engine', 'md', '--repair'])).code).to.equal(0)
    expect(action()).to.equal('repair')
  })
})
