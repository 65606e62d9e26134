/*
 * Lifeboat's native hot path (N-API, ABI-stable across Node versions).
 *
 * The per-byte work of backup, restore and check, without a JS object or a Buffer allocated per blob:
 *   - restic's content-defined chunker (Rabin fingerprint, 64-byte window, the repository's polynomial);
 *   - SHA-256 of each chunk (blob IDs), through the OpenSSL that Node itself links (SHA-NI where the CPU has it);
 *   - seal: zstd compression (skipped when a sample says the data is incompressible), AES-256-CTR with a fresh
 *     random nonce, Poly1305-AES MAC, written straight into the caller's buffer (the pack's write buffer);
 *   - open: MAC check, AES-256-CTR decryption, zstd decompression and SHA-256 check against the blob ID, into
 *     the caller's buffer;
 *   - scrypt's ROMix for the lanes of a key file's KDF, on several pool threads at once.
 * The repository format is restic's (doc/design.rst); src/backup/crypto.ts is the reference implementation in
 * TypeScript and the tests hold the two to the same bytes.
 */
#define _GNU_SOURCE /* O_NOATIME */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sys/stat.h>
#ifdef __linux__
#include <sys/xattr.h>
#endif
#include <unistd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NAPI_VERSION 8
#include <node_api.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <zstd.h>

#define WINDOW 64
#define NONCE 16
#define MACLEN 16

#define CHECK(call)                                                                                                    \
  do {                                                                                                                 \
    if ((call) != napi_ok) return throw_err(env, "native call failed: " #call);                                        \
  } while (0)

static napi_value throw_err(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static napi_value throw_code(napi_env env, const char *code, const char *msg) {
  napi_throw_error(env, code, msg);
  return NULL;
}

/* Bytes of a Buffer / Uint8Array argument. */
static int get_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  napi_typedarray_type type;
  size_t length;
  void *ptr;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &type, &length, &ptr, &ab, &off) != napi_ok) return 0;
  if (type != napi_uint8_array) return 0;
  *data = (uint8_t *)ptr;
  *len = length;
  return 1;
}

static int get_u32(napi_env env, napi_value v, uint32_t *out) { return napi_get_value_uint32(env, v, out) == napi_ok; }

static napi_value make_u32(napi_env env, uint32_t x) {
  napi_value r;
  napi_create_uint32(env, x, &r);
  return r;
}

static napi_value make_i64(napi_env env, int64_t x) {
  napi_value r;
  napi_create_int64(env, x, &r);
  return r;
}

/* ------------------------------------------------------------------------------------------------ chunker */

typedef struct {
  uint64_t mod[256]; /* (b · x^degree) mod P: reduces the 8 bits shifted above the degree */
  uint64_t out[256]; /* (b · x^(8·64)) mod P: removes byte b leaving the window after the shift */
  uint64_t mask;     /* 2^degree − 1 */
  int shift;         /* degree − 8 */
  uint64_t split_mask;
  uint32_t min_size, max_size;
  /* state of the current chunk */
  uint8_t ring[WINDOW];
  uint32_t wpos;
  uint64_t digest;
  uint32_t count;
} chunker_t;

static void chunker_reset(chunker_t *c) {
  memset(c->ring, 0, WINDOW);
  c->ring[0] = 1; /* one byte 0x01 slid into a zero window: digest 1, window position 1 */
  c->wpos = 1;
  c->digest = 1;
  c->count = 0;
}

static void chunker_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

/* chunkerNew(table: Int32Array(1024) as chunker.ts builds it, degree, minSize, maxSize, averageBits) */
static napi_value chunker_new(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_typedarray_type type;
  size_t length;
  void *ptr;
  napi_value ab;
  size_t off;
  if (argc < 5 || napi_get_typedarray_info(env, argv[0], &type, &length, &ptr, &ab, &off) != napi_ok ||
      type != napi_int32_array || length != 1024)
    return throw_err(env, "chunkerNew: need the 1024-entry chunker table");
  uint32_t degree, min_size, max_size, bits;
  if (!get_u32(env, argv[1], &degree) || !get_u32(env, argv[2], &min_size) || !get_u32(env, argv[3], &max_size) ||
      !get_u32(env, argv[4], &bits) || degree < 40 || degree > 63 || min_size < WINDOW || max_size < min_size ||
      bits < 1 || bits > 32)
    return throw_err(env, "chunkerNew: bad degree or sizes");
  chunker_t *c = calloc(1, sizeof(chunker_t));
  if (!c) return throw_err(env, "out of memory");
  const int32_t *t = ptr;
  for (int b = 0; b < 256; b++) {
    c->mod[b] = ((uint64_t)(uint32_t)t[4 * b] << 32) | (uint32_t)t[4 * b + 1];
    c->out[b] = ((uint64_t)(uint32_t)t[4 * b + 2] << 32) | (uint32_t)t[4 * b + 3];
  }
  c->mask = (degree == 64) ? ~0ULL : ((1ULL << degree) - 1);
  c->shift = (int)degree - 8;
  c->split_mask = bits == 32 ? 0xffffffffULL : ((1ULL << bits) - 1);
  c->min_size = min_size;
  c->max_size = max_size;
  chunker_reset(c);
  napi_value ext;
  CHECK(napi_create_external(env, c, chunker_finalize, NULL, &ext));
  return ext;
}

