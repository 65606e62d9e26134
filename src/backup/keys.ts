/**
 * Key files (`keys/<id>`): the master key encrypted with a key derived from a password by scrypt.
 * One key file per password; the key file ID is the SHA-256 of its JSON text.
 */
import {createHash, randomBytes} from 'node:crypto'
import os from 'node:os'

import {masterKeyFromJSON, masterKeyToJSON, open, seal, type MasterKey} from './crypto.js'
import {CryptoError, FormatError, MacMismatchError, WrongPasswordError} from './errors.js'
import {scryptParallel} from './native.js'
import {formatGoTime} from './unpacked.js'

export interface KdfParams {
  N: number
  r: number
  p: number
}

/** Defaults for new keys: restic tunes per machine; this is in the range it picks (≈0.1–0.5 s). */
export const DEFAULT_KDF: KdfParams = {N: 32768, r: 8, p: 1}

export const SALT_SIZE = 64

/** The JSON of a key file, restic's field names. */
export interface KeyFile {
  created: string
  username: string
  hostname: string
  kdf: 'scrypt'
  N: number
  r: number
  p: number
  salt: string
  data: string
}

function scrypt(password: string | Buffer, salt: Buffer, params: KdfParams): Promise<Buffer> {
  const {N, r, p} = params
  if (!Number.isInteger(N) || N < 2 || (N & (N - 1)) !== 0) throw new CryptoError(`invalid scrypt N=${N}: must be a power of two`)
  if (!Number.isInteger(r) || !Number.isInteger(p) || r < 1 || p < 1 || 128 * r * N > 2 ** 32) {
    throw new CryptoError(`invalid scrypt parameters N=${N}, r=${r}, p=${p}: more than 4 GiB of memory per lane`)
  }
  // The p lanes run on up to one pool thread per core (restic's calibration often picks p > 1).
  return scryptParallel(password, salt, {N, r, p}, 64, os.availableParallelism())
}

function userKey(derived: Buffer): MasterKey {
  return {encrypt: derived.subarray(0, 32), macK: derived.subarray(32, 48), macR: derived.subarray(48, 64)}
}

function currentUser(): string {
  try {
    return os.userInfo().username
  } catch {
    return process.env.USER ?? ''
  }
}

export interface CreatedKey {
  id: string
  /** The exact bytes to store under keys/<id>. */
  bytes: Buffer
  keyFile: KeyFile
}

/** Creates a key file that stores `master` encrypted under `password`. */
export async function createKeyFile(
  password: string | Buffer,
  master: MasterKey,
  params: KdfParams = DEFAULT_KDF,
  meta: {username?: string; hostname?: string; created?: Date} = {},
): Promise<CreatedKey> {
  const salt = randomBytes(SALT_SIZE)
  const uk = userKey(await scrypt(password, salt, params))
  const data = seal(uk, Buffer.from(JSON.stringify(masterKeyToJSON(master))))
  const keyFile: KeyFile = {
    created: formatGoTime(meta.created ?? new Date()),
    username: meta.username ?? currentUser(),
    hostname: meta.hostname ?? os.hostname(),
    kdf: 'scrypt',
    N: params.N,
    r: params.r,
    p: params.p,
    salt: salt.toString('base64'),
    data: data.toString('base64'),
  }
  const bytes = Buffer.from(JSON.stringify(keyFile))
  return {id: keyFileId(bytes), bytes, keyFile}
}

export function keyFileId(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** Parses and checks the JSON of a key file. */
export function parseKeyFile(bytes: Uint8Array | string, where?: string): KeyFile {
  let j: any
  try {
    j = JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8'))
  } catch (error) {
    throw new FormatError('key file is not valid JSON', {where, cause: error})
  }
  if (!j || typeof j !== 'object') throw new FormatError('key file is not a JSON object', {where})
  if (j.kdf !== 'scrypt') throw new FormatError(`key file uses unsupported KDF ${JSON.stringify(j.kdf)}`, {where})
  for (const f of ['N', 'r', 'p'] as const) {
    if (!Number.isInteger(j[f]) || j[f] < 1) throw new FormatError(`key file has invalid scrypt parameter ${f}`, {where})
  }
  if (typeof j.salt !== 'string' || typeof j.data !== 'string') throw new FormatError('key file lacks salt or data', {where})
  return j as KeyFile
}

/**
 * Opens a key file with a password and returns the master key (r clamped).
 * Throws WrongPasswordError if the password does not fit.
 */
export async function openKeyFile(bytes: Uint8Array | string | KeyFile, password: string | Buffer, where?: string): Promise<MasterKey> {
  const kf = typeof bytes === 'object' && !(bytes instanceof Uint8Array) ? bytes : parseKeyFile(bytes, where)
  const salt = Buffer.from(kf.salt, 'base64')
  const uk = userKey(await scrypt(password, salt, {N: kf.N, r: kf.r, p: kf.p}))
  let plain: Buffer
  try {
    plain = open(uk, Buffer.from(kf.data, 'base64'))
  } catch (error) {
    if (error instanceof MacMismatchError) throw new WrongPasswordError(where)
    throw error
  }
  let j: unknown
  try {
    j = JSON.parse(plain.toString('utf8'))
  } catch (error) {
    throw new FormatError('key file holds an invalid master key', {where, cause: error})
  }
  return masterKeyFromJSON(j)
}
