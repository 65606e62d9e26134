/**
 * Shared types of the backup engine (restic repository format v2).
 * Every module of src/backup/ speaks these; none of them imports oclif, inquirer or listr2.
 */

/** A blob is a chunk of file data or a serialized tree. */
export type BlobType = 'data' | 'tree'

/** How a restore or check --read-data treats packs in cold storage. */
export interface ColdReadOptions {
  tier: 'Expedited' | 'Standard' | 'Bulk'
  wait: boolean
  /** The command line to repeat with --wait, for the error message. */
  argv: string[]
  onProgress?: (p: {ready: number; pending: number; total: number}) => void
}

/** Kinds of files a backend stores (restic's layout). */
export type FileType = 'config' | 'key' | 'pack' | 'index' | 'snapshot' | 'lock'

/** A file in a backend. `name` is the 64-hex ID (or "config"). */
export interface FileHandle {
  type: FileType
  name: string
}

export interface FileInfo {
  name: string
  size: number
}

/**
 * Storage of a repository: a local folder now, S3 later. Files are written once and never changed.
 * `save` must be atomic: a reader never sees a half-written file (write temp, fsync, rename).
 */
export interface Backend {
  /** Human-readable location, e.g. the folder path or s3 URL. */
  readonly location: string
  /** Creates the layout (folders). Fails if a config already exists. */
  create(): Promise<void>
  exists(h: FileHandle): Promise<boolean>
  /** `opts.packType` says what a pack holds (S3 tags the object with it; the local folder ignores it). */
  save(h: FileHandle, data: Uint8Array, opts?: {packType?: BlobType}): Promise<void>
  /**
   * Remote backends only: uploads a file staged on local disk (a pack written by a backup worker), streamed.
   * Backends without it are local folders: workers write their packs into them directly.
   */
  saveFile?(h: FileHandle, file: string, size: number, opts?: {packType?: BlobType; md5?: string}): Promise<void>
  /**
   * Remote backends with cold storage only: makes sure the given packs can be read (asks S3 to restore
   * those in Glacier / Deep Archive, and waits when `wait` is set); throws a clear error naming the command to
   * run later when they are not ready. Returns notes for the user.
   */
  prepareRead?(packIds: string[], opts: ColdReadOptions): Promise<string[]>
  /** Objects (of those given) that cannot be deleted yet because of object-lock retention. */
  retained?(handles: FileHandle[]): Promise<Array<{handle: FileHandle; until: Date; mode?: string}>>
  /** Reads the whole file, or `length` bytes from `offset` when given. */
  load(h: FileHandle, offset?: number, length?: number): Promise<Buffer>
  stat(h: FileHandle): Promise<FileInfo>
  list(type: FileType): Promise<FileInfo[]>
  remove(h: FileHandle): Promise<void>
  close(): Promise<void>
}

/** Where a blob lives: which pack, at which offset, and its lengths. */
export interface PackedBlob {
  id: string // hex SHA-256 of the plaintext (uncompressed)
  type: BlobType
  offset: number
  length: number // encrypted length in the pack (incl. 32 bytes crypto overhead)
  uncompressedLength?: number // only for compressed blobs: plaintext length
}

export interface IndexPackEntry {
  id: string // pack id
  blobs: PackedBlob[]
}

/** A node of a tree, restic's JSON field names (encoded Go-compatibly by tree.ts). */
export interface TreeNode {
  name: string // raw name; may contain invalid UTF-8 → kept as Buffer in nameRaw
  nameRaw?: Buffer // exact bytes of the name when not valid UTF-8
  type: 'file' | 'dir' | 'symlink' | 'dev' | 'chardev' | 'fifo' | 'socket' | 'irregular'
  mode?: number // Go FileMode bits
  mtime: string // RFC 3339 with nanoseconds and local offset, Go format
  atime: string
  ctime: string
  uid: number
  gid: number
  user?: string
  group?: string
  inode?: number
  device_id?: number
  size?: number
  links?: number
  linktarget?: string
  linktargetRaw?: Buffer // exact target bytes when not valid UTF-8 (written as linktarget_raw, as restic ≥ 0.17)
  /**
   * Set when a decoded tree's linktarget held `\ufffd` escapes standing for invalid UTF-8 bytes (what
   * restic 0.14 writes; the bytes are lost): the encoder writes U+FFFD back as that escape.
   */
  linktargetInvalidUtf8?: boolean
  extended_attributes?: Array<{name: string; value: Buffer}>
  device?: number
  content: string[] | null // data blob IDs for files ([] for empty), null otherwise
  subtree?: string // tree blob ID for dirs
  error?: string
}

export interface Tree {
  nodes: TreeNode[]
}

export interface SnapshotSummary {
  backup_start: string
  backup_end: string
  files_new: number
  files_changed: number
  files_unmodified: number
  dirs_new: number
  dirs_changed: number
  dirs_unmodified: number
  data_blobs: number
  tree_blobs: number
  data_added: number
  data_added_packed: number
  total_files_processed: number
  total_bytes_processed: number
}

/** Snapshot JSON (restic field names). */
export interface Snapshot {
  time: string
  parent?: string
  tree: string
  paths: string[]
  hostname?: string
  username?: string
  uid?: number
  gid?: number
  excludes?: string[]
  tags?: string[]
  original?: string
  program_version?: string
  summary?: SnapshotSummary
}

/** Progress events: the one interface of src/progress.ts. */
export type {ProgressEvent, ProgressListener} from '../progress.js'
