import {expect} from 'chai'
import {mkdir, readdir, rm, writeFile, lstat} from 'node:fs/promises'
import {join} from 'node:path'
import {
  createSpecial,
  formatGoTime,
  goFileMode,
  nodeFromPath,
  parseGoTime,
  restoreNodeMetadata,
  splitDevice,
  unixPermissions,
} from '../../src/backup/node.js'
import {decodeTree, encodeTree} from '../../src/backup/tree.js'
import type {TreeNode} from '../../src/backup/types.js'
import {latestSnapshotTree, makeResticRepo, resticAvailable, resticNodeAt} from './fixtures/restic-cli.js'
import {NON_UTF8_NAME, makeVariedTree} from './fixtures/varied-tree.js'
import {withTZ} from '../helpers/env.js'

describe('node metadata', () => {
  it('maps st_mode to Go FileMode bits and back', () => {
    expect(goFileMode(0o040755)).to.equal(2147484141)
    expect(goFileMode(0o120777)).to.equal(134218239)
    expect(goFileMode(0o020644)).to.equal(69206436) // char device
    expect(goFileMode(0o060644)).to.equal(67109284) // block device
    expect(goFileMode(0o010644)).to.equal(33554852) // fifo
    expect(goFileMode(0o104755)).to.equal(8389101) // setuid
    expect(goFileMode(0o102750)).to.equal(4194792) // setgid
    expect(goFileMode(0o041777)).to.equal(2148532735) // sticky dir
    expect(unixPermissions(8389101)).to.equal(0o4755)
    expect(unixPermissions(2148532735)).to.equal(0o1777)
  })

  it('formats times like Go RFC3339Nano in the local zone, and parses them back', () => {
    withTZ('UTC', () => {
      expect(formatGoTime(1614834367123456789n)).to.equal('2021-03-04T05:06:07.123456789Z')
      expect(formatGoTime(1614834367120000000n)).to.equal('2021-03-04T05:06:07.12Z')
      expect(formatGoTime(1614834367000000000n)).to.equal('2021-03-04T05:06:07Z')
    })
    withTZ('America/St_Johns', () => {
      expect(formatGoTime(1614834367120000000n)).to.equal('2021-03-04T01:36:07.12-03:30')
    })
    withTZ('Asia/Kolkata', () => {
      expect(formatGoTime(1614834367000000001n)).to.equal('2021-03-04T10:36:07.000000001+05:30')
    })
    for (const s of ['2021-03-04T01:36:07.12-03:30', '2021-03-04T05:06:07.12Z']) {
      const t = parseGoTime(s)
      expect(t.epochNs).to.equal(1614834367120000000n)
      expect(t.ms).to.equal(1614834367120)
      expect(t.ns).to.equal(120000000)
      expect(t.sec).to.equal(1614834367)
    }
    expect(() => parseGoTime('yesterday')).to.throw(/RFC 3339/)
  })

  it('splits Linux device numbers', () => {
    expect(splitDevice(1992)).to.deep.equal({major: 7, minor: 200})
    expect(splitDevice(259)).to.deep.equal({major: 1, minor: 3})
    expect(splitDevice(0x1000_0000_1234n)).to.deep.equal({major: 0x1012, minor: 0x34})
    expect(splitDevice(0x1234_5678n)).to.deep.equal({major: 0x456, minor: 0x12378})
  })
})

describe('node metadata vs restic 0.14 @integration', function () {
  this.timeout(120_000)
  let r: Awaited<ReturnType<typeof makeResticRepo>>
  let src: string
  before(async function () {
    if (!(await resticAvailable())) this.skip()
    r = await makeResticRepo()
    src = join(r.dir, 'src')
    await mkdir(src)
    makeVariedTree(src)
  })
  after(async () => {
    if (r) await rm(r.dir, {recursive: true, force: true})
  })

  async function ourNodes(dir: string): Promise<TreeNode[]> {
    const names = await readdir(Buffer.from(dir), {encoding: 'buffer'})
    return Promise.all(names.map((n) => nodeFromPath(Buffer.concat([Buffer.from(dir + '/'), n]), n)))
  }

  it('records every node exactly as restic does (same tree bytes)', async () => {
    // First pass lets relatime settle the atimes that readdir/readlink touch; restic then sees what we see.
    await ourNodes(src)
    await ourNodes(join(src, 'sub'))
    const ours = await ourNodes(src)
    const oursSub = await ourNodes(join(src, 'sub'))
    await r.restic(['backup', '-q', src])
    const root = await latestSnapshotTree(r)
    for (const [dir, nodes] of [[src, ours], [join(src, 'sub'), oursSub]] as const) {
      const {node: dirNode} = await resticNodeAt(r, root, dir)
      const bytes = await r.resticBuffer(['cat', 'blob', dirNode.subtree!])
      const theirs = new Map(decodeTree(bytes).map((n) => [(n.nameRaw ?? Buffer.from(n.name)).toString('hex'), n]))
      for (const n of nodes) {
        const t = theirs.get((n.nameRaw ?? Buffer.from(n.name)).toString('hex'))!
        n.content = t.content
        if (t.subtree) n.subtree = t.subtree
        // restic 0.14 has no linktarget_raw: it writes the invalid bytes as \ufffd and loses them.
        if (n.linktargetRaw && !t.linktargetRaw) {
          delete n.linktargetRaw
          n.linktargetInvalidUtf8 = true
        }
      }
      expect(encodeTree(nodes).toString('latin1'), dir).to.equal(bytes.toString('latin1'))
    }
  })

  it('restores metadata and special files (nanosecond times with preciseTimes)', async () => {
    const dest = join(r.dir, 'restored')
    await mkdir(dest)
    const isRoot = process.getuid?.() === 0
    for (const n of await ourNodes(src)) {
      if (n.type === 'dir' || n.type === 'socket') continue
      const p = Buffer.concat([Buffer.from(dest + '/'), n.nameRaw ?? Buffer.from(n.name)])
      if (n.type === 'file') await writeFile(p, '')
      else await createSpecial(p, n)
      const precise = n.name !== 'mid.bin'
      const {warnings} = await restoreNodeMetadata(p, n, {preciseTimes: precise})
      expect(warnings).to.deep.equal([])
      const back = await nodeFromPath(p, n.nameRaw ?? n.name)
      expect(back.type, n.name).to.equal(n.type)
      expect(back.mode, n.name).to.equal(n.mode)
      if (isRoot) expect([back.uid, back.gid], n.name).to.deep.equal([n.uid, n.gid])
      expect(back.mtime, n.name).to.equal(n.mtime)
      expect(back.atime, n.name).to.equal(n.atime)
      expect(back.extended_attributes, n.name).to.deep.equal(n.extended_attributes)
      expect(back.linktarget, n.name).to.equal(n.linktarget)
      expect(back.linktargetRaw, n.name).to.deep.equal(n.linktargetRaw)
      expect(back.device, n.name).to.equal(n.device)
      expect(back.nameRaw, n.name).to.deep.equal(n.nameRaw)
    }
    expect((await lstat(Buffer.concat([Buffer.from(dest + '/'), NON_UTF8_NAME]))).isFile()).to.equal(true)
  })

  it('without preciseTimes, restored times are exact to the microsecond', async () => {
    const p = join(r.dir, 'us-precision')
    await writeFile(p, '')
    const n = (await nodeFromPath(join(src, 'file.txt'), 'file.txt'))
    await restoreNodeMetadata(p, {...n, extended_attributes: undefined})
    const st = await lstat(p, {bigint: true})
    expect(st.mtimeNs).to.equal(1614834367123456000n)
  })
})
