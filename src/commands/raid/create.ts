import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {confirmByName, missingAnswer} from '../../cli/prompt.js'
import {chooseEngine, diskLabel, renderPlan} from '../../cli/raid-render.js'
import {LifeboatError, UsageError} from '../../errors.js'
import {defaultRunner} from '../../exec/runner.js'
import {type CreatePreparation, type CreateRequest, executeCreate, prepareCreate} from '../../raid/create.js'
import {type Disk, eligible, guardDisks, listDisks} from '../../raid/disks.js'
import type {ArrayStatus, EngineName} from '../../raid/engine.js'
import {getEngine} from '../../raid/engines.js'
import {formatDecimal, minDisks, validateLevel} from '../../raid/plan.js'

export interface CreateResult extends Omit<CreatePreparation, 'spec'> {
  dryRun: boolean
  created: boolean
  status?: ArrayStatus
}

export default class RaidCreate extends BaseCommand<typeof RaidCreate> {
  static override description = `Create an md array or a multi-device btrfs filesystem on whole disks, after showing the plan (capacity, failures survived, warnings) and the exact commands.
Refuses disks in use (mounted, swap, held by md/dm/LVM, member of a mounted btrfs, duplicate serials) and never touches the root disk or the boot SD card. Disks with old signatures, partitions or a filesystem need --force. Everything on the disks is erased: you must type the array name (or pass --confirm NAME); old signatures are wiped only after that.
Without --devices on a terminal, pick the disks from a list.`
  static override examples = [
    '<%= config.bin %> raid create data --level 5 --devices /dev/sdb /dev/sdc /dev/sdd --dry-run',
    '<%= config.bin %> raid create data --level 1 --engine btrfs --devices /dev/disk/by-id/usb-WD_A /dev/disk/by-id/usb-WD_B --confirm data',
    '<%= config.bin %> raid create data --level 10',
  ]
  static override args = {name: Args.string({description: 'Array name (md --name, btrfs label).', required: true})}
  static override flags = {
    level: Flags.string({char: 'l', description: 'RAID level: 0, 1, 4, 5, 6, 10, 0+1, 1+0 (md); 0, 1, 1c3, 1c4, 10, 5, 6 (btrfs).', required: true}),
    devices: Flags.string({description: 'Member disks (/dev/sdb, sdb, /dev/disk/by-id/…); several after one flag or comma separated.', multiple: true}),
    engine: Flags.string({description: 'md or btrfs (default: raid.engine from the config, else md).', options: ['md', 'btrfs']}),
    spares: Flags.string({description: 'Hot-spare disks (md only).', multiple: true}),
    chunk: Flags.integer({description: 'Chunk size in KiB (md raid0/4/5/6/10).', min: 4}),
    bitmap: Flags.string({description: 'md write-intent bitmap (faster resync after a crash).', options: ['internal', 'none'], default: 'internal'}),
    'dry-run': Flags.boolean({description: 'Show the plan and the commands, change nothing.'}),
    force: Flags.boolean({description: 'Accept disks with old RAID/btrfs/LVM signatures, partitions or a filesystem (erased). Never the root disk or the boot SD card.'}),
    confirm: Flags.string({description: 'The array name, to confirm erasing the disks without a prompt.'}),
  }

