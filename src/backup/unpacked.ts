/**
 * Unpacked files: index, snapshot and lock files (one encrypted JSON document each), and the config file.
 *
 * v2 plaintext: 0x02 ‖ one zstd frame of the JSON. v1 plaintext (also accepted on read): the JSON itself.
 * config: encrypted JSON, never compressed, no version byte.
 */
import {compress, decompress} from 'zstd-napi'

import {open, seal, type MasterKey} from './crypto.js'
import {FormatError} from './errors.js'

export const UNPACKED_V2 = 0x02
/** zstd level matching restic's "auto" compression (zstd default speed). */
export const DEFAULT_COMPRESSION_LEVEL = 3

/** Plaintext of a v2 unpacked file holding `json`. */
export function packUnpackedPlaintext(json: Uint8Array, level = DEFAULT_COMPRESSION_LEVEL): Buffer {
  const z = compress(json, {compressionLevel: level})
  const out = Buffer.allocUnsafe(1 + z.length)
  out[0] = UNPACKED_V2
  z.copy(out, 1)
  return out
}

/** JSON bytes from the plaintext of an unpacked file (v2 compressed or v1 plain). */
export function unpackUnpackedPlaintext(plain: Buffer, where?: string): Buffer {
  if (plain.length === 0) throw new FormatError('unpacked file is empty', {where})
  const first = plain[0]
  if (first === 0x7b /* { */ || first === 0x5b /* [ */) return plain
  if (first === UNPACKED_V2) {
    try {
      return decompress(plain.subarray(1))
    } catch (error) {
      throw new FormatError('unpacked file: zstd decompression failed', {where, cause: error})
    }
  }
  throw new FormatError(`unpacked file: unsupported version byte 0x${first.toString(16).padStart(2, '0')}`, {where})
}

/** Encrypts a JSON value (or ready JSON bytes) as a v2 unpacked file. */
export function encodeUnpacked(key: MasterKey, value: unknown, level = DEFAULT_COMPRESSION_LEVEL): Buffer {
  const json = value instanceof Uint8Array ? value : Buffer.from(JSON.stringify(value))
  return seal(key, packUnpackedPlaintext(json, level))
}

/** Decrypts an unpacked file and returns its JSON bytes. */
export function decodeUnpackedBytes(key: MasterKey, data: Uint8Array, where?: string): Buffer {
  return unpackUnpackedPlaintext(open(key, data), where)
}

/** Decrypts and parses an unpacked file. */
export function decodeUnpacked<T = unknown>(key: MasterKey, data: Uint8Array, where?: string): T {
  const json = decodeUnpackedBytes(key, data, where)
  try {
    return JSON.parse(json.toString('utf8')) as T
  } catch (error) {
    throw new FormatError('unpacked file does not hold valid JSON', {where, cause: error})
  }
}

/** The config file's JSON (restic's field names). */
export interface ConfigJSON {
  version: number
  id: string
  chunker_polynomial: string
}

export function encodeConfig(key: MasterKey, cfg: ConfigJSON): Buffer {
  return seal(key, Buffer.from(JSON.stringify({version: cfg.version, id: cfg.id, chunker_polynomial: cfg.chunker_polynomial})))
}

export function decodeConfig(key: MasterKey, data: Uint8Array, where?: string): ConfigJSON {
  const plain = open(key, data)
  let j: any
  try {
    j = JSON.parse(plain.toString('utf8'))
  } catch (error) {
    throw new FormatError('config is not valid JSON', {where, cause: error})
  }
  if (!j || typeof j !== 'object' || !Number.isInteger(j.version) || typeof j.id !== 'string' || typeof j.chunker_polynomial !== 'string') {
    throw new FormatError('config lacks version, id or chunker_polynomial', {where})
  }
  if (j.version < 1 || j.version > 2) {
    throw new FormatError(`unsupported repository version ${j.version} (this program reads versions 1 and 2)`, {where})
  }
  return j as ConfigJSON
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0')

/**
 * Go's RFC 3339 with nanoseconds in local time (time.RFC3339Nano): trailing zeros of the fraction dropped,
 * "Z" for UTC. `nanos` (0–999999) adds sub-millisecond precision to `d`; or pass nanoseconds since the epoch.
 */
export function formatGoTime(d: Date | bigint, nanos = 0): string {
  let date: Date
  let frac: number // nanoseconds within the second
  if (typeof d === 'bigint') {
    const ms = d / 1_000_000n
    date = new Date(Number(ms))
    const ns = ((d % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n
    frac = Number(ns)
  } else {
    date = d
    frac = date.getMilliseconds() * 1_000_000 + nanos
  }
  const off = -date.getTimezoneOffset()
  let s = `${pad(date.getFullYear(), 4)}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  if (frac > 0) s += '.' + String(frac).padStart(9, '0').replace(/0+$/, '')
  if (off === 0) return s + 'Z'
  const a = Math.abs(off)
  return `${s}${off < 0 ? '-' : '+'}${pad(Math.floor(a / 60))}:${pad(a % 60)}`
}
