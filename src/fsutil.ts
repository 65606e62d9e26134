/**
 * Writing a small file so that a reader (or a crash) never sees half of it: a temporary file in the same
 * folder, written, fsynced, given its exact mode, then renamed over the target. One implementation for every
 * state, config, unit and metrics file Lifeboat writes (the backup repository has its own, restic-compatible one).
 */
import {randomBytes} from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

export interface AtomicWriteOptions {
  /** Mode of the new file, exactly (the umask does not apply). Default 0600. */
  mode?: number
  /** Create the folder first (with mode 0700 when new). */
  mkdir?: boolean
  /** A suffix of the temporary name that tools watching the folder ignore (default ".tmp-…"). */
  tmpSuffix?: string
}

function tmpName(file: string, o: AtomicWriteOptions): string {
  return `${file}${o.tmpSuffix ?? '.tmp'}-${process.pid}-${randomBytes(4).toString('hex')}`
}

export function writeFileAtomicSync(file: string, content: string | Uint8Array, o: AtomicWriteOptions = {}): void {
  if (o.mkdir) fs.mkdirSync(path.dirname(file), {recursive: true, mode: 0o700})
  const tmp = tmpName(file, o)
  const fd = fs.openSync(tmp, 'wx', o.mode ?? 0o600)
  try {
    try {
      fs.writeFileSync(fd, content)
      fs.fchmodSync(fd, o.mode ?? 0o600)
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
    fs.renameSync(tmp, file)
  } catch (error) {
    fs.rmSync(tmp, {force: true})
    throw error
  }
}

export async function writeFileAtomic(file: string, content: string | Uint8Array, o: AtomicWriteOptions = {}): Promise<void> {
  if (o.mkdir) await fs.promises.mkdir(path.dirname(file), {recursive: true, mode: 0o700})
  const tmp = tmpName(file, o)
  const fh = await fs.promises.open(tmp, 'wx', o.mode ?? 0o600)
  try {
    try {
      await fh.writeFile(content)
      await fh.chmod(o.mode ?? 0o600)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await fs.promises.rename(tmp, file)
  } catch (error) {
    await fs.promises.rm(tmp, {force: true})
    throw error
  }
}