static chunker_t *get_chunker(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok) return NULL;
  return p;
}

/*
 * chunkerPush(handle, data, cuts: Uint32Array) → number of cuts written to `cuts` (offsets in data, exclusive
 * chunk ends). Stops early when `cuts` is full; the caller then pushes data.subarray(lastCut) again.
 */
static napi_value chunker_push(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  chunker_t *c = argc >= 3 ? get_chunker(env, argv[0]) : NULL;
  uint8_t *buf;
  size_t n;
  napi_typedarray_type type;
  size_t cap;
  void *cptr;
  napi_value ab;
  size_t off;
  if (!c || !get_bytes(env, argv[1], &buf, &n) ||
      napi_get_typedarray_info(env, argv[2], &type, &cap, &cptr, &ab, &off) != napi_ok || type != napi_uint32_array)
    return throw_err(env, "chunkerPush(handle, Uint8Array, Uint32Array)");
  uint32_t *cuts = cptr;
  size_t ncuts = 0;
  const uint32_t skip_len = c->min_size - WINDOW;
  uint64_t digest = c->digest;
  uint32_t count = c->count;
  uint32_t wpos = c->wpos;
  const uint64_t mask = c->mask, split = c->split_mask;
  const int shift = c->shift;
  size_t i = 0;
  while (i < n && ncuts < cap) {
    if (count < skip_len) {
      size_t take = skip_len - count;
      if (take > n - i) take = n - i;
      count += (uint32_t)take;
      i += take;
      continue;
    }
    /* Hash bytes until a cut or the end of the buffer. */
    int cut = 0;
    size_t limit = n;
    if (limit - i > (size_t)(c->max_size - count)) limit = i + (c->max_size - count);
    while (i < limit) {
      uint8_t b = buf[i++];
      uint8_t o = c->ring[wpos];
      c->ring[wpos] = b;
      wpos = (wpos + 1) & (WINDOW - 1);
      uint64_t idx = digest >> shift;
      digest = ((((digest << 8) & mask) | b) ^ c->mod[idx]) ^ c->out[o];
      count++;
      if (count >= c->min_size && (digest & split) == 0) {
        cut = 1;
        break;
      }
    }
    if (!cut && count >= c->max_size) cut = 1;
    if (cut) {
      cuts[ncuts++] = (uint32_t)i;
      chunker_reset(c);
      digest = c->digest;
      count = c->count;
      wpos = c->wpos;
    }
  }
  c->digest = digest;
  c->count = count;
  c->wpos = wpos;
  return make_u32(env, (uint32_t)ncuts);
}

/* chunkerEnd(handle) → bytes of the unfinished last chunk (0 if none); resets for the next file. */
static napi_value chunker_end(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  chunker_t *c = argc >= 1 ? get_chunker(env, argv[0]) : NULL;
  if (!c) return throw_err(env, "chunkerEnd(handle)");
  uint32_t last = c->count;
  chunker_reset(c);
  return make_u32(env, last);
}

/* ------------------------------------------------------------------------------------------------ SHA-256 */

/* sha256Into(data, out, outOffset): writes the 32-byte digest of data at out[outOffset]. */
static napi_value sha256_into(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *d, *out;
  size_t n, on;
  uint32_t off;
  if (argc < 3 || !get_bytes(env, argv[0], &d, &n) || !get_bytes(env, argv[1], &out, &on) ||
      !get_u32(env, argv[2], &off) || (size_t)off + 32 > on)
    return throw_err(env, "sha256Into(data, out, offset)");
  SHA256(d, n, out + off);
  return NULL;
}

/* ------------------------------------------------------------------------------------------------ crypto */

typedef struct {
  EVP_CIPHER_CTX *ctr;  /* AES-256-CTR, key set once */
  EVP_CIPHER_CTX *ecb;  /* AES-128-ECB with the MAC key k: s = AES_k(nonce) */
  EVP_MAC *mac;
  EVP_MAC_CTX *poly;
  ZSTD_CCtx *cctx;
  ZSTD_DCtx *dctx;
  uint8_t r[16];        /* clamped Poly1305 r */
  uint8_t nonces[4096]; /* random nonces, refilled 256 at a time */
  size_t nonce_pos;
  int level;
} sealer_t;

static void sealer_free(sealer_t *s) {
  if (!s) return;
  if (s->ctr) EVP_CIPHER_CTX_free(s->ctr);
  if (s->ecb) EVP_CIPHER_CTX_free(s->ecb);
  if (s->poly) EVP_MAC_CTX_free(s->poly);
  if (s->mac) EVP_MAC_free(s->mac);
  if (s->cctx) ZSTD_freeCCtx(s->cctx);
  if (s->dctx) ZSTD_freeDCtx(s->dctx);
  OPENSSL_cleanse(s->r, sizeof(s->r));
  free(s);
}

