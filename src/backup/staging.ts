/**
 * Packs of a backup into a remote repository (S3): the blob workers write each pack into a local staging
 * folder (the same layout as a local repository's data/), and the main thread uploads it from there with
 * `connections` uploads at a time, deletes the staged file, and only then lets the index name the pack.
 * A run killed half-way leaves staged files in the temporary folder, never a pack that an index names but
 * the bucket lacks.
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import type {Repository} from './repository.js'
import type {Backend, PackedBlob} from './types.js'

export async function makeStagingFolder(base = os.tmpdir()): Promise<string> {
  const root = await fs.mkdtemp(path.join(base, 'lifeboat-staging-'))
  await Promise.all(Array.from({length: 256}, (_, i) => fs.mkdir(path.join(root, 'data', i.toString(16).padStart(2, '0')), {recursive: true, mode: 0o700})))
  return root
}

export class PackUploader {
  private readonly uploads = new Set<Promise<void>>()
  private error: unknown
  uploadedBytes = 0
  uploadedPacks = 0

  constructor(
    private readonly repo: Repository,
    private readonly backend: Backend & Required<Pick<Backend, 'saveFile'>>,
    readonly stagingRoot: string,
    private readonly connections: number,
  ) {}

  /** Starts the upload of a staged pack; waits while `connections` uploads are running. */
  async enqueue(id: string, blobs: PackedBlob[], size: number, md5?: string): Promise<void> {
    if (this.error) throw this.error
    while (this.uploads.size >= this.connections) {
      await Promise.race(this.uploads)
      if (this.error) throw this.error
    }
    const file = path.join(this.stagingRoot, 'data', id.slice(0, 2), id)
    const p: Promise<void> = (async () => {
      await this.backend.saveFile({type: 'pack', name: id}, file, size, {packType: 'data', md5})
      await fs.unlink(file).catch(() => {})
      this.uploadedBytes += size
      this.uploadedPacks++
      await this.repo.registerPack(id, blobs)
    })()
      .catch((error: unknown) => {
        this.error ??= error
      })
      .finally(() => this.uploads.delete(p))
    this.uploads.add(p)
  }

  /** Waits for every started upload; throws the first failure. */
  async drain(): Promise<void> {
    while (this.uploads.size > 0) await Promise.all([...this.uploads])
    if (this.error) throw this.error
  }

  /** Waits for running uploads (ignoring their outcome) and removes the staging folder. */
  async dispose(): Promise<void> {
    await Promise.allSettled([...this.uploads])
    await fs.rm(this.stagingRoot, {recursive: true, force: true})
  }
}
