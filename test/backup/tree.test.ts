import {expect} from 'chai'
import {createHash} from 'node:crypto'
import {mkdir, rm} from 'node:fs/promises'
import {join} from 'node:path'
import {decodeTree, encodeTree, goJsonString, goQuote, goUnquote} from '../../src/backup/tree.js'
import type {TreeNode} from '../../src/backup/types.js'
import {latestSnapshotTree, makeResticRepo, resticAvailable} from './fixtures/restic-cli.js'
import {NON_UTF8_NAME, makeVariedTree} from './fixtures/varied-tree.js'

const T = '2021-03-04T05:06:07.123456789Z'
const base = (name: string, extra: Partial<TreeNode> = {}): TreeNode => ({
  name, type: 'file', mode: 420, mtime: T, atime: T, ctime: T, uid: 0, gid: 0, content: [], ...extra,
})

describe('tree encoding', () => {
  it('quotes names like Go strconv.Quote and reads them back', () => {
    const cases: Array<[Buffer, string]> = [
      [Buffer.from('plain.txt'), 'plain.txt'],
      [Buffer.from('a"b\\c'), 'a\\"b\\\\c'],
      [Buffer.from('t\tn\nc\x01\x7f'), 't\\tn\\nc\\x01\\x7f'],
      [NON_UTF8_NAME, 'bad\\xff\\xfename'],
      [Buffer.from('ls\u2028 nb\u00a0 ü'), 'ls\\u2028 nb\\u00a0 ü'],
      [Buffer.from('😀\u{e0001}'), '😀\\U000e0001'],
      [Buffer.from([0xed, 0xa0, 0x80]), '\\xed\\xa0\\x80'], // UTF-8-encoded surrogate is invalid in Go
    ]
    for (const [bytes, quoted] of cases) {
      expect(goQuote(bytes)).to.equal(quoted)
      expect(goUnquote(quoted).equals(bytes)).to.equal(true)
    }
  })

  it('escapes JSON strings like Go 1.19 encoding/json', () => {
    expect(goJsonString('<a&b>')).to.equal('"\\u003ca\\u0026b\\u003e"')
    expect(goJsonString('q"\\\n\r\t\b\f\x00')).to.equal('"q\\"\\\\\\n\\r\\t\\u0008\\u000c\\u0000"')
    expect(goJsonString('\u2028\u2029\x7f ü')).to.equal('"\\u2028\\u2029\x7f ü"')
  })

  it('sorts by name bytes, omits empty fields, writes content null / [] and a trailing newline', () => {
    const nodes: TreeNode[] = [
      base('b', {size: 3, links: 1, content: ['aa']}),
      {...base('a', {type: 'dir', mode: 2147484141, content: null, subtree: 'ff'})},
      base('Z'),
    ]
    expect(encodeTree(nodes).toString()).to.equal(
      '{"nodes":[' +
        `{"name":"Z","type":"file","mode":420,"mtime":"${T}","atime":"${T}","ctime":"${T}","uid":0,"gid":0,"content":[]},` +
        `{"name":"a","type":"dir","mode":2147484141,"mtime":"${T}","atime":"${T}","ctime":"${T}","uid":0,"gid":0,"content":null,"subtree":"ff"},` +
        `{"name":"b","type":"file","mode":420,"mtime":"${T}","atime":"${T}","ctime":"${T}","uid":0,"gid":0,"size":3,"links":1,"content":["aa"]}` +
        ']}\n',
    )
    expect(encodeTree([]).toString()).to.equal('{"nodes":[]}\n')
    expect(() => encodeTree([base('x'), base('x')])).to.throw(/duplicate/)
  })

  it('writes linktarget_raw for non-UTF-8 targets and round-trips it', () => {
    const n = base('l', {type: 'symlink', mode: 134218239, content: null, linktarget: 'tgt\ufffd', linktargetRaw: Buffer.from([0x74, 0x67, 0x74, 0xff])})
    const enc = encodeTree([n])
    expect(enc.toString()).to.contain('"linktarget":"tgt\\ufffd","linktarget_raw":"dGd0/w=="')
    expect(decodeTree(enc)[0].linktargetRaw).to.deep.equal(n.linktargetRaw)
    expect(encodeTree(decodeTree(enc)).equals(enc)).to.equal(true)
  })
})

/** Every tree blob reachable from `tree`, with its bytes. */
async function allTrees(r: Awaited<ReturnType<typeof makeResticRepo>>, tree: string, out = new Map<string, Buffer>()): Promise<Map<string, Buffer>> {
  if (out.has(tree)) return out
  const bytes = await r.resticBuffer(['cat', 'blob', tree])
  out.set(tree, bytes)
  for (const n of decodeTree(bytes)) if (n.subtree) await allTrees(r, n.subtree, out)
  return out
}

describe('tree encoding vs restic 0.14 @integration', function () {
  this.timeout(120_000)
  before(async function () {
    if (!(await resticAvailable())) this.skip()
  })

  it('decodes every tree restic wrote for a varied folder and re-encodes it byte for byte', async () => {
    const r = await makeResticRepo()
    try {
      const src = join(r.dir, 'src')
      await mkdir(src)
      makeVariedTree(src)
      await r.restic(['backup', '-q', src])
      const trees = await allTrees(r, await latestSnapshotTree(r))
      expect(trees.size).to.be.greaterThan(4)
      let sawNonUtf8 = false
      let sawXattr = false
      for (const [id, bytes] of trees) {
        expect(createHash('sha256').update(bytes).digest('hex')).to.equal(id)
        const nodes = decodeTree(bytes)
        const again = encodeTree(nodes)
        expect(again.toString('latin1'), `tree ${id}`).to.equal(bytes.toString('latin1'))
        for (const n of nodes) {
          if (n.nameRaw?.equals(NON_UTF8_NAME)) sawNonUtf8 = true
          if (n.extended_attributes?.some((a) => a.name === 'user.test' && a.value.toString() === 'hello xattr')) sawXattr = true
        }
      }
      expect(sawNonUtf8, 'non-UTF-8 name decoded to its bytes').to.equal(true)
      expect(sawXattr, 'xattr user.test decoded').to.equal(true)
    } finally {
      await rm(r.dir, {recursive: true, force: true})
    }
  })
})