static void sealer_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  sealer_free(data);
}

/* sealerNew(encrypt32, macK16, macR16, level) — level 0 stores blobs uncompressed. */
static napi_value sealer_new(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *enc, *mk, *mr;
  size_t el, kl, rl;
  int32_t level;
  if (argc < 4 || !get_bytes(env, argv[0], &enc, &el) || !get_bytes(env, argv[1], &mk, &kl) ||
      !get_bytes(env, argv[2], &mr, &rl) || el != 32 || kl != 16 || rl != 16 ||
      napi_get_value_int32(env, argv[3], &level) != napi_ok)
    return throw_err(env, "sealerNew(encrypt[32], macK[16], macR[16], level)");
  sealer_t *s = calloc(1, sizeof(sealer_t));
  if (!s) return throw_err(env, "out of memory");
  s->ctr = EVP_CIPHER_CTX_new();
  s->ecb = EVP_CIPHER_CTX_new();
  s->mac = EVP_MAC_fetch(NULL, "POLY1305", NULL);
  s->poly = s->mac ? EVP_MAC_CTX_new(s->mac) : NULL;
  s->cctx = ZSTD_createCCtx();
  s->dctx = ZSTD_createDCtx();
  if (!s->ctr || !s->ecb || !s->poly || !s->cctx || !s->dctx ||
      EVP_EncryptInit_ex(s->ctr, EVP_aes_256_ctr(), NULL, enc, NULL) != 1 ||
      EVP_EncryptInit_ex(s->ecb, EVP_aes_128_ecb(), NULL, mk, NULL) != 1 || EVP_CIPHER_CTX_set_padding(s->ecb, 0) != 1) {
    sealer_free(s);
    return throw_err(env, "sealerNew: cannot set up AES / Poly1305 / zstd");
  }
  memcpy(s->r, mr, 16);
  s->r[3] &= 15, s->r[7] &= 15, s->r[11] &= 15, s->r[15] &= 15;
  s->r[4] &= 252, s->r[8] &= 252, s->r[12] &= 252;
  s->level = level;
  if (level != 0) ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_compressionLevel, level);
  s->nonce_pos = sizeof(s->nonces);
  napi_value ext;
  CHECK(napi_create_external(env, s, sealer_finalize, NULL, &ext));
  return ext;
}

static sealer_t *get_sealer(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok) return NULL;
  return p;
}

static int new_nonce(sealer_t *s, uint8_t *into) {
  for (;;) {
    if (s->nonce_pos + NONCE > sizeof(s->nonces)) {
      if (RAND_bytes(s->nonces, sizeof(s->nonces)) != 1) return 0;
      s->nonce_pos = 0;
    }
    memcpy(into, s->nonces + s->nonce_pos, NONCE);
    memset(s->nonces + s->nonce_pos, 0, NONCE); /* each nonce is used once */
    s->nonce_pos += NONCE;
    for (int i = 0; i < NONCE; i++)
      if (into[i]) return 1;
  }
}

/* Poly1305-AES of msg: key r ‖ AES-128_k(nonce). */
static int poly_mac(sealer_t *s, const uint8_t *nonce, const uint8_t *msg, size_t n, uint8_t *tag) {
  uint8_t key[32];
  int outl = 0;
  memcpy(key, s->r, 16);
  if (EVP_EncryptUpdate(s->ecb, key + 16, &outl, nonce, NONCE) != 1 || outl != 16) return 0;
  size_t tl = 0;
  int ok = EVP_MAC_init(s->poly, key, 32, NULL) == 1 && EVP_MAC_update(s->poly, msg, n) == 1 &&
           EVP_MAC_final(s->poly, tag, &tl, MACLEN) == 1 && tl == MACLEN;
  OPENSSL_cleanse(key, sizeof(key));
  return ok;
}

static int ctr_crypt(sealer_t *s, const uint8_t *nonce, const uint8_t *in, size_t n, uint8_t *out) {
  if (EVP_EncryptInit_ex(s->ctr, NULL, NULL, NULL, nonce) != 1) return 0;
  while (n > 0) {
    int chunk = n > (1u << 30) ? (1 << 30) : (int)n;
    int outl = 0;
    if (EVP_EncryptUpdate(s->ctr, out, &outl, in, chunk) != 1 || outl != chunk) return 0;
    in += chunk, out += chunk, n -= (size_t)chunk;
  }
  return 1;
}

/*
 * Is the data worth compressing? Byte entropy of 16 samples of 256 bytes spread over it: above 7.9 bits per byte
 * (random, encrypted or already compressed data) zstd would only cost time and the blob is stored as it is.
 */
static int looks_incompressible(const uint8_t *d, size_t n) {
  if (n < 64 * 1024) return 0;
  uint32_t hist[256] = {0};
  const size_t samples = 16, len = 256;
  size_t step = (n - len) / (samples - 1);
  for (size_t k = 0; k < samples; k++) {
    const uint8_t *p = d + k * step;
    for (size_t j = 0; j < len; j++) hist[p[j]]++;
  }
  double total = (double)(samples * len), h = 0;
  for (int b = 0; b < 256; b++)
    if (hist[b]) {
      double q = hist[b] / total;
      h -= q * log2(q);
    }
  return h > 7.9;
}

