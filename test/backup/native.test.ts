import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {createHash, randomBytes, scryptSync} from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {compress, decompress} from 'zstd-napi'

import {ChunkSplitter, chunkerTables} from '../../src/backup/chunker.js'
import {CRYPTO_OVERHEAD, newMasterKey, open, seal, type MasterKey} from '../../src/backup/crypto.js'
import {BlobCorruptError, MacMismatchError} from '../../src/backup/errors.js'
import {lstatMany, lstatManyAsync, NativeChunker, READ_FIELDS, readFiles, scryptParallel, Sealer, sealBound, sha256Into, xattrListSize} from '../../src/backup/native.js'
import {randomPolynomial} from '../../src/backup/polynomial.js'
import {goRandomBytes} from './fixtures/go-math-rand.js'

const TEST_POL = 0x3da3358b4dc173n

/** [chunk length] list of a splitter fed `data` in pieces of the given sizes (cycled). */
function lengths(s: {push(d: Uint8Array): number[]; end(): number}, data: Uint8Array, pieces: number[]): number[] {
  const out: number[] = []
  let last = 0
  let off = 0
  for (let p = 0; off < data.length; p++) {
    const piece = data.subarray(off, off + pieces[p % pieces.length])
    for (const c of s.push(piece)) {
      out.push(off + c - last)
      last = off + c
    }
    off += piece.length
  }
  const tail = s.end()
  if (tail > 0) out.push(tail)
  return out
}

