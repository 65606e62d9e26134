import type {Runner} from '../exec/runner.js'
import {assertUsable, type Disk, type DiskEnv, guardDisks, type InUseReason, listDisks, resolveDisk, sysRoot} from './disks.js'
import type {Argv, ArrayStatus, CreateSpec, EngineName, RaidEngine, RaidLevel} from './engine.js'
import {type Plan, planArray, validateLevel} from './plan.js'

/**
 * The library half of `raid create`: resolve and guard the disks, plan, list the exact commands; then (after the
 * command has obtained the typed confirmation) check the disks again and create through the engine, which
 * wipes old signatures first (`wipefs -a`, part of the engine's createCommands when spec.wipe is set).
 */

export interface CreateRequest {
  name: string
  engine: EngineName
  level: string
  devices: string[]
  spares?: string[]
  chunkKiB?: number
  bitmap?: 'internal' | 'none'
  force?: boolean
  ure?: number
  rebuildMBps?: number
  afr?: number
}

export interface ChosenDisk {
  path: string
  identity: string
  sizeBytes: number
  model?: string
  serial?: string
  byId?: string
  transport?: string
  /** Reasons accepted because of --force (old signatures, partitions). */
  overridden: InUseReason[]
}

export interface CreatePreparation {
  name: string
  engine: EngineName
  level: RaidLevel
  devices: ChosenDisk[]
  spares: ChosenDisk[]
  plan: Plan
  spec: CreateSpec
  commands: Argv[]
}

export interface CreateDeps extends DiskEnv {
  engine: RaidEngine
  runner?: Runner
  /** Already discovered disks (the picker's list); discovered again when absent. */
  disks?: Disk[]
}

function chosen(d: Disk): ChosenDisk {
  return {path: d.path, identity: d.identity, sizeBytes: d.sizeBytes, model: d.model, serial: d.serial, byId: d.byId[0], transport: d.transport, overridden: d.inUse}
}

export async function prepareCreate(req: CreateRequest, deps: CreateDeps): Promise<CreatePreparation> {
  const level = validateLevel(req.engine, req.level, req.devices.length)
  const disks = deps.disks ?? guardDisks(await listDisks(deps), deps)
  const root = sysRoot(deps)
  const members = req.devices.map((s) => resolveDisk(disks, s, root))
  const spares = (req.spares ?? []).map((s) => resolveDisk(disks, s, root))
  assertUsable([...members, ...spares], Boolean(req.force))
  const plan = planArray({
    engine: req.engine,
    level,
    disks: members.map((d) => ({name: d.path, sizeBytes: d.sizeBytes, usb: d.usb, rotational: d.rotational})),
    spares: spares.map((d) => ({name: d.path, sizeBytes: d.sizeBytes, usb: d.usb})),
    ure: req.ure,
    rebuildMBps: req.rebuildMBps,
    afr: req.afr,
  })
  const spec: CreateSpec = {
    name: req.name,
    level,
    devices: members.map((d) => d.path),
    spares: spares.length > 0 ? spares.map((d) => d.path) : undefined,
    chunkKiB: req.chunkKiB,
    bitmap: req.bitmap,
    wipe: true,
  }
  const commands = deps.engine.createCommands(spec)
  return {name: req.name, engine: req.engine, level, devices: members.map(chosen), spares: spares.map(chosen), plan, spec, commands}
}

/**
 * Creates the array planned by `prepareCreate`. Call only after the user confirmed. The disks are discovered
 * and guarded again first: something may have mounted one while the user was reading the plan.
 */
export async function executeCreate(prep: CreatePreparation, req: CreateRequest, deps: CreateDeps): Promise<ArrayStatus> {
  const again = guardDisks(await listDisks(deps), deps)
  const root = sysRoot(deps)
  assertUsable([...req.devices, ...(req.spares ?? [])].map((s) => resolveDisk(again, s, root)), Boolean(req.force))
  return deps.engine.create(prep.spec)
}
