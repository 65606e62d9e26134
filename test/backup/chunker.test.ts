import {expect} from 'chai'
import {createHash, randomFillSync} from 'node:crypto'
import {rm, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {
  CHUNKER_MIN_SIZE,
  ChunkSplitter,
  chunkFile,
  chunkStream,
  chunkerTables,
} from '../../src/backup/chunker.js'
import {parsePolynomial} from '../../src/backup/polynomial.js'
import {goRandomBytes} from './fixtures/go-math-rand.js'
import {latestSnapshotTree, makeResticRepo, resticAvailable, resticNodeAt} from './fixtures/restic-cli.js'

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

// restic/chunker chunker_test.go: polynomial 0x3DA3358B4DC173, 32 MiB of Go math/rand (seed 23) data.
const TEST_POL = 0x3da3358b4dc173n
const CHUNKS1: Array<[number, bigint, string]> = [
  [2163460, 0x000b98d4cdf00000n, '4b94cb2cf293855ea43bf766731c74969b91aa6bf3c078719aabdd19860d590d'],
  [643703, 0x000d4e8364d00000n, '5727a63c0964f365ab8ed2ccf604912f2ea7be29759a2b53ede4d6841e397407'],
  [1528956, 0x0015a25c2ef00000n, 'a73759636a1e7a2758767791c69e81b69fb49236c6929e5d1b654e06e37674ba'],
  [1955808, 0x00102a8242e00000n, 'c955fb059409b25f07e5ae09defbbc2aadf117c97a3724e06ad4abd2787e6824'],
  [2222372, 0x00045da878000000n, '6ba5e9f7e1b310722be3627716cf469be941f7f3e39a4c3bcefea492ec31ee56'],
  [2538687, 0x00198a8179900000n, '8687937412f654b5cfe4a82b08f28393a0c040f77c6f95e26742c2fc4254bfde'],
  [609606, 0x001d4e8d17100000n, '5da820742ff5feb3369112938d3095785487456f65a8efc4b96dac4be7ebb259'],
  [1205738, 0x000a7204dd600000n, 'cc70d8fad5472beb031b1aca356bcab86c7368f40faa24fe5f8922c6c268c299'],
  [959742, 0x00183e71e1400000n, '4065bdd778f95676c92b38ac265d361f81bff17d76e5d9452cf985a2ea5a4e39'],
  [4036109, 0x001fec043c700000n, 'b9cf166e75200eb4993fc9b6e22300a6790c75e6b0fc8f3f29b68a752d42f275'],
  [1525894, 0x000b1574b1500000n, '2f238180e4ca1f7520a05f3d6059233926341090f9236ce677690c1823eccab3'],
  [1352720, 0x00018965f2e00000n, 'afd12f13286a3901430de816e62b85cc62468c059295ce5888b76b3af9028d84'],
  [811884, 0x00155628aa100000n, '42d0cdb1ee7c48e552705d18e061abb70ae7957027db8ae8db37ec756472a70a'],
  [1282314, 0x001909a0a1400000n, '819721c2457426eb4f4c7565050c44c32076a56fa9b4515a1c7796441730eb58'],
  [1318021, 0x001cceb980000000n, '842eb53543db55bacac5e25cb91e43cc2e310fe5f9acc1aee86bdf5e91389374'],
  [948640, 0x0011f7a470a00000n, 'b8e36bf7019bb96ac3fb7867659d2167d9d3b3148c09fe0de45850b8fe577185'],
  [645464, 0x00030ce2d9400000n, '5584bd27982191c3329f01ed846bfd266e96548dfa87018f745c33cfc240211d'],
  [533758, 0x0004435c53c00000n, '4da778a25b72a9a0d53529eccfe2e5865a789116cb1800f470d8df685a8ab05d'],
  [1128303, 0x0000c48517800000n, '08c6b0b38095b348d80300f0be4c5184d2744a17147c2cba5cc4315abf4c048f'],
  [800374, 0x000968473f900000n, '820284d2c8fd243429674c996d8eb8d3450cbc32421f43113e980f516282c7bf'],
  [2453512, 0x001e197c92600000n, '5fa870ed107c67704258e5e50abe67509fb73562caf77caa843b5f243425d853'],
  [2651975, 0x000ae6c868000000n, '181347d2bbec32bef77ad5e9001e6af80f6abcf3576549384d334ee00c1988d8'],
  [237392, 0x0000000000000001n, 'fcd567f5d866357a8e299fd5b2359bb2c8157c30395229c4e9b0a353944a7978'],
]
// Same input, averageBits 19: the first chunks of chunks3.
const CHUNKS3_PREFIX: Array<[number, bigint]> = [
  [1491586, 0x00023e586ea80000n],
  [671874, 0x000b98d4cdf00000n],
  [643703, 0x000d4e8364d00000n],
  [1284146, 0x0012b527e4780000n],
  [823366, 0x000d1d6752180000n],
]
const ZERO_CHUNK_DIGEST = '07854d2fef297a06ba81685e660c332de36d5d18d546927d30daad6d7fda1541'

/** Runs a splitter over `data` fed in pieces of the given sizes (cycled); returns [length, cut fp]. */
function split(data: Uint8Array, pieceSizes: number[], opts = {}): Array<[number, bigint]> {
  const s = new ChunkSplitter(chunkerTables(TEST_POL), opts)
  const out: Array<[number, bigint]> = []
  let last = 0
  let off = 0
  for (let p = 0; off < data.length; p++) {
    const piece = data.subarray(off, off + pieceSizes[p % pieceSizes.length])
    const fps: bigint[] = []
    const cuts = s.push(piece, fps)
    cuts.forEach((c, k) => {
      out.push([off + c - last, fps[k]])
      last = off + c
    })
    off += piece.length
  }
  const tail = s.end()
  if (tail > 0) out.push([tail, s.lastFingerprint])
  return out
}

describe('chunker', () => {
  let data: Buffer
  before(() => {
    data = goRandomBytes(23, 32 * 1024 * 1024)
  })

  it('matches restic/chunker test vector chunks1 (lengths, cut fingerprints, SHA-256)', () => {
    const got = split(data, [data.length])
    expect(got.map(([l, f]) => [l, f])).to.deep.equal(CHUNKS1.map(([l, f]) => [l, f]))
    let off = 0
    for (const [len, , digest] of CHUNKS1) {
      expect(sha256(data.subarray(off, off + len))).to.equal(digest)
      off += len
    }
  })

  it('finds the same cuts whatever the push sizes (window across buffer boundaries)', () => {
    const expected = CHUNKS1.map(([l, f]) => [l, f])
    expect(split(data, [1_000_003, 17, 64, 63, 65, 4_194_304])).to.deep.equal(expected)
    expect(split(data.subarray(0, 3 * 1024 * 1024), [4093])).to.deep.equal(
      split(data.subarray(0, 3 * 1024 * 1024), [3 * 1024 * 1024]),
    )
  })

  it('matches chunks3 (averageBits 19)', () => {
    const got = split(data, [8 * 1024 * 1024], {averageBits: 19})
    expect(got.slice(0, CHUNKS3_PREFIX.length)).to.deep.equal(CHUNKS3_PREFIX)
    expect(got.reduce((a, [l]) => a + l, 0)).to.equal(data.length)
  })

  it('cuts all-zero input into MinSize chunks', () => {
    const zeros = new Uint8Array(4 * CHUNKER_MIN_SIZE)
    const got = split(zeros, [zeros.length])
    expect(got).to.deep.equal(Array.from({length: 4}, () => [CHUNKER_MIN_SIZE, 0n]))
    expect(sha256(zeros.subarray(0, CHUNKER_MIN_SIZE))).to.equal(ZERO_CHUNK_DIGEST)
  })

  it('cuts at MaxSize when no boundary is found', () => {
    expect(split(new Uint8Array(1), [1])).to.deep.equal([[1, 1n]])
    const s = new ChunkSplitter(chunkerTables(TEST_POL), {minSize: 64, maxSize: 100, averageBits: 32})
    const r = new Uint8Array(1000)
    randomFillSync(r)
    expect(s.push(r)).to.deep.equal([100, 200, 300, 400, 500, 600, 700, 800, 900, 1000])
    expect(s.end()).to.equal(0)
  })

  it('chunkStream and chunkFile yield the chunks bytes; empty file yields nothing', async () => {
    const tables = chunkerTables(TEST_POL)
    const part = data.subarray(0, 6 * 1024 * 1024)
    const viaStream: string[] = []
    const pieces = [part.subarray(0, 123_457), part.subarray(123_457, 5_000_000), part.subarray(5_000_000)]
    for await (const c of chunkStream(pieces, tables)) viaStream.push(sha256(c))
    let off = 0
    const expected: string[] = []
    for (const [len] of split(part, [part.length])) {
      expected.push(sha256(part.subarray(off, off + len)))
      off += len
    }
    expect(viaStream).to.deep.equal(expected)

    const file = join(process.env.TMPDIR ?? '/tmp', `lifeboat-chunk-${process.pid}`)
    await writeFile(file, part)
    try {
      const viaFile: string[] = []
      for await (const c of chunkFile(file, tables, {readSize: 1024 * 1024 + 7})) viaFile.push(sha256(c))
      expect(viaFile).to.deep.equal(expected)
      await writeFile(file, Buffer.alloc(0))
      const none: Buffer[] = []
      for await (const c of chunkFile(file, tables)) none.push(c)
      expect(none).to.have.length(0)
    } finally {
      await rm(file, {force: true})
    }
  })
})

describe('chunker vs restic 0.14 @integration', function () {
  this.timeout(180_000)
  before(async function () {
    if (!(await resticAvailable())) this.skip()
  })

  it('gives the same data blob IDs, in order, as restic for a 40 MB random file', async () => {
    const r = await makeResticRepo()
    try {
      const config = JSON.parse(await r.restic(['cat', 'config'])) as {chunker_polynomial: string}
      const pol = parsePolynomial(config.chunker_polynomial)
      const file = join(r.dir, 'random.bin')
      const bytes = Buffer.allocUnsafe(40 * 1000 * 1000)
      randomFillSync(bytes)
      await writeFile(file, bytes)
      await r.restic(['backup', '-q', file])
      const {node} = await resticNodeAt(r, await latestSnapshotTree(r), file)
      const ours: string[] = []
      for await (const c of chunkFile(file, chunkerTables(pol))) ours.push(sha256(c))
      expect(ours.length).to.be.greaterThan(10)
      expect(ours).to.deep.equal(node.content)
    } finally {
      await rm(r.dir, {recursive: true, force: true})
    }
  })
})
