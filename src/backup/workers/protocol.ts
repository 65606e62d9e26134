import type {PackedBlob} from '../types.js'
import type {KnownSetData} from './known-set.js'

/** Messages between the archiver (main thread) and its blob workers. */
export interface WorkerInit {
  key: {encrypt: Uint8Array; macK: Uint8Array; macR: Uint8Array}
  polynomial: string
  level: number
  packSize: number
  repoRoot: string
  fsync: boolean
  /** Also hash each pack with MD5 (its upload's Content-MD5, when packs are staged for S3). */
  md5?: boolean
  known: KnownSetData
}

export interface FileJob {
  job: number
  /** Raw path bytes (names need not be UTF-8). */
  path: Uint8Array
  /** Size and mtime (ns, decimal string) seen by the scanner, to detect a file changing while read. */
  size: number
  mtimeNs: string
}

export interface FileResult {
  job: number
  /** Data blob IDs in order; null when the file could not be read. */
  content: string[] | null
  bytes: number
  error?: string
  errorCode?: string
  /** The file changed (size or mtime) while it was read. */
  changed?: boolean
  newBlobs: number
  newBytes: number
}

export type ToWorker =
  | {t: 'files'; batch: FileJob[]}
  | {t: 'known'; ids: string[]}
  | {t: 'flush'; seq: number}

export type FromWorker =
  | {t: 'results'; results: FileResult[]}
  | {t: 'pack'; id: string; blobs: PackedBlob[]; size: number; md5?: string}
  | {t: 'flushed'; seq: number}
  | {t: 'fatal'; message: string; stack?: string}
