#include "transport/spake2.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/obj_mac.h>
#include <openssl/sha.h>

namespace baton {

namespace {

// RFC 9382 section 6: M and N for P-256 (compressed SEC1), generated from a seed so
// nobody knows their discrete logarithms.
constexpr uint8_t kM[33] = {0x02, 0x88, 0x6e, 0x2f, 0x97, 0xac, 0xe4, 0x6e, 0x55, 0xba, 0x9d, 0xd7, 0x24, 0x25, 0x79, 0xf2, 0x99,
                            0x3b, 0x64, 0xe1, 0x6e, 0xf3, 0xdc, 0xab, 0x95, 0xaf, 0xd4, 0x97, 0x33, 0x3d, 0x8f, 0xa1, 0x2f};
constexpr uint8_t kN[33] = {0x03, 0xd8, 0xbb, 0xd6, 0xc6, 0x39, 0xc6, 0x29, 0x37, 0xb0, 0x4d, 0x99, 0x7f, 0x38, 0xc3, 0x77, 0x07,
                            0x19, 0xc6, 0x29, 0xd7, 0x01, 0x4d, 0x49, 0xa2, 0x4b, 0x4f, 0x98, 0xba, 0xa1, 0x29, 0x2b, 0x49};

struct BnDeleter {
  void operator()(BIGNUM* b) const { BN_clear_free(b); }
};
struct PointDeleter {
  void operator()(EC_POINT* p) const { EC_POINT_clear_free(p); }
};
struct GroupDeleter {
  void operator()(EC_GROUP* g) const { EC_GROUP_free(g); }
};
struct CtxDeleter {
  void operator()(BN_CTX* c) const { BN_CTX_free(c); }
};
using Bn = std::unique_ptr<BIGNUM, BnDeleter>;
using Point = std::unique_ptr<EC_POINT, PointDeleter>;

void check(int ok, const char* what) {
  if (ok != 1) throw Spake2Error(std::string("SPAKE2: ") + what + " failed");
}

void append_with_length(Bytes& out, const uint8_t* data, size_t size) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(static_cast<uint64_t>(size) >> (8 * i)));  // LE
  out.insert(out.end(), data, data + size);
}
void append_with_length(Bytes& out, std::string_view s) {
  append_with_length(out, reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
void append_with_length(Bytes& out, const Bytes& b) { append_with_length(out, b.data(), b.size()); }

Bytes hmac_sha256(const Bytes& key, const Bytes& message) {
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), message.data(), message.size(), out.data(), &len)) {
    throw Spake2Error("HMAC-SHA256 failed");
  }
  out.resize(len);
  return out;
}

}  // namespace

bool bytes_equal(const Bytes& a, const Bytes& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Bytes hkdf_sha256(const Bytes& key, const Bytes& salt, std::string_view info, size_t length) {
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr),
                                                                  EVP_PKEY_CTX_free);
  Bytes out(length);
  size_t out_len = length;
  // An empty salt means "HashLen zero bytes" (RFC 5869); OpenSSL wants a non-null pointer.
  const Bytes zero_salt(32, 0);
  const Bytes& s = salt.empty() ? zero_salt : salt;
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_salt(ctx.get(), s.data(), static_cast<int>(s.size())) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), key.data(), static_cast<int>(key.size())) != 1 ||
      EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), reinterpret_cast<const unsigned char*>(info.data()),
                                  static_cast<int>(info.size())) != 1 ||
      EVP_PKEY_derive(ctx.get(), out.data(), &out_len) != 1 || out_len != length) {
    throw Spake2Error("HKDF-SHA256 failed");
  }
  return out;
}

struct Spake2::Impl {
  std::unique_ptr<EC_GROUP, GroupDeleter> group{EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1)};
  std::unique_ptr<BN_CTX, CtxDeleter> ctx{BN_CTX_secure_new()};
  Bn w{BN_secure_new()}, scalar{BN_secure_new()};
  Point m, n;
  Bytes w_bytes;  // w as 32 big-endian bytes, for the transcript

  Point point_from(const uint8_t* data, size_t size) {
    Point p(EC_POINT_new(group.get()));
    if (!p || EC_POINT_oct2point(group.get(), p.get(), data, size, ctx.get()) != 1 ||
        EC_POINT_is_at_infinity(group.get(), p.get()) || EC_POINT_is_on_curve(group.get(), p.get(), ctx.get()) != 1) {
      throw Spake2Error("the peer's key share is not a point of P-256");
    }
    return p;
  }
  Bytes encode(const EC_POINT* p) {
    Bytes out(kSpake2ShareBytes);
    if (EC_POINT_point2oct(group.get(), p, POINT_CONVERSION_UNCOMPRESSED, out.data(), out.size(), ctx.get()) !=
        kSpake2ShareBytes) {
      throw Spake2Error("SPAKE2: encoding a point failed");
    }
    return out;
  }
};

