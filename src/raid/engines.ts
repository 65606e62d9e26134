import {UsageError} from '../errors.js'
import {defaultRunner} from '../exec/runner.js'
import {BtrfsEngine} from './btrfs/driver.js'
import type {ArrayStatus, EngineEnv, EngineName, RaidEngine} from './engine.js'
import {MdEngine} from './md/driver.js'

export const ENGINE_NAMES: EngineName[] = ['md', 'btrfs']

function fullEnv(env: Partial<EngineEnv> = {}): EngineEnv {
  return {runner: env.runner ?? defaultRunner, root: env.root ?? process.env.LIFEBOAT_RAID_ROOT ?? '/', sleep: env.sleep}
}

/** The engine by name. `env.root` (default "/", or LIFEBOAT_RAID_ROOT) is where /proc and /sys are read. */
export function getEngine(name: EngineName, env?: Partial<EngineEnv>): RaidEngine {
  const e = fullEnv(env)
  if (name === 'md') return new MdEngine(e)
  if (name === 'btrfs') return new BtrfsEngine(e)
  throw new UsageError(`unknown RAID engine "${String(name)}"`, {code: 'BAD_ENGINE', hint: 'use md or btrfs'})
}

/** Every array of every available engine (md arrays, multi-device btrfs filesystems). */
export async function listAll(env?: Partial<EngineEnv>, opts: {engines?: EngineName[]; onSkip?: (engine: EngineName, reason: string) => void} = {}): Promise<ArrayStatus[]> {
  const out: ArrayStatus[] = []
  for (const name of opts.engines ?? ENGINE_NAMES) {
    const eng = getEngine(name, env)
    const av = await eng.available()
    if (!av.ok) {
      opts.onSkip?.(name, av.reason)
      continue
    }
    out.push(...(await eng.list()))
  }
  return out
}

/**
 * Finds the engine holding an array by name, device, UUID or mount point. With `engine` given, only that
 * one is asked; otherwise md first, then btrfs. Two engines both matching is an error naming --engine.
 */
export async function findArray(nameOrDevice: string, env?: Partial<EngineEnv>, engine?: EngineName): Promise<{engine: RaidEngine; status: ArrayStatus}> {
  const names = engine ? [engine] : ENGINE_NAMES
  const found: Array<{engine: RaidEngine; status: ArrayStatus}> = []
  const misses: string[] = []
  for (const n of names) {
    const eng = getEngine(n, env)
    const av = await eng.available()
    if (!av.ok) {
      misses.push(`${n}: ${av.reason}`)
      if (engine) throw new UsageError(`the ${n} engine is not available here: ${av.reason}`, {code: 'ENGINE_UNAVAILABLE', hint: av.hint})
      continue
    }
    try {
      found.push({engine: eng, status: await eng.status(nameOrDevice)})
    } catch (error) {
      if (error instanceof UsageError && error.code === 'ARRAY_NOT_FOUND') {
        misses.push(error.hint ?? error.message)
        continue
      }
      throw error
    }
  }
  if (found.length === 1) return found[0]
  if (found.length > 1) {
    throw new UsageError(`"${nameOrDevice}" names both an md array and a btrfs filesystem`, {code: 'AMBIGUOUS_ARRAY', hint: 'pass --engine md or --engine btrfs'})
  }
  throw new UsageError(`no RAID array "${nameOrDevice}"`, {code: 'ARRAY_NOT_FOUND', where: nameOrDevice, hint: misses.join('; ') || 'see lifeboat raid list'})
}

/** The most precise reference to pass back to an engine for an array just found (md device, btrfs UUID). */
export function arrayRef(s: ArrayStatus): string {
  return s.engine === 'md' ? (s.device ?? s.name) : (s.uuid ?? s.name)
}
