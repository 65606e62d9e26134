/**
 * A read-only set of 32-byte blob IDs shared with worker threads without copying: the IDs sorted in a
 * SharedArrayBuffer, looked up by binary search. Exact (full 32-byte compare): a false "known" would lose data.
 */
export interface KnownSetData {
  buffer: SharedArrayBuffer
  count: number
}

export function buildKnownSet(idsHex: Iterable<string>): KnownSetData {
  const list: Buffer[] = []
  for (const id of idsHex) list.push(Buffer.from(id, 'hex'))
  list.sort(Buffer.compare)
  const buffer = new SharedArrayBuffer(Math.max(32, list.length * 32))
  const view = Buffer.from(buffer)
  let n = 0
  for (let i = 0; i < list.length; i++) {
    if (n > 0 && list[i].equals(view.subarray((n - 1) * 32, n * 32))) continue
    list[i].copy(view, n * 32)
    n++
  }
  return {buffer, count: n}
}

export class KnownSet {
  private readonly view: Buffer
  constructor(private readonly data: KnownSetData) {
    this.view = Buffer.from(data.buffer)
  }

  has(id: Uint8Array): boolean {
    let lo = 0
    let hi = this.data.count - 1
    const v = this.view
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const c = Buffer.compare(v.subarray(mid * 32, mid * 32 + 32), id)
      if (c === 0) return true
      if (c < 0) lo = mid + 1
      else hi = mid - 1
    }
    return false
  }
}