/*
 * seal(handle, plaintext, out, outOffset, compress) → bytes written at out[outOffset]: nonce ‖ ciphertext ‖ MAC.
 * With compress, the plaintext is zstd-compressed first when that makes it smaller; the result is then negated,
 * so the caller knows to record the uncompressed length. `out` needs sealBound(plaintext.length) bytes.
 */
static napi_value seal(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sealer_t *s = argc >= 5 ? get_sealer(env, argv[0]) : NULL;
  uint8_t *src, *out;
  size_t n, on;
  uint32_t off;
  bool want_z = false;
  if (!s || !get_bytes(env, argv[1], &src, &n) || !get_bytes(env, argv[2], &out, &on) || !get_u32(env, argv[3], &off) ||
      napi_get_value_bool(env, argv[4], &want_z) != napi_ok)
    return throw_err(env, "seal(handle, plaintext, out, offset, compress)");
  size_t bound = ZSTD_compressBound(n);
  if (bound < n) bound = n;
  if ((size_t)off + bound + NONCE + MACLEN > on) return throw_err(env, "seal: output buffer too small");
  uint8_t *nonce = out + off, *ct = out + off + NONCE;
  if (!new_nonce(s, nonce)) return throw_err(env, "seal: no random bytes");
  int compressed = 0;
  size_t len = n;
  if (want_z && s->level != 0 && n > 0 && !looks_incompressible(src, n)) {
    /* Compress into the ciphertext area (capped below n: only a smaller result is kept), encrypt in place. */
    size_t z = ZSTD_compress2(s->cctx, ct, n - 1 > 0 ? n - 1 : 0, src, n);
    if (!ZSTD_isError(z) && z < n) {
      compressed = 1;
      len = z;
    }
  }
  if (compressed) {
    if (!ctr_crypt(s, nonce, ct, len, ct)) return throw_err(env, "seal: AES failed");
  } else if (len > 0 && !ctr_crypt(s, nonce, src, len, ct))
    return throw_err(env, "seal: AES failed");
  if (!poly_mac(s, nonce, ct, len, ct + len)) return throw_err(env, "seal: Poly1305 failed");
  int64_t total = (int64_t)(len + NONCE + MACLEN);
  return make_i64(env, compressed ? -total : total);
}

/* sealBound(n) → bytes seal() may need for a plaintext of n bytes. */
static napi_value seal_bound(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  uint32_t n;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !get_u32(env, argv[0], &n)) return throw_err(env, "sealBound(n)");
  size_t b = ZSTD_compressBound(n);
  if (b < n) b = n;
  return make_i64(env, (int64_t)(b + NONCE + MACLEN));
}

/*
 * open(handle, sealed, out, outOffset, uncompressedLength, id) → plaintext bytes written at out[outOffset].
 * uncompressedLength < 0: the blob is stored uncompressed. id (32 bytes) or null: the SHA-256 the plaintext
 * must have. Throws with code EMAC (wrong key or damaged data), EZSTD or EHASH.
 */
static napi_value open_blob(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sealer_t *s = argc >= 6 ? get_sealer(env, argv[0]) : NULL;
  uint8_t *src, *out, *id = NULL;
  size_t n, on, idl = 0;
  uint32_t off;
  int64_t ulen;
  napi_valuetype idt;
  if (!s || !get_bytes(env, argv[1], &src, &n) || !get_bytes(env, argv[2], &out, &on) || !get_u32(env, argv[3], &off) ||
      napi_get_value_int64(env, argv[4], &ulen) != napi_ok || napi_typeof(env, argv[5], &idt) != napi_ok)
    return throw_err(env, "open(handle, sealed, out, offset, uncompressedLength, id)");
  if (idt != napi_null && idt != napi_undefined && (!get_bytes(env, argv[5], &id, &idl) || idl != 32))
    return throw_err(env, "open: id must be 32 bytes");
  if (n < NONCE + MACLEN) return throw_code(env, "EMAC", "ciphertext too short");
  const uint8_t *nonce = src, *ct = src + NONCE;
  size_t cl = n - NONCE - MACLEN;
  uint8_t tag[MACLEN];
  if (!poly_mac(s, nonce, ct, cl, tag)) return throw_err(env, "open: Poly1305 failed");
  if (CRYPTO_memcmp(tag, ct + cl, MACLEN) != 0)
    return throw_code(env, "EMAC", "ciphertext verification failed (wrong password or damaged data)");
  size_t plain;
  if (ulen < 0) {
    if ((size_t)off + cl > on) return throw_err(env, "open: output buffer too small");
    if (cl > 0 && !ctr_crypt(s, nonce, ct, cl, out + off)) return throw_err(env, "open: AES failed");
    plain = cl;
  } else {
    if ((size_t)off + (size_t)ulen + cl > on) return throw_err(env, "open: output buffer too small");
    /* Decrypt behind the plaintext's place, then decompress to the front. */
    uint8_t *tmp = out + off + (size_t)ulen;
    if (cl > 0 && !ctr_crypt(s, nonce, ct, cl, tmp)) return throw_err(env, "open: AES failed");
    size_t z = ZSTD_decompressDCtx(s->dctx, out + off, (size_t)ulen, tmp, cl);
    if (ZSTD_isError(z)) return throw_code(env, "EZSTD", ZSTD_getErrorName(z));
    if (z != (size_t)ulen) return throw_code(env, "EZSTD", "decompressed length differs from the index");
    plain = z;
  }
  if (id) {
    uint8_t h[32];
    SHA256(out + off, plain, h);
    if (memcmp(h, id, 32) != 0) return throw_code(env, "EHASH", "plaintext does not match the blob ID");
  }
  return make_i64(env, (int64_t)plain);
}

