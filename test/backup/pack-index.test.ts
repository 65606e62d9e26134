import {expect} from 'chai'
import {createHash, randomBytes} from 'node:crypto'

import {newMasterKey, open, seal} from '../../src/backup/crypto.js'
import {BlobCorruptError, FormatError, MacMismatchError} from '../../src/backup/errors.js'
import {indexToJSON, MasterIndex, splitIndex} from '../../src/backup/index.js'
import {decodeBlob, encodeBlob, PackWriter, readPackHeader} from '../../src/backup/pack.js'
import type {PackedBlob} from '../../src/backup/types.js'
import {decodeConfig, decodeUnpacked, encodeConfig, encodeUnpacked, formatGoTime} from '../../src/backup/unpacked.js'

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')
const rid = () => randomBytes(32).toString('hex')

describe('backup/pack', () => {
  const key = newMasterKey()

  it('encodes blobs: compresses when it helps, stores random data plain, and decodes with hash check', () => {
    const text = Buffer.from('abc'.repeat(10_000))
    const e1 = encodeBlob(key, text, true, 3)
    expect(e1.id).to.equal(sha(text))
    expect(e1.uncompressedLength).to.equal(text.length)
    expect(e1.encrypted.length).to.be.lessThan(text.length / 10)
    expect(decodeBlob(key, e1.encrypted, e1.id, e1.uncompressedLength).equals(text)).to.equal(true)

    const rnd = randomBytes(10_000)
    const e2 = encodeBlob(key, rnd, true, 3)
    expect(e2.uncompressedLength).to.equal(undefined)
    expect(decodeBlob(key, e2.encrypted, e2.id).equals(rnd)).to.equal(true)

    expect(() => decodeBlob(key, e2.encrypted, rid())).to.throw(BlobCorruptError)
  })

  it('writes a pack whose header reads back with offsets, both entry forms, and an ID that is the SHA-256 of the bytes', async () => {
    const w = new PackWriter(key)
    const blobs = [Buffer.from('x'.repeat(5000)), randomBytes(3000), Buffer.from('y'.repeat(7000))].map((b) => encodeBlob(key, b, true, 3))
    for (const b of blobs) w.add('data', b.id, b.encrypted, b.uncompressedLength)
    expect(w.has('data', blobs[1].id)).to.equal(true)
    expect(w.has('tree', blobs[1].id)).to.equal(false)
    const fp = w.finish()
    const bytes = Buffer.concat(fp.parts)
    expect(bytes.length).to.equal(fp.size)
    expect(fp.id).to.equal(sha(bytes))
    const got = await readPackHeader(bytes, bytes.length, key)
    expect(got).to.deep.equal(fp.blobs)
    expect(got.map((b) => b.uncompressedLength !== undefined)).to.deep.equal([true, false, true])
    // decrypted header length: two 41-byte entries and one 37-byte entry
    const hlen = bytes.readUInt32LE(bytes.length - 4)
    const header = open(key, bytes.subarray(bytes.length - 4 - hlen, bytes.length - 4))
    expect(header.length).to.equal(41 + 37 + 41)
    for (const b of got) {
      const enc = bytes.subarray(b.offset, b.offset + b.length)
      expect(sha(decodeBlob(key, enc, b.id, b.uncompressedLength))).to.equal(b.id)
    }
    // through a range reader: a large header needing a second read
    const w2 = new PackWriter(key)
    for (let i = 0; i < 300; i++) {
      const e = encodeBlob(key, randomBytes(40), false)
      w2.add('tree', e.id, e.encrypted)
    }
    const p2 = Buffer.concat(w2.finish().parts)
    let reads = 0
    const list = await readPackHeader(
      async (o, l) => {
        reads++
        return p2.subarray(o, o + l)
      },
      p2.length,
      key,
    )
    expect(list).to.have.length(300)
    expect(reads).to.equal(2)
  })

  it('rejects a pack whose sizes do not add up, or whose header was tampered with', async () => {
    const w = new PackWriter(key)
    const e = encodeBlob(key, Buffer.from('hello'), false)
    w.add('data', e.id, e.encrypted)
    const bytes = Buffer.concat(w.finish().parts)
    const padded = Buffer.concat([Buffer.alloc(7), bytes])
    let err: unknown
    await readPackHeader(padded, padded.length, key).catch((error) => (err = error))
    expect(err).to.be.instanceOf(FormatError)
    const bad = Buffer.from(bytes)
    bad[bad.length - 10] ^= 1
    err = undefined
    await readPackHeader(bad, bad.length, key).catch((error) => (err = error))
    expect(err).to.be.instanceOf(MacMismatchError)
    const badLen = Buffer.from(bytes)
    badLen.writeUInt32LE(0xffffff, badLen.length - 4)
    err = undefined
    await readPackHeader(badLen, badLen.length, key).catch((error) => (err = error))
    expect(err).to.be.instanceOf(FormatError)
  })
})

