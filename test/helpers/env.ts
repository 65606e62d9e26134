import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

/** A fresh temp dir, removed by the returned cleanup. */
export function tempDir(prefix = 'lifeboat-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix))
}

/**
 * Points XDG dirs and HOME at a temp dir for the duration of a test file, so no test reads or writes the
 * real user's config or repository. Returns the dir; call the returned restore() in after().
 */
export function isolateEnv(): {dir: string; restore: () => void} {
  const dir = tempDir()
  const saved: Record<string, string | undefined> = {}
  const set = {
    XDG_CONFIG_HOME: path.join(dir, 'config'),
    XDG_DATA_HOME: path.join(dir, 'data'),
    XDG_STATE_HOME: path.join(dir, 'state'),
    LIFEBOAT_CONFIG: undefined,
    LIFEBOAT_REPOSITORY: undefined,
    LIFEBOAT_PASSWORD: undefined,
    LIFEBOAT_PASSWORD_FILE: undefined,
    LIFEBOAT_AWS_REGION: undefined,
    LIFEBOAT_AWS_PROFILE: undefined,
    RESTIC_REPOSITORY: undefined,
    RESTIC_PASSWORD: undefined,
    RESTIC_PASSWORD_FILE: undefined,
  }
  for (const [k, v] of Object.entries(set)) {
    saved[k] = process.env[k]
    if (v === undefined) delete process.env[k]
    else process.env[k] = v
  }
  return {
    dir,
    restore() {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k]
        else process.env[k] = v
      }
      fs.rmSync(dir, {recursive: true, force: true})
    },
  }
}

/** Runs fn with process.env.TZ set (Node re-reads TZ for local-time Date methods), then restores it. */
export function withTZ<T>(tz: string, fn: () => T): T {
  const old = process.env.TZ
  process.env.TZ = tz
  try {
    return fn()
  } finally {
    if (old === undefined) delete process.env.TZ
    else process.env.TZ = old
  }
}