/* ------------------------------------------------------------------------------------------------ reading files */

/*
 * readFiles(paths, count, out, slots, results) → Promise<void>: reads `count` small files whole on one thread of
 * the libuv pool (open, read, fstat, close each), instead of four thread-pool round trips per file.
 *   paths:   NUL-terminated paths, one after another;
 *   slots:   Float64Array [offset in out, capacity] per file (capacity = expected size + 1, to notice growth);
 *   results: Float64Array [bytes read, errno (0 = ok), size, mtime seconds, mtime nanoseconds, failed call (1 open,
 *            2 read, 3 fstat)] per file, filled when the promise resolves.
 * The buffers must stay untouched until then (the caller keeps them referenced).
 */
#define RF_FIELDS 6
#ifndef O_NOATIME
#define O_NOATIME 0
#endif

/* A job on the libuv pool that resolves a promise; the JS buffers it uses are kept alive until it completes. */
typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref refs[4];
  int nrefs;
} pool_job_t;

static void pool_job_complete(napi_env env, napi_status status, void *data) {
  pool_job_t *j = data;
  napi_value undef;
  napi_get_undefined(env, &undef);
  if (status == napi_ok) napi_resolve_deferred(env, j->deferred, undef);
  else {
    napi_value msg, err;
    napi_create_string_utf8(env, "lifeboat native job cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, j->deferred, err);
  }
  for (int k = 0; k < j->nrefs; k++) napi_delete_reference(env, j->refs[k]);
  napi_delete_async_work(env, j->work);
  free(j);
}

/* Queues `j` (the first member of a job struct from calloc) running `exec`; returns its promise. */
static napi_value pool_job_queue(napi_env env, pool_job_t *j, const char *name, napi_async_execute_callback exec,
                                 napi_value *keep, int nkeep) {
  napi_value promise, label;
  for (j->nrefs = 0; j->nrefs < nkeep && j->nrefs < 4; j->nrefs++) CHECK(napi_create_reference(env, keep[j->nrefs], 1, &j->refs[j->nrefs]));
  CHECK(napi_create_promise(env, &j->deferred, &promise));
  CHECK(napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &label));
  CHECK(napi_create_async_work(env, NULL, label, exec, pool_job_complete, j, &j->work));
  CHECK(napi_queue_async_work(env, j->work));
  return promise;
}

/* A typed array of the given element type: its data and element count. */
static int get_typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len) {
  napi_typedarray_type type;
  napi_value ab;
  size_t off;
  return napi_get_typedarray_info(env, v, &type, len, data, &ab, &off) == napi_ok && type == want;
}

static int get_f64(napi_env env, napi_value v, double **data, size_t *len) { return get_typed(env, v, napi_float64_array, (void **)data, len); }

typedef struct {
  pool_job_t job;
  const char *paths;
  size_t paths_len;
  uint32_t count;
  uint8_t *out;
  size_t out_len;
  const double *slots;
  double *results;
} readfiles_t;

static void readfiles_execute(napi_env env, void *data) {
  (void)env;
  readfiles_t *r = data;
  const char *p = r->paths, *end = r->paths + r->paths_len;
  for (uint32_t i = 0; i < r->count; i++) {
    double *res = r->results + (size_t)i * RF_FIELDS;
    memset(res, 0, sizeof(double) * RF_FIELDS);
    const char *nul = memchr(p, 0, (size_t)(end - p));
    if (!nul) {
      res[1] = EINVAL, res[5] = 1;
      break;
    }
    size_t off = (size_t)r->slots[2 * i], cap = (size_t)r->slots[2 * i + 1];
    if (off + cap > r->out_len) cap = off < r->out_len ? r->out_len - off : 0;
    int fd = open(p, O_RDONLY | O_NOATIME | O_CLOEXEC);
    if (fd < 0 && errno == EPERM) fd = open(p, O_RDONLY | O_CLOEXEC);
    p = nul + 1;
    if (fd < 0) {
      res[1] = errno, res[5] = 1;
      continue;
    }
    size_t n = 0;
    while (n < cap) {
      ssize_t got = read(fd, r->out + off + n, cap - n);
      if (got < 0) {
        if (errno == EINTR) continue;
        res[1] = errno, res[5] = 2;
        break;
      }
      if (got == 0) break;
      n += (size_t)got;
    }
    struct stat st;
    if (res[1] == 0 && fstat(fd, &st) != 0) res[1] = errno, res[5] = 3;
    close(fd);
    if (res[1] != 0) continue;
    res[0] = (double)n;
    res[2] = (double)st.st_size;
    res[3] = (double)st.st_mtim.tv_sec;
    res[4] = (double)st.st_mtim.tv_nsec;
  }
}

