import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

import {executeCreate, prepareCreate} from '../../src/raid/create.js'
import {DiskRefusedError} from '../../src/raid/disks.js'
import type {ArrayStatus, CreateSpec, RaidEngine} from '../../src/raid/engine.js'
import {getEngine} from '../../src/raid/engines.js'
import {envelope, lifeboat} from '../helpers/cli.js'
import {ROOT, tempDir} from '../helpers/env.js'
import {cliFixture, piFixture} from './fake-root.js'

/** The real engine's createCommands, with create() recorded instead of run. */
function recordingEngine(name: 'md' | 'btrfs', root: string): RaidEngine & {created: CreateSpec[]} {
  const real = getEngine(name, {root, runner: {run: () => Promise.reject(new Error('the engine must not run tools in this test'))}})
  const created: CreateSpec[] = []
  return Object.assign(Object.create(real) as RaidEngine, {
    created,
    available: async () => ({ok: true as const}),
    async create(spec: CreateSpec): Promise<ArrayStatus> {
      created.push(spec)
      return {engine: name, name: spec.name, level: spec.level, health: 'healthy', state: 'clean', members: [], status: [], action: []}
    },
  })
}

describe('raid create: library (fixture Pi)', () => {
  it('plans the disks and lists the exact commands, wiping only the chosen disks first', async () => {
    const {root, runner} = piFixture()
    try {
      const engine = recordingEngine('md', root)
      const prep = await prepareCreate({name: 'data', engine: 'md', level: '1', devices: ['/dev/sda', 'sdg'], bitmap: 'internal'}, {engine, runner, root})
      expect(prep.devices.map((d) => d.path)).to.deep.equal(['/dev/sda', '/dev/sdg'])
      expect(prep.devices[0].identity).to.equal('serial-WD-WCC7K1ABCDEF')
      expect(prep.plan.usableBytes).to.equal(7_814_037_168 * 512)
      expect(prep.plan.warnings.map((w) => w.code)).to.include('USB_ONLY')
      expect(prep.commands).to.deep.equal([
        ['wipefs', '-a', '/dev/sda'],
        ['wipefs', '-a', '/dev/sdg'],
        ['mdadm', '--create', '/dev/md0', '--run', '--metadata=1.2', '--level=1', '--raid-devices=2', '--name=data', '--bitmap=internal', '/dev/sda', '/dev/sdg'],
      ])
      expect(engine.created).to.deep.equal([])
    } finally {
      fs.rmSync(root, {recursive: true, force: true})
    }
  })

  it('refuses in-use disks: md member without --force, root SD card and duplicate serials even with it', async () => {
    const {root, runner} = piFixture()
    try {
      const engine = recordingEngine('md', root)
      const tryCreate = (devices: string[], force: boolean) =>
        prepareCreate({name: 'data', engine: 'md', level: '1', devices, force}, {engine, runner, root}).then(
          () => undefined,
          (error: unknown) => error as DiskRefusedError,
        )
      const md = await tryCreate(['sda', 'sdb'], false)
      expect(md).to.be.instanceOf(DiskRefusedError)
      expect(md!.message).to.contain('/dev/sdb carries an md RAID superblock')
      expect(md!.hint).to.contain('--force')
      expect(await tryCreate(['sda', 'sdb'], true)).to.equal(undefined)
      const sd = await tryCreate(['sda', 'mmcblk0'], true)
      expect(sd!.message).to.contain('boot SD card')
      expect((await tryCreate(['sdc', 'sdd'], true))!.message).to.contain('reports the serial "0123456789ABCDEF"')
      expect((await tryCreate(['sda', 'sde'], true))!.message).to.contain('mounted at /srv/old disk')
      expect((await tryCreate(['sda', 'sdf'], true))!.message).to.contain('in use as swap')
      expect((await tryCreate(['sda', 'sdh'], true))!.message).to.contain('in use by dm-0')
    } finally {
      fs.rmSync(root, {recursive: true, force: true})
    }
  })

  it('--force lists what will be erased; the disks are checked again before anything is written', async () => {
    const {root, runner} = piFixture()
    try {
      const engine = recordingEngine('btrfs', root)
      const req = {name: 'pool', engine: 'btrfs' as const, level: '1', devices: ['sda', 'sdb'], force: true}
      const prep = await prepareCreate(req, {engine, runner, root})
      expect(prep.devices[1].overridden.map((r) => r.code)).to.deep.equal(['MD_MEMBER'])
      expect(prep.commands[0]).to.deep.equal(['wipefs', '-a', '/dev/sda'])
      expect(prep.commands).to.deep.include(['mkfs.btrfs', '-L', 'pool', '-d', 'raid1', '-m', 'raid1', '/dev/sda', '/dev/sdb'])
      // While the user read the plan, someone mounted sda.
      fs.appendFileSync(path.join(root, 'proc/self/mountinfo'), '77 24 8:0 / /media/usb rw - ext4 /dev/sda rw\n')
      const err = await executeCreate(prep, req, {engine, runner, root}).catch((error: unknown) => error)
      expect(err).to.be.instanceOf(DiskRefusedError)
      expect((err as Error).message).to.contain('/dev/sda is mounted at /media/usb')
      expect(engine.created).to.deep.equal([])
    } finally {
      fs.rmSync(root, {recursive: true, force: true})
    }
  })
})

