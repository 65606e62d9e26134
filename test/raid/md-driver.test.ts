import {expect} from 'chai'
import fs from 'node:fs'
import path from 'node:path'

import type {RunOptions, RunResult, Runner} from '../../src/exec/runner.js'
import type {ArrayProgress} from '../../src/raid/engine.js'
import {getEngine} from '../../src/raid/engines.js'
import {MdEngine} from '../../src/raid/md/driver.js'
import {tempDir} from '../helpers/env.js'
import {md} from './fixtures.js'

/**
 * A fake md "kernel" under a temp root: /proc/mdstat, /sys/block/md0/md/* and `mdadm --detail` answers come
 * from the captured fixtures of each state; mdadm changes move it between states like the real run did.
 */
class FakeMd implements Runner {
  calls: string[][] = []
  polls = 0
  constructor(readonly root: string) {}

  put(rel: string, v: string): void {
    const p = path.join(this.root, rel)
    fs.mkdirSync(path.dirname(p), {recursive: true})
    fs.writeFileSync(p, v)
  }

  dev(name: string, state: string, slot: string): void {
    this.put(`sys/block/md0/md/dev-${name}/state`, `${state}\n`)
    this.put(`sys/block/md0/md/dev-${name}/slot`, `${slot}\n`)
    this.put(`sys/block/md0/md/dev-${name}/offset`, '2048\n')
    this.put(`sys/block/md0/md/dev-${name}/size`, '64512\n')
  }

  detail = md('14')

  clean(): void {
    this.put('proc/mdstat', md('13'))
    for (const f of ['array_state=clean', 'sync_action=idle', 'degraded=0', 'mismatch_cnt=0', 'component_size=64512', 'raid_disks=4', 'level=raid5']) {
      const [k, v] = f.split('=')
      this.put(`sys/block/md0/md/${k}`, `${v}\n`)
    }
    ;['vda', 'vdb', 'vdc', 'vdd'].forEach((d, i) => this.dev(d, 'in_sync', String(i)))
    this.detail = md('14')
  }

  async run(command: string, args: string[], _opts?: RunOptions): Promise<RunResult> {
    const ok = (stdout = ''): RunResult => ({command, args, code: 0, stdout, stderr: '', durationMs: 1})
    if (command !== 'mdadm') throw new Error(`unexpected ${command}`)
    if (args[0] === '--detail') return ok(this.detail)
    this.calls.push(args)
    const [, op, dev] = args
    if (op === '--add' && dev === '/dev/vde') {
      this.put('proc/mdstat', md('43'))
      this.dev('vde', 'spare', 'none')
      this.detail = md('44')
    } else if (op === '--replace') {
      // md copies vdc onto vde while vdc keeps serving.
      this.put('sys/block/md0/md/sync_action', 'recover\n')
      this.put('sys/block/md0/md/sync_completed', '32256 / 129024\n')
      this.put('sys/block/md0/md/sync_speed', '4096\n')
      this.dev('vdc', 'in_sync,want_replacement', '2')
      this.dev('vde', 'replacement', '2')
    } else if (op === '--remove' && dev === '/dev/vdc') {
      fs.rmSync(path.join(this.root, 'sys/block/md0/md/dev-vdc'), {recursive: true})
      this.put('proc/mdstat', md('48').replace(' vdc[2](F)', ''))
      this.detail = md('49').replace(/\n\s+2\s+254\s+32\s+-\s+faulty\s+\/dev\/vdc/, '')
    } else {
      throw new Error(`fake md cannot do: mdadm ${args.join(' ')}`)
    }
    return ok()
  }

  /** Called between polls: the replacement finishes after two polls. */
  async tick(): Promise<void> {
    this.polls++
    if (this.polls === 2) {
      this.put('sys/block/md0/md/sync_action', 'idle\n')
      this.put('sys/block/md0/md/sync_completed', 'none\n')
      this.dev('vdc', 'faulty', 'none')
      this.dev('vde', 'in_sync', '2')
      this.put('proc/mdstat', md('48'))
      this.detail = md('49')
    }
  }
}