  async run(): Promise<CreateResult> {
    const f = this.flags
    const name = this.args.name
    const engineName = await chooseEngine(f.engine, () => this.getConfig())
    const engine = getEngine(engineName)
    const runner = defaultRunner
    const split = (v?: string[]) => (v ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean)
    let devices = split(f.devices)
    const spares = split(f.spares)
    let disks: Disk[] | undefined
    if (devices.length === 0) {
      const policy = this.prompts
      if (!policy.interactive) throw missingAnswer('the member disks', '--devices DEV…', policy)
      disks = guardDisks(await listDisks({runner}))
      devices = await pickDisks(disks, {force: Boolean(f.force), level: f.level, engine: engineName, exclude: spares})
    }
    const req: CreateRequest = {
      name,
      engine: engineName,
      level: f.level,
      devices,
      spares,
      chunkKiB: f.chunk,
      bitmap: f.bitmap as 'internal' | 'none',
      force: f.force,
    }
    const prep = await prepareCreate(req, {engine, runner, disks})
    const {spec: _spec, ...shown} = prep
    this.warnings.push(...prep.plan.warnings.map((w) => w.message))
    const overridden = [...prep.devices, ...prep.spares].flatMap((d) => d.overridden.map((r) => r.message))
    if (!this.jsonEnabled()) {
      this.log(`Array "${name}" from:`)
      for (const d of [...prep.devices, ...prep.spares]) {
        const spare = prep.spares.includes(d) ? ' (spare)' : ''
        this.log(`  ${d.path}${spare}  ${formatDecimal(d.sizeBytes)}  ${[d.model, d.serial ? `serial ${d.serial}` : '', d.byId].filter(Boolean).join('  ')}`)
      }
      this.log('')
      this.log(renderPlan(prep.plan))
      if (overridden.length > 0) {
        this.log('')
        for (const o of overridden) this.log(`ERASED because of --force: ${o}`)
      }
      this.log('')
      this.log('Commands:')
      for (const c of prep.commands) this.log(`  ${c.map(shellQuote).join(' ')}`)
    }
    const av = await engine.available()
    if (f['dry-run']) {
      if (!av.ok) this.addWarning(`the ${engineName} engine cannot run here: ${av.reason}${av.hint ? ` (${av.hint})` : ''}`)
      if (!this.jsonEnabled()) this.log('\nDry run: nothing was changed.')
      return {...shown, dryRun: true, created: false}
    }
    if (!av.ok) throw new LifeboatError(`the ${engineName} engine cannot run here: ${av.reason}`, {code: 'ENGINE_UNAVAILABLE', hint: av.hint})
    // --yes alone is not enough to erase disks: the name must be typed or given with --confirm.
    const policy = this.prompts
    if (f.confirm === undefined && !policy.interactive) {
      throw new UsageError(`creating "${name}" erases ${devices.length + spares.length} disk(s) and needs confirmation: pass --confirm ${name}`, {
        code: 'CONFIRMATION_REQUIRED',
        hint: f.yes ? '--yes is not enough to erase disks; pass --confirm with the array name' : `not prompting because ${policy.reason ?? 'prompting is off'}`,
      })
    }
    const all = [...prep.devices, ...prep.spares].map((d) => d.path).join(', ')
    await confirmByName({...policy, yes: false}, {name, action: `erase everything on ${all} and create the ${engineName} RAID ${prep.level} "${name}"`, confirm: f.confirm})
    const status = await executeCreate(prep, req, {engine, runner})
    if (!this.jsonEnabled()) this.log(`\nCreated ${engineName} RAID ${prep.level} "${name}"${status.device ? ` (${status.device})` : ''}: ${status.state}. Next: lifeboat raid persist ${name} --mountpoint /srv/${name}`)
    return {...shown, dryRun: false, created: true, status}
  }

}

/** The interactive picker: every disk, the ineligible ones disabled with the reason. */
async function pickDisks(disks: Disk[], o: {force: boolean; level: string; engine: EngineName; exclude: string[]}): Promise<string[]> {
  const min = minDisks(o.engine, validateLevel(o.engine, o.level, 1_000_000))
  const even = o.level === '0+1' || o.level === '1+0'
  const {checkbox} = await import('@inquirer/prompts')
  const choices = disks.map((d) => {
    const ok = eligible(d, o.force)
    const why = d.inUse.filter((r) => !(r.level === 'force' && o.force))
    const reason = why.some((r) => r.level === 'force') && why.every((r) => r.level === 'force') ? `needs --force: ${why[0].message}` : why[0]?.message
    return {
      name: diskLabel(d, false),
      value: d.path,
      disabled: ok ? false : `(${reason})`,
      description: [d.byId[0] ?? d.byPath[0], ...d.inUse.map((r) => r.message)].filter(Boolean).join('; ') || undefined,
    }
  })
  if (!choices.some((c) => c.disabled === false)) {
    throw new UsageError('no disk on this machine can be used for an array', {
      code: 'NO_ELIGIBLE_DISKS',
      hint: disks.map((d) => `${d.path}: ${d.inUse.map((r) => r.message).join('; ') || 'ok'}`).join(' | ') || 'no disks found',
    })
  }
  const picked = await checkbox({
    message: `Disks for RAID ${o.level} (space to select, enter to continue)`,
    choices,
    pageSize: 12,
    validate: (sel) => (sel.length < min ? `RAID ${o.level} needs at least ${min} disks` : even && sel.length % 2 === 1 ? `RAID ${o.level} needs an even number of disks` : true),
  })
  return picked.filter((p) => !o.exclude.includes(p))
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`
}