static napi_value read_files(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *paths, *out;
  size_t plen, olen, slen, rlen;
  uint32_t count;
  double *slots, *results;
  if (argc < 5 || !get_bytes(env, argv[0], &paths, &plen) || !get_u32(env, argv[1], &count) ||
      !get_bytes(env, argv[2], &out, &olen) || !get_f64(env, argv[3], &slots, &slen) ||
      !get_f64(env, argv[4], &results, &rlen) || slen < (size_t)count * 2 || rlen < (size_t)count * RF_FIELDS)
    return throw_err(env, "readFiles(paths, count, out, slots: Float64Array, results: Float64Array)");
  readfiles_t *r = calloc(1, sizeof(readfiles_t));
  if (!r) return throw_err(env, "out of memory");
  r->paths = (const char *)paths, r->paths_len = plen, r->count = count;
  r->out = out, r->out_len = olen, r->slots = slots, r->results = results;
  napi_value keep[4] = {argv[0], argv[2], argv[3], argv[4]};
  return pool_job_queue(env, &r->job, "lifeboat.readFiles", readfiles_execute, keep, 4);
}

/* ------------------------------------------------------------------------------------------------ lstat */

/*
 * lstatMany(paths, count, out: Float64Array, async) → undefined, or with async a Promise<void>: lstat of `count`
 * NUL-terminated paths, here or on one thread of the libuv pool (one round trip per batch; batches of many folders
 * then wait for a cold disk in parallel). Per path
 * LSTAT_FIELDS numbers: errno (0 = ok), dev, ino, mode, nlink, uid, gid, rdev, size, blocks, atime s, atime ns,
 * mtime s, mtime ns, ctime s, ctime ns. No JS object is made per entry (fs.lstat makes 15 BigInts and 4 Dates).
 */
#define LSTAT_FIELDS 16

typedef struct {
  pool_job_t job;
  const char *paths;
  size_t paths_len;
  uint32_t count;
  double *out;
} lstat_t;

static void lstat_batch(const char *p, size_t len, uint32_t count, double *out) {
  const char *end = p + len;
  for (uint32_t i = 0; i < count; i++) {
    double *o = out + (size_t)i * LSTAT_FIELDS;
    memset(o, 0, sizeof(double) * LSTAT_FIELDS);
    const char *nul = memchr(p, 0, (size_t)(end - p));
    if (!nul) {
      o[0] = EINVAL;
      continue;
    }
    struct stat st;
    if (lstat(p, &st) != 0) o[0] = errno;
    else {
      o[1] = (double)st.st_dev, o[2] = (double)st.st_ino, o[3] = (double)st.st_mode, o[4] = (double)st.st_nlink;
      o[5] = (double)st.st_uid, o[6] = (double)st.st_gid, o[7] = (double)st.st_rdev, o[8] = (double)st.st_size;
      o[9] = (double)st.st_blocks;
      o[10] = (double)st.st_atim.tv_sec, o[11] = (double)st.st_atim.tv_nsec;
      o[12] = (double)st.st_mtim.tv_sec, o[13] = (double)st.st_mtim.tv_nsec;
      o[14] = (double)st.st_ctim.tv_sec, o[15] = (double)st.st_ctim.tv_nsec;
    }
    p = nul + 1;
  }
}

static void lstat_execute(napi_env env, void *data) {
  (void)env;
  lstat_t *r = data;
  lstat_batch(r->paths, r->paths_len, r->count, r->out);
}

static napi_value lstat_many(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *paths;
  size_t plen, olen;
  uint32_t count;
  double *out;
  bool async = false;
  if (argc < 4 || !get_bytes(env, argv[0], &paths, &plen) || !get_u32(env, argv[1], &count) ||
      !get_f64(env, argv[2], &out, &olen) || olen < (size_t)count * LSTAT_FIELDS ||
      napi_get_value_bool(env, argv[3], &async) != napi_ok)
    return throw_err(env, "lstatMany(paths, count, out: Float64Array, async)");
  if (!async) {
    lstat_batch((const char *)paths, plen, count, out);
    return NULL;
  }
  lstat_t *r = calloc(1, sizeof(lstat_t));
  if (!r) return throw_err(env, "out of memory");
  r->paths = (const char *)paths, r->paths_len = plen, r->count = count, r->out = out;
  napi_value keep[2] = {argv[0], argv[2]};
  return pool_job_queue(env, &r->job, "lifeboat.lstatMany", lstat_execute, keep, 2);
}