describe('md engine against a fake kernel built from the captured states', () => {
  let root: string
  let fake: FakeMd
  let eng: MdEngine
  beforeEach(() => {
    root = tempDir()
    fake = new FakeMd(root)
    fake.clean()
    eng = new MdEngine({runner: fake, root, sleep: () => fake.tick()})
  })
  afterEach(() => fs.rmSync(root, {recursive: true, force: true}))

  it('lists and finds the array by name, kernel name, /dev path, /dev/md/NAME, UUID and member', async () => {
    const [a] = await eng.list()
    expect(a).to.deep.include({name: 'fixture', device: '/dev/md0', health: 'healthy', level: 'raid5'})
    for (const q of ['fixture', 'md0', '/dev/md0', '/dev/md/fixture', '04566bd9:b73c2390:35848b5c:b9d4ae0a', '/dev/vdc']) {
      expect((await eng.status(q)).device, q).to.equal('/dev/md0')
    }
    let err: any
    try {
      await eng.status('nope')
    } catch (error) {
      err = error
    }
    expect(err).to.include({code: 'ARRAY_NOT_FOUND', exitCode: 2})
    expect(err.hint).to.contain('fixture (/dev/md0)')
  })

  it('hot replace: --add, --replace --with, follows the recovery, then removes the old disk', async () => {
    fake.put('sys/class/block/vde/size', String(200 * 1024 * 2)) // 200 MiB in sectors
    const seen: ArrayProgress[] = []
    const after = await eng.replace('fixture', '/dev/vdc', '/dev/vde', {wait: true, onProgress: (p) => p && seen.push(p)})
    expect(fake.calls).to.deep.equal([
      ['/dev/md0', '--add', '/dev/vde'],
      ['/dev/md0', '--replace', '/dev/vdc', '--with', '/dev/vde'],
      ['/dev/md0', '--remove', '/dev/vdc'],
    ])
    expect(seen[0]).to.deep.include({action: 'recovery', percent: 25, speedBytesPerSec: 4096 * 1024})
    expect(after.health).to.equal('healthy')
    expect(after.members.map((m) => `${m.device}:${m.role}`)).to.deep.equal(['/dev/vda:active', '/dev/vdb:active', '/dev/vde:active', '/dev/vdd:active'])
  })

  it('refuses a new disk smaller than the members need, before changing anything', async () => {
    fake.put('sys/class/block/vde/size', String(60 * 1024 * 2)) // 60 MiB < 63 MiB + 1 MiB offset
    let err: any
    try {
      await eng.replace('fixture', '/dev/vdc', '/dev/vde', {wait: true})
    } catch (error) {
      err = error
    }
    expect(err).to.include({code: 'DEVICE_TOO_SMALL', exitCode: 2})
    expect(err.message).to.contain('needs at least 67108864')
    expect(fake.calls).to.deep.equal([])
  })

  it('a disk that is not a member cannot be failed or replaced', async () => {
    for (const f of [() => eng.fail('fixture', '/dev/sdz'), () => eng.replace('fixture', '/dev/sdz', '/dev/vde')]) {
      let err: any
      try {
        await f()
      } catch (error) {
        err = error
      }
      expect(err).to.include({code: 'NOT_A_MEMBER'})
    }
    expect(fake.calls).to.deep.equal([])
  })

  it('replace after the old disk was already removed: only adds the new disk to rebuild', async () => {
    fake.put('proc/mdstat', md('26'))
    fake.put('sys/block/md0/md/degraded', '1\n')
    fs.rmSync(path.join(root, 'sys/block/md0/md/dev-vdb'), {recursive: true})
    fake.detail = md('27')
    fake.put('sys/class/block/vde/size', String(200 * 1024 * 2))
    await eng.replace('fixture', '/dev/vdb', '/dev/vde')
    expect(fake.calls).to.deep.equal([['/dev/md0', '--add', '/dev/vde']])
  })

  it('nested arrays: the mirror of two stripes lists as one array with its children', async () => {
    fake.put(
      'proc/mdstat',
      [
        'Personalities : [raid0] [raid1]',
        'md3 : active raid1 md2[1] md1[0]',
        '      126976 blocks super 1.2 [2/2] [UU]',
        '',
        'md2 : active raid0 vdd[1] vdc[0]',
        '      126976 blocks super 1.2 512k chunks',
        '',
        'md1 : active raid0 vdb[1] vda[0]',
        '      126976 blocks super 1.2 512k chunks',
        '',
        'unused devices: <none>',
      ].join('\n'),
    )
    fs.rmSync(path.join(root, 'sys'), {recursive: true})
    fake.detail = ''
    const list = await eng.list()
    expect(list.map((a) => a.device)).to.deep.equal(['/dev/md3'])
    expect(list[0].children!.map((c) => [c.device, c.level])).to.deep.equal([
      ['/dev/md2', 'raid0'],
      ['/dev/md1', 'raid0'],
    ])
    expect((await eng.status('md1')).level).to.equal('raid0')
  })

  it('check and repair through sync_action; cancel writes idle; a busy array is refused', async () => {
    const action = () => fs.readFileSync(path.join(root, 'sys/block/md0/md/sync_action'), 'utf8').trim()
    await eng.scrubStart('fixture')
    expect(action()).to.equal('check')
    let err: any
    try {
      await eng.scrubStart('fixture', {repair: true})
    } catch (error) {
      err = error
    }
    expect(err).to.include({code: 'ARRAY_BUSY'})
    await eng.scrubCancel('fixture')
    expect(action()).to.equal('idle')
    await eng.scrubStart('fixture', {repair: true})
    expect(action()).to.equal('repair')
  })

  it('create commands: explicit --run --metadata=1.2 --bitmap, chunk, spares, next free md number', () => {
    expect(eng.createCommands({name: 'data', level: '5', devices: ['/dev/sdb', '/dev/sdc', '/dev/sdd'], spares: ['/dev/sde'], chunkKiB: 512, wipe: true})).to.deep.equal([
      ['wipefs', '-a', '/dev/sdb'],
      ['wipefs', '-a', '/dev/sdc'],
      ['wipefs', '-a', '/dev/sdd'],
      ['wipefs', '-a', '/dev/sde'],
      ['mdadm', '--create', '/dev/md1', '--run', '--metadata=1.2', '--level=5', '--raid-devices=3', '--name=data', '--bitmap=internal', '--chunk=512', '--spare-devices=1', '/dev/sdb', '/dev/sdc', '/dev/sdd', '/dev/sde'],
    ])
    expect(eng.createCommands({name: 'fast', level: '0', devices: ['/dev/sdb', '/dev/sdc'], bitmap: 'none'})[0]).to.deep.equal(
      // mdadm refuses --bitmap of any kind for raid0
      ['mdadm', '--create', '/dev/md1', '--run', '--metadata=1.2', '--level=0', '--raid-devices=2', '--name=fast', '/dev/sdb', '/dev/sdc'],
    )
    expect(eng.createCommands({name: 'm', level: '1', devices: ['/dev/sdb', '/dev/sdc'], bitmap: 'none'})[0]).to.include('--bitmap=none')
  })

  it('nested 0+1 (mirror of two stripes) and 1+0 (stripe of mirrors) built from md arrays', () => {
    const d = ['/dev/sdb', '/dev/sdc', '/dev/sdd', '/dev/sde']
    expect(eng.createCommands({name: 'n', level: '0+1', devices: d}).map((c) => c.filter((a) => !a.startsWith('--run') && !a.startsWith('--metadata')).join(' '))).to.deep.equal([
      'mdadm --create /dev/md1 --level=0 --raid-devices=2 --name=n-s0 /dev/sdb /dev/sdc',
      'mdadm --create /dev/md2 --level=0 --raid-devices=2 --name=n-s1 /dev/sdd /dev/sde',
      'mdadm --create /dev/md3 --level=1 --raid-devices=2 --name=n --bitmap=internal /dev/md1 /dev/md2',
    ])
    expect(eng.createCommands({name: 'n', level: '1+0', devices: d}).map((c) => c.filter((a) => !a.startsWith('--run') && !a.startsWith('--metadata')).join(' '))).to.deep.equal([
      'mdadm --create /dev/md1 --level=1 --raid-devices=2 --name=n-m0 --bitmap=internal /dev/sdb /dev/sdc',
      'mdadm --create /dev/md2 --level=1 --raid-devices=2 --name=n-m1 --bitmap=internal /dev/sdd /dev/sde',
      'mdadm --create /dev/md3 --level=0 --raid-devices=2 --name=n /dev/md1 /dev/md2',
    ])
  })

  it('create refuses bad specs with usage errors', () => {
    const bad = (spec: any, code: string) => {
      let err: any
      try {
        eng.createCommands(spec)
      } catch (error) {
        err = error
      }
      expect(err, code).to.include({code, exitCode: 2})
    }
    bad({name: 'x', level: '5', devices: ['/dev/a', '/dev/b']}, 'TOO_FEW_DEVICES')
    bad({name: 'x', level: '0+1', devices: ['/dev/a', '/dev/b', '/dev/c', '/dev/d', '/dev/e', '/dev/f', '/dev/g']}, 'BAD_DEVICE_COUNT')
    bad({name: 'x', level: '1+0', devices: ['/dev/a', '/dev/b', '/dev/c', '/dev/d'], spares: ['/dev/e']}, 'SPARES_UNSUPPORTED')
    bad({name: 'x', level: '1c3', devices: ['/dev/a', '/dev/b', '/dev/c']}, 'BAD_LEVEL')
    bad({name: 'bad name', level: '1', devices: ['/dev/a', '/dev/b']}, 'BAD_NAME')
    bad({name: 'x', level: '1', devices: ['/dev/a', '/dev/a']}, 'DUPLICATE_DEVICE')
  })

  it('getEngine reports md unavailable without /proc/mdstat', async () => {
    fs.rmSync(path.join(root, 'proc/mdstat'))
    const av = await getEngine('md', {runner: fake, root}).available()
    expect(av).to.deep.include({ok: false})
    expect(await getEngine('md', {runner: fake, root}).list()).to.deep.equal([])
  })
})