Spake2::Spake2(Side side, std::string_view secret, const Bytes& scalar) : impl_(std::make_unique<Impl>()), side_(side) {
  Impl& I = *impl_;
  if (!I.group || !I.ctx || !I.w || !I.scalar) throw Spake2Error("SPAKE2: out of memory");
  const BIGNUM* order = EC_GROUP_get0_order(I.group.get());
  I.m = I.point_from(kM, sizeof(kM));
  I.n = I.point_from(kN, sizeof(kN));

  // w = SHA-512(context || secret) mod order: 512 bits reduced mod a 256-bit order, so
  // the bias is negligible. No memory-hard function: nothing an attacker can observe
  // lets it test a guess offline, and nothing stores w.
  Bytes input;
  append_with_length(input, std::string_view("baton SPAKE2 P-256 w"));
  append_with_length(input, secret);
  uint8_t digest[SHA512_DIGEST_LENGTH];
  SHA512(input.data(), input.size(), digest);
  OPENSSL_cleanse(input.data(), input.size());
  Bn wide(BN_bin2bn(digest, sizeof(digest), nullptr));
  OPENSSL_cleanse(digest, sizeof(digest));
  check(wide != nullptr, "reading w");
  check(BN_nnmod(I.w.get(), wide.get(), order, I.ctx.get()), "reducing w");
  I.w_bytes.assign(32, 0);
  check(BN_bn2binpad(I.w.get(), I.w_bytes.data(), 32) == 32, "encoding w");

  if (scalar.empty()) {
    do {
      check(BN_priv_rand_range(I.scalar.get(), order), "drawing a scalar");
    } while (BN_is_zero(I.scalar.get()));
  } else {
    check(BN_bin2bn(scalar.data(), static_cast<int>(scalar.size()), I.scalar.get()) != nullptr, "reading the scalar");
    check(BN_nnmod(I.scalar.get(), I.scalar.get(), order, I.ctx.get()), "reducing the scalar");
  }
  // share = scalar*P + w*(M for A, N for B)
  Point share(EC_POINT_new(I.group.get()));
  check(share != nullptr, "allocating a point");
  check(EC_POINT_mul(I.group.get(), share.get(), I.scalar.get(), side == Side::A ? I.m.get() : I.n.get(), I.w.get(),
                     I.ctx.get()),
        "computing the share");
  share_ = I.encode(share.get());
}

Spake2::~Spake2() = default;

Spake2Result Spake2::finish(const Bytes& peer_share, std::string_view id_a, std::string_view id_b,
                            std::string_view aad) {
  Impl& I = *impl_;
  if (peer_share.size() != kSpake2ShareBytes) throw Spake2Error("the peer's key share has the wrong length");
  Point peer = I.point_from(peer_share.data(), peer_share.size());
  // K = scalar * (peer - w*(N for A, M for B))   (cofactor 1 on P-256)
  Point blind(EC_POINT_new(I.group.get())), k(EC_POINT_new(I.group.get()));
  check(blind && k ? 1 : 0, "allocating a point");
  check(EC_POINT_mul(I.group.get(), blind.get(), nullptr, side_ == Side::A ? I.n.get() : I.m.get(), I.w.get(),
                     I.ctx.get()),
        "unblinding");
  check(EC_POINT_invert(I.group.get(), blind.get(), I.ctx.get()), "unblinding");
  check(EC_POINT_add(I.group.get(), peer.get(), peer.get(), blind.get(), I.ctx.get()), "unblinding");
  if (EC_POINT_is_at_infinity(I.group.get(), peer.get())) throw Spake2Error("the peer's key share is degenerate");
  check(EC_POINT_mul(I.group.get(), k.get(), nullptr, peer.get(), I.scalar.get(), I.ctx.get()), "computing K");
  if (EC_POINT_is_at_infinity(I.group.get(), k.get())) throw Spake2Error("the peer's key share is degenerate");

  const Bytes& pa = side_ == Side::A ? share_ : peer_share;
  const Bytes& pb = side_ == Side::A ? peer_share : share_;
  Bytes tt;
  append_with_length(tt, id_a);
  append_with_length(tt, id_b);
  append_with_length(tt, pa);
  append_with_length(tt, pb);
  Bytes k_bytes = I.encode(k.get());
  append_with_length(tt, k_bytes);
  append_with_length(tt, I.w_bytes);
  OPENSSL_cleanse(k_bytes.data(), k_bytes.size());

  Spake2Result r;
  r.transcript_hash.resize(SHA256_DIGEST_LENGTH);
  SHA256(tt.data(), tt.size(), r.transcript_hash.data());
  // Hash(TT) = Ke || Ka; KcA || KcB = KDF(Ka, "ConfirmationKeys" || AAD)
  r.session_key.assign(r.transcript_hash.begin(), r.transcript_hash.begin() + 16);
  const Bytes ka(r.transcript_hash.begin() + 16, r.transcript_hash.end());
  const Bytes kc = hkdf_sha256(ka, {}, "ConfirmationKeys" + std::string(aad), 32);
  const Bytes kca(kc.begin(), kc.begin() + 16), kcb(kc.begin() + 16, kc.end());
  const Bytes ca = hmac_sha256(kca, tt), cb = hmac_sha256(kcb, tt);
  OPENSSL_cleanse(tt.data(), tt.size());
  r.my_confirmation = side_ == Side::A ? ca : cb;
  r.peer_confirmation = side_ == Side::A ? cb : ca;
  // Traffic keys take Ke as key material and the hash of the public transcript as salt.
  Bytes public_transcript;
  append_with_length(public_transcript, id_a);
  append_with_length(public_transcript, id_b);
  append_with_length(public_transcript, pa);
  append_with_length(public_transcript, pb);
  r.transcript_hash.assign(SHA256_DIGEST_LENGTH, 0);
  SHA256(public_transcript.data(), public_transcript.size(), r.transcript_hash.data());
  return r;
}

}  // namespace baton