/*
 * xattrListSize(path) → bytes of the path's extended-attribute name list (llistxattr, not following symlinks):
 * 0 when it has none, -1 when it cannot be told (the caller then asks the long way).
 */
static napi_value xattr_list_size(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *p;
  size_t n;
  char path[4096];
  if (argc < 1 || !get_bytes(env, argv[0], &p, &n)) return throw_err(env, "xattrListSize(path: Buffer)");
  if (n >= sizeof(path) || memchr(p, 0, n)) return make_i64(env, -1);
  memcpy(path, p, n);
  path[n] = 0;
#ifdef __linux__
  ssize_t x = llistxattr(path, NULL, 0);
  return make_i64(env, x < 0 ? -1 : (int64_t)x);
#else
  return make_i64(env, -1);
#endif
}

/* ------------------------------------------------------------------------------------------------ scrypt */

/*
 * scrypt's ROMix (RFC 7914) for some of the p lanes of B, on one thread of the libuv pool. restic calibrates its
 * key files to about half a second, often with p > 1 (p = 7 was seen here); OpenSSL runs the lanes one after the
 * other, so Lifeboat runs them on as many pool threads as there are cores (keys.ts: PBKDF2 before and after, in
 * Node). Salsa20/8 is plain C: measured here, an SSE2 core over the words in diagonal order was slower (88 ns
 * against 64 ns a block: its one chain of dependent vector operations cannot use the four independent
 * quarter-rounds the scalar code runs side by side).
 */
#include <sys/mman.h>

static inline uint32_t rd32le(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static inline void wr32le(uint8_t *p, uint32_t x) { p[0] = (uint8_t)x, p[1] = (uint8_t)(x >> 8), p[2] = (uint8_t)(x >> 16), p[3] = (uint8_t)(x >> 24); }
#define ROTL32(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

/* B = Salsa20/8(B ^ X) for one 16-word block. */
static inline void salsa_xor(uint32_t *B, const uint32_t *X) {
  uint32_t x[16];
  for (int i = 0; i < 16; i++) x[i] = B[i] ^= X[i];
  for (int i = 0; i < 8; i += 2) {
    x[4] ^= ROTL32(x[0] + x[12], 7), x[8] ^= ROTL32(x[4] + x[0], 9), x[12] ^= ROTL32(x[8] + x[4], 13), x[0] ^= ROTL32(x[12] + x[8], 18);
    x[9] ^= ROTL32(x[5] + x[1], 7), x[13] ^= ROTL32(x[9] + x[5], 9), x[1] ^= ROTL32(x[13] + x[9], 13), x[5] ^= ROTL32(x[1] + x[13], 18);
    x[14] ^= ROTL32(x[10] + x[6], 7), x[2] ^= ROTL32(x[14] + x[10], 9), x[6] ^= ROTL32(x[2] + x[14], 13), x[10] ^= ROTL32(x[6] + x[2], 18);
    x[3] ^= ROTL32(x[15] + x[11], 7), x[7] ^= ROTL32(x[3] + x[15], 9), x[11] ^= ROTL32(x[7] + x[3], 13), x[15] ^= ROTL32(x[11] + x[7], 18);
    x[1] ^= ROTL32(x[0] + x[3], 7), x[2] ^= ROTL32(x[1] + x[0], 9), x[3] ^= ROTL32(x[2] + x[1], 13), x[0] ^= ROTL32(x[3] + x[2], 18);
    x[6] ^= ROTL32(x[5] + x[4], 7), x[7] ^= ROTL32(x[6] + x[5], 9), x[4] ^= ROTL32(x[7] + x[6], 13), x[5] ^= ROTL32(x[4] + x[7], 18);
    x[11] ^= ROTL32(x[10] + x[9], 7), x[8] ^= ROTL32(x[11] + x[10], 9), x[9] ^= ROTL32(x[8] + x[11], 13), x[10] ^= ROTL32(x[9] + x[8], 18);
    x[12] ^= ROTL32(x[15] + x[14], 7), x[13] ^= ROTL32(x[12] + x[15], 9), x[14] ^= ROTL32(x[13] + x[12], 13), x[15] ^= ROTL32(x[14] + x[13], 18);
  }
  for (int i = 0; i < 16; i++) B[i] += x[i];
}

/* BlockMix: Y = the 2r blocks of B mixed, even outputs first, then odd ones (RFC 7914 §4). */
static inline void block_mix(const uint32_t *B, uint32_t *Y, uint32_t r) {
  uint32_t X[16] __attribute__((aligned(16)));
  memcpy(X, B + (2 * r - 1) * 16, 64);
  for (uint32_t i = 0; i < 2 * r; i++) {
    salsa_xor(X, B + i * 16);
    memcpy(Y + ((i >> 1) + (i & 1) * r) * 16, X, 64);
  }
}

static inline void xor_words(uint32_t *d, const uint32_t *s, size_t n) {
  for (size_t i = 0; i < n; i++) d[i] ^= s[i];
}

/* ROMix of one lane X (2r blocks, followed by room for 2r more) with V of N · 2r blocks. */
static void romix_lane(uint32_t *X, uint32_t *V, uint32_t N, uint32_t r) {
  const uint32_t words = 32 * r;
  uint32_t *Y = X + words;
  for (uint32_t i = 0; i < N; i += 2) {
    memcpy(V + (size_t)i * words, X, words * 4);
    block_mix(X, Y, r);
    memcpy(V + (size_t)(i + 1) * words, Y, words * 4);
    block_mix(Y, X, r);
  }
  for (uint32_t i = 0; i < N; i += 2) {
    xor_words(X, V + (size_t)(X[words - 16] & (N - 1)) * words, words);
    block_mix(X, Y, r);
    xor_words(Y, V + (size_t)(Y[words - 16] & (N - 1)) * words, words);
    block_mix(Y, X, r);
  }
}

typedef struct {
  pool_job_t job;
  uint8_t *b;
  uint32_t n, r, p, first, step;
  int32_t *status;
} romix_t;

static void romix_execute(napi_env env, void *data) {
  (void)env;
  romix_t *j = data;
  const uint32_t r = j->r, N = j->n, words = 32 * r;
  /* V on 2 MiB boundaries with transparent huge pages where the kernel allows them (madvise mode): first-touch
   * page faults of 4 KiB pages cost about 12 ms a lane for 32 MiB. */
  const size_t huge = (size_t)2 << 20;
  size_t vbytes = (size_t)words * 4 * N, xbytes = (size_t)words * 4 * 2, len = vbytes + xbytes + huge;
  uint8_t *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    *j->status = errno ? errno : ENOMEM;
    return;
  }
  uint8_t *base = (uint8_t *)(((uintptr_t)mem + huge - 1) & ~(uintptr_t)(huge - 1));
#ifdef MADV_HUGEPAGE
  madvise(base, vbytes + xbytes, MADV_HUGEPAGE);
#endif
  uint32_t *V = (uint32_t *)base, *X = (uint32_t *)(base + vbytes);
  for (uint32_t lane = j->first; lane < j->p; lane += j->step) {
    uint8_t *b = j->b + (size_t)lane * words * 4;
    for (uint32_t k = 0; k < words; k++) X[k] = rd32le(b + k * 4);
    romix_lane(X, V, N, r);
    for (uint32_t k = 0; k < words; k++) wr32le(b + k * 4, X[k]);
  }
  munmap(mem, len);
}