describe('backup/unpacked', () => {
  const key = newMasterKey()
  it('round-trips v2 (0x02 + zstd) and reads v1 plain JSON', () => {
    const v = {packs: [{id: rid(), blobs: []}]}
    const enc = encodeUnpacked(key, v)
    expect(open(key, enc)[0]).to.equal(0x02)
    expect(decodeUnpacked(key, enc)).to.deep.equal(v)
    expect(decodeUnpacked(key, seal(key, Buffer.from(JSON.stringify(v))))).to.deep.equal(v)
    expect(() => decodeUnpacked(key, seal(key, Buffer.from([0x07, 1, 2])))).to.throw(FormatError)
  })
  it('stores config as plain encrypted JSON', () => {
    const cfg = {version: 2, id: rid(), chunker_polynomial: '3da3358b4dc173'}
    const enc = encodeConfig(key, cfg)
    expect(JSON.parse(open(key, enc).toString())).to.deep.equal(cfg)
    expect(decodeConfig(key, enc)).to.deep.equal(cfg)
  })
  it('formats times like Go RFC3339Nano', () => {
    const s = formatGoTime(new Date('2024-03-04T05:06:07.120Z'))
    expect(s).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.12(Z|[+-]\d\d:\d\d)$/)
    expect(Date.parse(s)).to.equal(Date.parse('2024-03-04T05:06:07.120Z'))
    expect(formatGoTime(1_700_000_000_123_456_789n)).to.match(/\.123456789(Z|[+-]\d\d:\d\d)$/)
  })
})

describe('backup/index', () => {
  it('adds, looks up and keeps several locations of one blob', () => {
    const idx = new MasterIndex(4)
    const p1 = rid()
    const p2 = rid()
    const blobs: PackedBlob[] = []
    for (let i = 0; i < 1000; i++) blobs.push({id: rid(), type: i % 3 ? 'data' : 'tree', offset: i * 100, length: 100, ...(i % 2 ? {uncompressedLength: 300} : {})})
    idx.add(p1, blobs)
    expect(idx.size).to.equal(1000)
    for (const b of blobs) {
      expect(idx.has(b.type, b.id)).to.equal(true)
      expect(idx.has(b.type === 'data' ? 'tree' : 'data', b.id)).to.equal(false)
      expect(idx.lookup(b.type, b.id)).to.deep.equal({...b, packId: p1})
    }
    idx.add(p1, blobs.slice(0, 10)) // overlap: ignored
    expect(idx.size).to.equal(1000)
    idx.add(p2, [{...blobs[0], offset: 0}])
    expect(idx.lookupAll(blobs[0].type, blobs[0].id).map((l) => l.packId)).to.deep.equal([p1, p2])
    expect(idx.lookup('data', rid())).to.equal(undefined)
    expect([...idx.packs()].map((p) => [p.id, p.blobs.length])).to.deep.equal([
      [p1, 1000],
      [p2, 1],
    ])
  })

  it('serializes restic\'s index JSON and loads it back, reading supersedes', () => {
    const pack = rid()
    const blobs: PackedBlob[] = [
      {id: rid(), type: 'data', offset: 0, length: 50, uncompressedLength: 90},
      {id: rid(), type: 'tree', offset: 50, length: 60},
    ]
    const j = indexToJSON([{id: pack, blobs}])
    expect(JSON.stringify(j)).to.equal(
      `{"packs":[{"id":"${pack}","blobs":[{"id":"${blobs[0].id}","type":"data","offset":0,"length":50,"uncompressed_length":90},` +
        `{"id":"${blobs[1].id}","type":"tree","offset":50,"length":60}]}]}`,
    )
    const idx = new MasterIndex()
    const old = rid()
    idx.addIndexJSON({...j, supersedes: [old]}, rid())
    expect(idx.superseded.has(old)).to.equal(true)
    expect(idx.lookup('tree', blobs[1].id)?.offset).to.equal(50)
    expect(() => idx.addIndexJSON({packs: [{id: pack, blobs: [{id: 'zz', type: 'data', offset: 0, length: 1}]}]} as any)).to.throw(FormatError)
  })

  it('splits large indexes into files under the blob limit without splitting a pack', () => {
    const packs = Array.from({length: 30}, () => ({id: rid(), blobs: Array.from({length: 7}, (_, i) => ({id: rid(), type: 'data' as const, offset: i, length: 1}))}))
    const files = splitIndex(packs, 50)
    expect(files.length).to.equal(5) // 7 packs (49 blobs) per file
    expect(files.flatMap((f) => f.packs.map((p) => p.id))).to.deep.equal(packs.map((p) => p.id))
    for (const f of files) expect(f.packs.reduce((n, p) => n + p.blobs.length, 0)).to.be.at.most(50)
  })

  it('stays compact: 200k blobs in well under 100 bytes each', () => {
    const idx = new MasterIndex()
    const pack = rid()
    const base = randomBytes(32 * 200_000)
    const blobs: PackedBlob[] = []
    for (let i = 0; i < 200_000; i++) blobs.push({id: base.toString('hex', i * 32, i * 32 + 32), type: 'data', offset: i, length: 1})
    idx.add(pack, blobs)
    expect(idx.size).to.equal(200_000)
    expect(idx.memoryUsage / idx.size).to.be.lessThan(100)
    expect(idx.has('data', blobs[123_456].id)).to.equal(true)
  })
})
