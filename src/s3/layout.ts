/**
 * What the S3 repository backend and the bucket rules agree on: every pack object carries the tag
 * `lifeboat-pack=data` or `lifeboat-pack=tree`, and keys follow restic's layout under the repository prefix
 * (`<prefix>/config`, `keys/`, `index/`, `snapshots/`, `locks/`, `data/<2 hex>/<id>`). The backup-repo
 * lifecycle preset moves only `<prefix>/data/` objects tagged `data`.
 */
export const PACK_TAG_KEY = 'lifeboat-pack'
export type PackTagValue = 'data' | 'tree'

/** The x-amz-tagging header value (PutObject / CreateMultipartUpload `Tagging`) for a pack. */
export function packTagging(kind: PackTagValue): string {
  return `${PACK_TAG_KEY}=${kind}`
}
