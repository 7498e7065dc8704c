// SHA-1 and HMAC-SHA1 in plain JavaScript, for pages without Web Crypto.
// crypto.subtle exists only in secure contexts (https, localhost); a console
// opened over plain http at a LAN address signs its COS requests with these
// (NOTES-ON-ISSUES 15). Inputs and outputs are Uint8Arrays.
(function (root) {
  'use strict';

  function rotl(x, n) {
    return (x << n) | (x >>> (32 - n));
  }

  function sha1(bytes) {
    var len = bytes.length;
    // Message + 0x80 + zero padding + 64-bit big-endian bit length.
    var total = ((len + 9 + 63) >> 6) << 6;
    var m = new Uint8Array(total);
    m.set(bytes);
    m[len] = 0x80;
    var bits = len * 8;
    var dv = new DataView(m.buffer);
    dv.setUint32(total - 8, Math.floor(bits / 0x100000000));
    dv.setUint32(total - 4, bits >>> 0);
    var h0 = 0x67452301, h1 = 0xefcdab89, h2 = 0x98badcfe, h3 = 0x10325476, h4 = 0xc3d2e1f0;
    var w = new Int32Array(80);
    for (var off = 0; off < total; off += 64) {
      for (var i = 0; i < 16; i++) w[i] = dv.getInt32(off + i * 4);
      for (i = 16; i < 80; i++) w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
      var a = h0, b = h1, c = h2, d = h3, e = h4, f, k, t;
      for (i = 0; i < 80; i++) {
        if (i < 20) { f = (b & c) | (~b & d); k = 0x5a827999; }
        else if (i < 40) { f = b ^ c ^ d; k = 0x6ed9eba1; }
        else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8f1bbcdc; }
        else { f = b ^ c ^ d; k = 0xca62c1d6; }
        t = (rotl(a, 5) + f + e + k + w[i]) | 0;
        e = d; d = c; c = rotl(b, 30); b = a; a = t;
      }
      h0 = (h0 + a) | 0; h1 = (h1 + b) | 0; h2 = (h2 + c) | 0; h3 = (h3 + d) | 0; h4 = (h4 + e) | 0;
    }
    var out = new Uint8Array(20);
    var ov = new DataView(out.buffer);
    ov.setInt32(0, h0); ov.setInt32(4, h1); ov.setInt32(8, h2); ov.setInt32(12, h3); ov.setInt32(16, h4);
    return out;
  }

  function hmacSha1(key, msg) {
    if (key.length > 64) key = sha1(key);
    var ipad = new Uint8Array(64 + msg.length);
    var opad = new Uint8Array(64 + 20);
    for (var i = 0; i < 64; i++) {
      var k = i < key.length ? key[i] : 0;
      ipad[i] = k ^ 0x36;
      opad[i] = k ^ 0x5c;
    }
    ipad.set(msg, 64);
    opad.set(sha1(ipad), 64);
    return sha1(opad);
  }

  var api = { sha1: sha1, hmacSha1: hmacSha1 };
  if (typeof module === 'object' && module.exports) module.exports = api;
  root.LocalcosSha1 = api;
})(typeof self !== 'undefined' ? self : this);