describe('raid create: command (built CLI on the fixture Pi)', function () {
  this.timeout(120_000)
  let fx: ReturnType<typeof cliFixture>
  before(function () {
    if (!fs.existsSync(path.join(ROOT, 'dist', 'commands', 'raid', 'create.js'))) this.skip()
    fx = cliFixture()
  })
  after(() => fx?.cleanup())

  it('--dry-run shows the disks, the plan and the exact commands, and changes nothing', async () => {
    const r = await lifeboat(['raid', 'create', 'data', '--level', '1', '--engine', 'btrfs', '--devices', '/dev/sda', '/dev/sdg', '--dry-run'], fx.env)
    expect(r.code, r.stderr).to.equal(0)
    expect(r.stdout).to.contain('/dev/sda  4 TB  WDC WD40EFRX-68N  serial WD-WCC7K1ABCDEF')
    expect(r.stdout).to.match(/usable capacity\s+4 TB/)
    expect(r.stdout).to.contain('  wipefs -a /dev/sda\n')
    expect(r.stdout).to.contain('  mkfs.btrfs -L data -d raid1 -m raid1 /dev/sda /dev/sdg\n')
    expect(r.stdout).to.contain('every member is a USB disk')
    expect(r.stdout).to.contain('Dry run: nothing was changed.')
    const j = await lifeboat(['raid', 'create', 'data', '--level', '1', '--engine', 'btrfs', '--devices', 'sda,sdg', '--dry-run', '--json'], fx.env)
    const env = envelope(j.stdout)
    expect(env.ok).to.equal(true)
    expect(env.result).to.deep.include({dryRun: true, created: false, level: '1', engine: 'btrfs'})
    expect(env.result.commands.at(-2)).to.deep.equal(['mkfs.btrfs', '-L', 'data', '-d', 'raid1', '-m', 'raid1', '/dev/sda', '/dev/sdg'])
    expect(env.result.plan.usableBytes).to.equal(7_814_037_168 * 512)
    // md where the kernel has no md driver (the fixture root has no /proc/mdstat): the dry run still shows the
    // commands, and says the engine cannot run here.
    const md = envelope((await lifeboat(['raid', 'create', 'data', '--level', '1', '--devices', 'sda', 'sdg', '--dry-run', '--json'], fx.env)).stdout)
    expect(md.result.commands.at(-1)).to.include.members(['mdadm', '--create', '--run', '--metadata=1.2', '--bitmap=internal'])
    expect(md.warnings.join('\n')).to.contain('the md engine cannot run here: the kernel has no md driver loaded')
  })

  it('raid plan --devices reads the sizes from the disks', async () => {
    const r = await lifeboat(['raid', 'plan', '--level', '5', '--devices', 'sda', '/dev/sdg', '/dev/disk/by-id/usb-WD_Elements_25A2_575844314142-0:0', '--json'], fx.env)
    expect(r.code, r.stderr).to.equal(0)
    const p = envelope(r.stdout).result
    // sda and sdg: 7 814 037 168 sectors; sde: 1 953 525 168 sectors (512 B). RAID5 = (3−1) × smallest.
    expect(p.disks.map((d: {name: string}) => d.name)).to.deep.equal(['/dev/sda', '/dev/sdg', '/dev/sde'])
    expect(p.usableBytes).to.equal(2 * 1_953_525_168 * 512)
    expect(p.warnings.map((w: {code: string}) => w.code)).to.include.members(['USB_ONLY', 'MIXED_SIZES_WASTE'])
  })

  it('in a script: a missing --devices or --confirm is exit 2 naming the flag; a refused disk is exit 1', async () => {
    const noDevices = await lifeboat(['raid', 'create', 'data', '--level', '1'], fx.env)
    expect(noDevices.code).to.equal(2)
    expect(noDevices.stderr).to.contain('pass --devices')
    const noConfirm = await lifeboat(['raid', 'create', 'data', '--level', '1', '--engine', 'btrfs', '--devices', 'sda', 'sdg', '--json'], fx.env)
    expect(noConfirm.code).to.equal(2)
    expect(envelope(noConfirm.stdout).error.message).to.contain('pass --confirm data')
    const yes = await lifeboat(['raid', 'create', 'data', '--level', '1', '--engine', 'btrfs', '--devices', 'sda', 'sdg', '--yes'], fx.env)
    expect(yes.code).to.equal(2)
    expect(yes.stderr).to.contain('--yes is not enough')
    const wrong = await lifeboat(['raid', 'create', 'data', '--level', '1', '--engine', 'btrfs', '--devices', 'sda', 'sdg', '--confirm', 'dta'], fx.env)
    expect(wrong.code).to.equal(2)
    expect(wrong.stderr).to.contain('does not match')
    const root = await lifeboat(['raid', 'create', 'data', '--level', '1', '--devices', 'sda', '/dev/mmcblk0', '--force', '--dry-run', '--json'], fx.env)
    expect(root.code).to.equal(1)
    const e = envelope(root.stdout).error
    expect(e.code).to.equal('DISK_REFUSED')
    expect(e.details[0].reasons.map((x: {code: string}) => x.code)).to.include.members(['ROOT_DISK', 'BOOT_SD'])
  })

  it('on a terminal without --devices: a picker with the ineligible disks disabled and why', function () {
    const dir = tempDir('lifeboat-pty-')
    try {
      const spec = path.join(dir, 'spec.json')
      fs.writeFileSync(
        spec,
        JSON.stringify({
          argv: [process.execPath, path.join(ROOT, 'bin', 'run.js'), 'raid', 'create', 'pool', '--level', '1', '--engine', 'btrfs', '--dry-run'],
          env: fx.env,
          timeout: 60,
          steps: [
            // The cursor starts on the first eligible disk (sda); space selects, ↓ skips the disabled ones to sdg.
            {expect: 'Disks for RAID 1', send: ' '},
            // One disk is not enough for RAID 1: the picker says so and stays open.
            {expect: '◉', send: '\r'},
            {expect: 'RAID 1 needs at least 2 disks', send: '\u001B[B'},
            {expect: '/dev/sdg', send: ' '},
            {expect: 'WD-WCC7K0PLAIN1', send: '\r'},
          ],
        }),
      )
      let transcript: string
      try {
        transcript = execFileSync('python3', [path.join(ROOT, 'test', 'helpers', 'pty-driver.py'), spec], {encoding: 'utf8'})
      } catch (error: any) {
        throw new Error(`picker run failed (exit ${error.status}):\n${error.stdout}`)
      }
      // The terminal wraps long lines (at spaces): join them again.
      transcript = transcript.replaceAll(/\r?\n/g, '')
      expect(transcript).to.contain('(needs --force: /dev/sdb carries an md RAID superblock')
      expect(transcript).to.contain('(/dev/mmcblk0 holds the root filesystem')
      expect(transcript).to.match(/❯◉ \/dev\/sdg {2}4 TB {2}usb/)
      expect(transcript).to.contain('reports the serial "0123456789ABCDEF"')
      expect(transcript).to.contain('mkfs.btrfs -L pool -d raid1 -m raid1 /dev/sda /dev/sdg')
      expect(transcript).to.contain('Dry run: nothing was changed.')
    } finally {
      fs.rmSync(dir, {recursive: true, force: true})
    }
  })
})