describe('backup/native (C hot path against the TypeScript reference)', () => {
  let data: Buffer
  before(() => {
    data = goRandomBytes(23, 32 * 1024 * 1024)
  })

  it('cuts restic/chunker\'s test vector exactly where the reference chunker does', () => {
    const tables = chunkerTables(TEST_POL)
    const want = lengths(new ChunkSplitter(tables), data, [data.length])
    expect(want.length).to.be.greaterThan(20)
    expect(want[0]).to.equal(2_163_460) // restic/chunker chunks1[0]
    expect(lengths(new NativeChunker(tables), data, [data.length])).to.deep.equal(want)
    // Any push sizes: the window spans buffer boundaries; tiny pieces cross the MinSize skip.
    expect(lengths(new NativeChunker(tables), data, [1_000_003, 17, 64, 63, 65, 4_194_304])).to.deep.equal(want)
    expect(lengths(new NativeChunker(tables, {averageBits: 19}), data, [3_333_333])).to.deep.equal(
      lengths(new ChunkSplitter(tables, {averageBits: 19}), data, [data.length]),
    )
  })

  it('agrees with the reference on random polynomials, zeros (MinSize cuts) and MaxSize cuts', () => {
    for (let k = 0; k < 3; k++) {
      const tables = chunkerTables(randomPolynomial())
      const part = data.subarray(k * 5_000_000, k * 5_000_000 + 12_000_000)
      expect(lengths(new NativeChunker(tables), part, [777_777])).to.deep.equal(lengths(new ChunkSplitter(tables), part, [part.length]))
    }
    const tables = chunkerTables(TEST_POL)
    const zeros = new Uint8Array(3 * 512 * 1024 + 10)
    expect(lengths(new NativeChunker(tables), zeros, [zeros.length])).to.deep.equal([524_288, 524_288, 524_288, 10])
    const small = {minSize: 4096, maxSize: 8192, averageBits: 30}
    expect(lengths(new NativeChunker(tables, small), data.subarray(0, 100_000), [9999])).to.deep.equal(
      lengths(new ChunkSplitter(tables, small), data.subarray(0, 100_000), [100_000]),
    )
  })

  it('derives the same scrypt keys as node:crypto (RFC 7914 vector, restic\'s calibrated p > 1, lanes on 1 to 8 threads)', async () => {
    // RFC 7914 §12, the second vector (N=1024, r=8, p=16, 64 bytes).
    const rfc = await scryptParallel('password', Buffer.from('NaCl'), {N: 1024, r: 8, p: 16}, 64, 2)
    expect(rfc.toString('hex')).to.equal(
      'fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640',
    )
    const salt = randomBytes(64)
    for (const [N, r, p, threads] of [[16, 1, 1, 1], [1024, 8, 7, 2], [2048, 4, 3, 8], [4096, 8, 1, 2], [32768, 8, 2, 2]]) {
      const want = scryptSync('a password', salt, 64, {N, r, p, maxmem: 2 ** 30})
      expect((await scryptParallel('a password', salt, {N, r, p}, 64, threads)).equals(want), `N=${N} r=${r} p=${p} on ${threads} threads`).to.equal(true)
    }
  })

  it('hashes like node:crypto', () => {
    const out = Buffer.alloc(40)
    sha256Into(data.subarray(0, 1_000_001), out, 8)
    expect(out.subarray(8).toString('hex')).to.equal(createHash('sha256').update(data.subarray(0, 1_000_001)).digest('hex'))
  })

  describe('Sealer', () => {
    const key: MasterKey = newMasterKey()
    const sealer = new Sealer(key, 3)
    const text = Buffer.from('log line level=info msg="request served" status=200\n'.repeat(20_000))

    it('seals text compressed and random data as it is; the TypeScript open() reads both', () => {
      const out = Buffer.alloc(sealBound(text.length) + 10)
      const z = sealer.seal(text, out, 10, true)
      expect(z.compressed).to.equal(true)
      expect(z.length).to.be.lessThan(text.length / 10)
      expect(decompress(open(key, out.subarray(10, 10 + z.length)))).to.deep.equal(text)

      const rnd = randomBytes(300_000)
      const out2 = Buffer.alloc(sealBound(rnd.length))
      const r = sealer.seal(rnd, out2, 0, true)
      expect(r).to.deep.equal({length: rnd.length + CRYPTO_OVERHEAD, compressed: false})
      expect(open(key, out2.subarray(0, r.length))).to.deep.equal(rnd)

      const small = Buffer.from('tiny')
      const r3 = sealer.seal(small, out2, 0, false)
      expect(r3.compressed).to.equal(false)
      expect(open(key, out2.subarray(0, r3.length)).toString()).to.equal('tiny')
      const e = sealer.seal(Buffer.alloc(0), out2, 0, true)
      expect(e.length).to.equal(CRYPTO_OVERHEAD)
    })

    it('uses a fresh nonce per blob', () => {
      const a = Buffer.alloc(sealBound(4))
      const b = Buffer.alloc(sealBound(4))
      sealer.seal(Buffer.from('same'), a, 0, false)
      sealer.seal(Buffer.from('same'), b, 0, false)
      expect(a.subarray(0, 16).equals(b.subarray(0, 16))).to.equal(false)
      expect(a.subarray(0, 36).equals(b.subarray(0, 36))).to.equal(false)
    })

    it('opens what the TypeScript seal() wrote, checking MAC, length and blob ID', () => {
      const id = createHash('sha256').update(text).digest()
      const compressedSealed = seal(key, compress(text))
      const out = Buffer.alloc(text.length + compressedSealed.length)
      expect(sealer.open(compressedSealed, out, 0, text.length, id)).to.equal(text.length)
      expect(out.subarray(0, text.length)).to.deep.equal(text)

      const plainSealed = seal(key, text)
      const out2 = Buffer.alloc(plainSealed.length)
      expect(sealer.open(plainSealed, out2, 0, undefined, id)).to.equal(text.length)
      expect(out2.subarray(0, text.length)).to.deep.equal(text)

      const flipped = Buffer.from(plainSealed)
      flipped[100] ^= 1
      expect(() => sealer.open(flipped, out2, 0, undefined, id)).to.throw(MacMismatchError)
      const wrongId = Buffer.from(id)
      wrongId[0] ^= 1
      expect(() => sealer.open(plainSealed, out2, 0, undefined, wrongId, 'ab')).to.throw(BlobCorruptError, /hash mismatch/)
      expect(() => sealer.open(compressedSealed, out, 0, text.length - 1, id, 'ab')).to.throw(BlobCorruptError, /zstd/)
      expect(() => new Sealer(newMasterKey(), 1).open(plainSealed, out2, 0, undefined)).to.throw(MacMismatchError)
    })
  })

  it('reads a group of files whole on the thread pool: contents, size, mtime, and the errno of a missing one', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lb-native-'))
    try {
      const a = path.join(dir, 'a.txt')
      const b = path.join(dir, 'b.bin')
      fs.writeFileSync(a, 'hello')
      fs.writeFileSync(b, data.subarray(0, 70_000))
      const names = [a, path.join(dir, 'missing'), b]
      const paths = Buffer.concat(names.flatMap((n) => [Buffer.from(n), Buffer.alloc(1)]))
      const out = Buffer.alloc(100_000)
      // Capacity one byte over the expected size; b is given one byte less than it has, as a file that grew.
      const slots = new Float64Array([0, 6, 10, 6, 100, 69_999])
      const results = new Float64Array(3 * READ_FIELDS)
      await readFiles(paths, 3, out, slots, results)
      expect(results[0]).to.equal(5)
      expect(out.subarray(0, 5).toString()).to.equal('hello')
      expect(results[2]).to.equal(5)
      const st = fs.statSync(a, {bigint: true})
      expect(BigInt(results[3]) * 1_000_000_000n + BigInt(results[4])).to.equal(st.mtimeNs)
      expect(results[READ_FIELDS + 1]).to.equal(os.constants.errno.ENOENT)
      expect(results[READ_FIELDS + 5]).to.equal(1) // failed at open
      expect(results[2 * READ_FIELDS]).to.equal(69_999)
      expect(results[2 * READ_FIELDS + 2]).to.equal(70_000)
      expect(out.subarray(100, 100 + 69_999)).to.deep.equal(data.subarray(0, 69_999))
    } finally {
      fs.rmSync(dir, {recursive: true, force: true})
    }
  })

  it('lstats a batch like fs.lstatSync (bigint), here or on the thread pool: every field the archiver reads, types, and the error of a missing path', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lb-native-'))
    try {
      const file = path.join(dir, 'f')
      fs.writeFileSync(file, 'x'.repeat(1234))
      fs.symlinkSync('dangling', path.join(dir, 'l'))
      const names = [file, dir, path.join(dir, 'l'), path.join(dir, 'nope')]
      const got = lstatMany(names.map((n) => Buffer.from(n)))
      const viaPool = await lstatManyAsync(names.map((n) => Buffer.from(n)))
      expect(viaPool.map((st) => (st instanceof Error ? st.message : st.mtimeNs))).to.deep.equal(got.map((st) => (st instanceof Error ? st.message : st.mtimeNs)))
      for (const [i, name] of names.slice(0, 3).entries()) {
        const want = fs.lstatSync(name, {bigint: true})
        const st = got[i]
        if (st instanceof Error) throw st
        for (const k of ['dev', 'ino', 'mode', 'nlink', 'uid', 'gid', 'rdev', 'size', 'blocks', 'atimeNs', 'mtimeNs', 'ctimeNs'] as const) {
          expect(st[k], `${name} ${k}`).to.equal(want[k])
        }
        for (const m of ['isFile', 'isDirectory', 'isSymbolicLink', 'isFIFO', 'isSocket', 'isBlockDevice', 'isCharacterDevice'] as const) {
          expect(st[m](), `${name} ${m}`).to.equal(want[m]())
        }
      }
      const missing = got[3] as NodeJS.ErrnoException
      expect(missing).to.be.instanceOf(Error)
      expect(missing.code).to.equal('ENOENT')
      expect(missing.message).to.contain(path.join(dir, 'nope'))
      // Extended attributes: none on a fresh file; a user.* attribute makes the list non-empty.
      expect(xattrListSize(file)).to.equal(0)
      try {
        execFileSync('setfattr', ['-n', 'user.lifeboat', '-v', 'yes', file])
        expect(xattrListSize(Buffer.from(file))).to.equal('user.lifeboat'.length + 1)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error // setfattr (package attr) not installed
      }
    } finally {
      fs.rmSync(dir, {recursive: true, force: true})
    }
  })
})