/* romix(B, N, r, p, first, step, status: Int32Array): lanes first, first+step, … of B, in place; status[0] gets
 * an errno when the memory cannot be had. */
static napi_value romix(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *b;
  size_t blen;
  uint32_t n, r, p, first, step;
  size_t slen;
  void *sptr;
  if (argc < 7 || !get_bytes(env, argv[0], &b, &blen) || !get_u32(env, argv[1], &n) || !get_u32(env, argv[2], &r) ||
      !get_u32(env, argv[3], &p) || !get_u32(env, argv[4], &first) || !get_u32(env, argv[5], &step) ||
      !get_typed(env, argv[6], napi_int32_array, &sptr, &slen) || slen < 1)
    return throw_err(env, "romix(B, N, r, p, first, step, status: Int32Array)");
  if (n < 2 || (n & (n - 1)) != 0 || r == 0 || r > (1u << 20) || p == 0 || step == 0 || (uint64_t)r * 128 * p != blen ||
      (uint64_t)r * 128 * n > ((uint64_t)1 << 40))
    return throw_err(env, "romix: invalid scrypt parameters");
  romix_t *j = calloc(1, sizeof(romix_t));
  if (!j) return throw_err(env, "out of memory");
  j->b = b, j->n = n, j->r = r, j->p = p, j->first = first, j->step = step, j->status = sptr;
  napi_value keep[2] = {argv[0], argv[6]};
  return pool_job_queue(env, &j->job, "lifeboat.romix", romix_execute, keep, 2);
}

/* ------------------------------------------------------------------------------------------------ module */

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"chunkerNew", NULL, chunker_new, NULL, NULL, NULL, napi_default, NULL},
      {"chunkerPush", NULL, chunker_push, NULL, NULL, NULL, napi_default, NULL},
      {"chunkerEnd", NULL, chunker_end, NULL, NULL, NULL, napi_default, NULL},
      {"sha256Into", NULL, sha256_into, NULL, NULL, NULL, napi_default, NULL},
      {"sealerNew", NULL, sealer_new, NULL, NULL, NULL, napi_default, NULL},
      {"seal", NULL, seal, NULL, NULL, NULL, napi_default, NULL},
      {"sealBound", NULL, seal_bound, NULL, NULL, NULL, napi_default, NULL},
      {"open", NULL, open_blob, NULL, NULL, NULL, napi_default, NULL},
      {"readFiles", NULL, read_files, NULL, NULL, NULL, napi_default, NULL},
      {"lstatMany", NULL, lstat_many, NULL, NULL, NULL, napi_default, NULL},
      {"xattrListSize", NULL, xattr_list_size, NULL, NULL, NULL, napi_default, NULL},
      {"romix", NULL, romix, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }
